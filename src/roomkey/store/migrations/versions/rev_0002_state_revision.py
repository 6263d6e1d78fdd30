"""A revision number of the state that nodes keep in memory.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Every write to projects, keys, rooms, roles or revocations increments it in the same
transaction, so a node can tell with one cheap query whether it must reload anything.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the one-row table, at revision 0."""
    table = op.create_table(
        "state_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_state_revision"),
    )
    op.bulk_insert(table, [{"id": 1, "revision": 0}])


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("state_revision")
