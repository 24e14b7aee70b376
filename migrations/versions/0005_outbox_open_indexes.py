"""outbox open indexes: the DNS outbox rows not yet done, indexed apart from the history

Done rows stay in ``dns_outbox`` (they tell the publisher which RRsets it
published), so after a bulk import of 100,000 subscribers the table holds
hundreds of thousands of rows of which a few are pending.  Two partial
indexes keep the reads that only care about pending rows proportional to
them: the publisher's claim (pending rows in id order), and the dashboard's
depth, oldest pending row, failing count and last error.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "done_at IS NULL"
FAILING = "done_at IS NULL AND attempts > 0"


def upgrade() -> None:
    for name, where in (("ix_dns_outbox_open", OPEN), ("ix_dns_outbox_failing", FAILING)):
        op.create_index(
            name,
            "dns_outbox",
            ["id"],
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )


def downgrade() -> None:
    op.drop_index("ix_dns_outbox_failing", table_name="dns_outbox")
    op.drop_index("ix_dns_outbox_open", table_name="dns_outbox")
