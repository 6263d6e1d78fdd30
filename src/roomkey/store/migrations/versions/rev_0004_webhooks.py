"""Webhooks: endpoints, the transactional outbox of events, and per-endpoint deliveries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    referred = target.split(".")[0]
    return sa.ForeignKey(target, name=f"fk_{table}_{column}_{referred}", ondelete="CASCADE")


def upgrade() -> None:
    """Create the three tables and their indexes."""
    _create_endpoints()
    _create_events()
    _create_deliveries()


def _create_endpoints() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column(
            "project_id",
            sa.Text(),
            _fk("webhook_endpoints", "project_id", "projects.id"),
            nullable=False,
        ),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("allow_private", sa.Boolean(), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("previous_secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("previous_expires_at", sa.BigInteger(), nullable=True),
        sa.Column("livekit_key", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
    )
    op.create_index("ix_webhook_endpoints_project_id", "webhook_endpoints", ["project_id"])


def _create_events() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("seq", _SERIAL, nullable=False, autoincrement=True),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column(
            "project_id",
            sa.Text(),
            _fk("webhook_events", "project_id", "projects.id"),
            nullable=False,
        ),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_webhook_events"),
        sa.UniqueConstraint("id", name="uq_webhook_events_id"),
    )
    op.create_index("ix_webhook_events_created_at", "webhook_events", ["created_at"])


def _create_deliveries() -> None:
    table = "webhook_deliveries"
    op.create_table(
        table,
        sa.Column("id", _SERIAL, nullable=False, autoincrement=True),
        sa.Column(
            "event_seq",
            sa.BigInteger(),
            _fk(table, "event_seq", "webhook_events.seq"),
            nullable=False,
        ),
        sa.Column(
            "endpoint_id",
            sa.Text(),
            _fk(table, "endpoint_id", "webhook_endpoints.id"),
            nullable=False,
        ),
        sa.Column("project_id", sa.Text(), _fk(table, "project_id", "projects.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Double(), nullable=False),
        sa.Column("lease_until", sa.Double(), nullable=True),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_attempt_at", sa.Double(), nullable=True),
        sa.Column("delivered_at", sa.Double(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
    )
    op.create_index("ix_webhook_deliveries_endpoint", table, ["endpoint_id", "status", "id"])
    op.create_index("ix_webhook_deliveries_due", table, ["status", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_project", table, ["project_id", "id"])
    op.create_index("ix_webhook_deliveries_event_seq", table, ["event_seq"])


def downgrade() -> None:
    """Drop the tables (loses every endpoint, event and delivery)."""
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("webhook_endpoints")
