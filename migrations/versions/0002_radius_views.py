"""radius views: what FreeRADIUS' rlm_sql reads in radius mode

Two read-only views over the subscriber store (PostgreSQL only; SQLite stores
cannot be reached by FreeRADIUS and get nothing).  rlm_sql's column contract
is ``id, username, attribute, value, op``; ``home_agent_id`` lets each HA's
FreeRADIUS accept only the subscribers assigned to it (an id, not the FQDN:
no join, so each per-login query plans and runs in a fraction of a ms).  Only *active*
subscribers appear, so suspended, revoked and unknown identities find no
row and get Access-Reject; a changed row is seen at the next login.

* ``radius_check`` (read for every Access-Request of an EAP conversation):
  ``NT-Password := 0x<hex>`` for secret subscribers (0x-prefixed, or
  FreeRADIUS 3.2.1's rlm_sql takes it as 32 literal bytes and MSCHAPv2
  fails) and ``EAP-Type := MSCHAPv2 | TLS`` pinning the method (exactly these
  value names: ``MS-CHAP-V2`` is unknown to 3.2.1 and fails every login).
* ``radius_reply`` (read in post-auth only, so no address leaks in an
  Access-Challenge): ``Framed-IPv6-Address`` / ``Framed-IP-Address``,
  which charon turns into INTERNAL_IP6_ADDRESS / INTERNAL_IP4_ADDRESS.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK_VIEW = """
CREATE VIEW radius_check AS
    SELECT s.id, s.identity AS username, s.home_agent_id,
           'NT-Password'::text AS attribute, ('0x' || lower(s.nt_hash))::text AS value,
           ':='::text AS op
      FROM subscribers s
     WHERE s.state = 'active' AND s.auth = 'eap' AND s.nt_hash IS NOT NULL
    UNION ALL
    SELECT s.id, s.identity, s.home_agent_id, 'EAP-Type'::text,
           (CASE s.auth WHEN 'eap' THEN 'MSCHAPv2' ELSE 'TLS' END)::text, ':='::text
      FROM subscribers s
     WHERE s.state = 'active' AND (s.auth <> 'eap' OR s.nt_hash IS NOT NULL)
"""

REPLY_VIEW = """
CREATE VIEW radius_reply AS
    SELECT s.id, s.identity AS username, s.home_agent_id,
           (CASE a.family WHEN 6 THEN 'Framed-IPv6-Address'
                          ELSE 'Framed-IP-Address' END)::text AS attribute,
           a.address::text AS value, ':='::text AS op
      FROM subscribers s
      JOIN home_addresses a ON a.subscriber_id = s.id AND a.released_at IS NULL
     WHERE s.state = 'active'
"""


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgresql():
        op.execute(CHECK_VIEW)
        op.execute(REPLY_VIEW)


def downgrade() -> None:
    if _postgresql():
        op.execute("DROP VIEW IF EXISTS radius_reply")
        op.execute("DROP VIEW IF EXISTS radius_check")
