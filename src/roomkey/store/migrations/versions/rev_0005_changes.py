"""The change feed: what each state revision changed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Every write that increments ``state_revision`` also writes one row here with the new revision,
in the same transaction: which project, what kind of thing (project, key, room, role,
revocation, ban) and which one. Nodes apply these rows in revision order.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the table (empty: a node that starts reads everything once, as before)."""
    op.create_table(
        "changes",
        sa.Column("rev", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("project_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("rev", name="pk_changes"),
    )


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("changes")
