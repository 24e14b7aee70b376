"""bundle issued: the one-time MN bundle download as a guarded column

``subscribers.bundle_issued_at`` is set by the one guarded UPDATE of
:func:`bootstrap.services.bundle.issue_once` (``... WHERE bundle_issued_at IS
NULL``): two concurrent downloads cannot both succeed, whichever face (web
page, REST API, ``bootstrapctl export``) asks.  Stores that recorded
downloads in the audit log only (action ``subscriber.bundle``) keep them:
the upgrade copies the first such entry's time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
UPDATE subscribers SET bundle_issued_at = (
    SELECT min(a.at) FROM audit_log a
     WHERE a.action = 'subscriber.bundle' AND a.target = subscribers.identity
)
WHERE bundle_issued_at IS NULL
"""


def upgrade() -> None:
    op.add_column(
        "subscribers", sa.Column("bundle_issued_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("bundle_issued_at")
