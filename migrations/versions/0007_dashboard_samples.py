"""dashboard samples: the time series of the operator dashboard, and two read indexes

* ``stat_samples``: one row per (time, metric, key) written by the web face's
  sampler every few minutes (live bindings, DNS outbox depth and oldest age,
  each HA's load and capacity) and pruned after a few weeks, so the
  dashboard draws its charts from the store alone.
* ``ix_subscribers_created_at``: enrollments per day are counted over a
  date range, not the whole table.
* ``ix_audit_log_target``: the audit page's target filter and the links from
  a subscriber or HA page to its entries.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stat_samples",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=253), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_samples")),
    )
    op.create_index("ix_stat_samples_metric_at", "stat_samples", ["metric", "at"])
    op.create_index(op.f("ix_subscribers_created_at"), "subscribers", ["created_at"])
    op.create_index(op.f("ix_audit_log_target"), "audit_log", ["target"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_target"), table_name="audit_log")
    op.drop_index(op.f("ix_subscribers_created_at"), table_name="subscribers")
    op.drop_index("ix_stat_samples_metric_at", table_name="stat_samples")
    op.drop_table("stat_samples")
