"""Alembic environment: runs on the connection handed over by roomkey.store.migrate.

There is no alembic.ini at runtime: ``migrate.py`` builds the Config and passes an open connection
in ``config.attributes["connection"]``. Offline mode (``--sql``) renders against the configured URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from roomkey.store.migrate import VERSION_TABLE
from roomkey.store.schema import metadata


def _run_online(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    _connection = context.config.attributes.get("connection")
    if not isinstance(_connection, Connection):
        raise RuntimeError("run roomkey migrations through roomkey.store.migrate, not alembic")
    _run_online(_connection)
