"""Bans: an identity refused admission to a room and new tokens for it, until lifted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Room locks need no migration: ``rooms.locked`` exists since the first release.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_LIVE = sa.text("lifted_at IS NULL")


def upgrade() -> None:
    """Create the table and its partial unique index (one live ban per room and identity)."""
    op.create_table(
        "bans",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column(
            "project_id",
            sa.Text(),
            sa.ForeignKey("projects.id", name="fk_bans_project_id_projects", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("room", sa.Text(), nullable=False),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("lifted_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_bans"),
    )
    op.create_index(
        "uq_bans_live",
        "bans",
        ["project_id", "room", "identity"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )


def downgrade() -> None:
    """Drop the table (loses every ban)."""
    op.drop_table("bans")
