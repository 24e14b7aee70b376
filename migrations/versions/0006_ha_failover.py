"""ha failover: the start of an HA's unbroken run of heartbeats

``home_agents.beating_since`` is written with every heartbeat
(:func:`bootstrap.services.ha_watch.heartbeat`): kept while the beats come
closer than ``[ha] failure_timeout``, reset to the beat's time after a gap.
The store's watchers set a ``failed`` HA ``active`` again only once it has
beaten for ``[ha] recovery_time`` (no flapping).  The new HA state
``failed`` needs no schema change: ``state`` is a plain string column.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "home_agents", sa.Column("beating_since", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE home_agents SET beating_since = last_heartbeat")


def downgrade() -> None:
    op.execute("UPDATE home_agents SET state = 'down' WHERE state = 'failed'")
    with op.batch_alter_table("home_agents") as batch:
        batch.drop_column("beating_since")
