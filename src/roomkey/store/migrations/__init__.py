"""Alembic migrations for the roomkey store, run by :mod:`roomkey.store.migrate`."""
