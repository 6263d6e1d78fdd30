"""Loading every active revocation at once, on the driver's own connection (both dialects).

Jti rules come packed (``roomkey.revocation.pack_jti``, built here in SQL) as two columns of
text, so that a rule costs the driver two strings, which the garbage collector never tracks,
instead of a row of objects; PostgreSQL hands them over as two arrays per project. The other
kinds are few and come as rows.

On PostgreSQL the jti rules are read in two halves of the table (by physical position, ``ctid``,
so the halves cover every row exactly whatever the table's size estimate says) on two
connections that share one exported snapshot (``pg_export_snapshot``): both see the same
committed state, as one query would, while two server processes build the arrays.

Each loader also reads, in the same snapshot, the state revision and the schema version
(:class:`Marks`): a table loaded ahead of the service (:mod:`roomkey.store.preload`) says which
revision it reflects, so that the change feed applies exactly what came after it.
"""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

from roomkey.store.migrate import VERSION_TABLE
from roomkey.store.records import ActiveRevocations


class Marks(NamedTuple):
    """What a load's snapshot reflects: the state revision, and the schema version rows."""

    revision: int
    versions: list[str]


_ACTIVE = "lifted_at IS NULL AND expires_at > {mark}"
# the packed rule: a generated column (roomkey.store.schema.PACKED_RULE)
_PACKED = "packed"
_PG_WHERE = (
    f" FROM revocations WHERE kind = 'jti' AND {_ACTIVE.format(mark='$1')}"
    " AND ctid {side} $2::tid GROUP BY project_id"
)
_PG_JTI = f"SELECT project_id, array_agg(COALESCE(jti, '')), array_agg({_PACKED})" + _PG_WHERE
# the same two columns, each as one text joined by SEPARATOR, with the row count: the driver
# decodes two strings instead of two arrays of strings (split here, a third of the time); a
# column whose split does not give the row count (a value holding the separator) is read again
# with _PG_JTI
SEPARATOR = "\x01"
_PG_JTI_JOINED = (
    "SELECT project_id, count(*), string_agg(COALESCE(jti, ''), chr(1)),"
    f" string_agg({_PACKED}, chr(1))" + _PG_WHERE
)
_PG_PAGES = "SELECT relpages FROM pg_class WHERE oid = 'revocations'::regclass"
_REVISION = "SELECT revision FROM state_revision"
_VERSIONS = f"SELECT version_num FROM {VERSION_TABLE}"
# SQLite: one pass over the table in its own order (through the project index, each row is a
# jump elsewhere in the file: measured 5.6 s against 1.6 s for 1,000,000 rows)
_SQLITE_JTI = (
    f"SELECT COALESCE(jti, ''), {_PACKED} FROM revocations"
    f" WHERE kind = 'jti' AND {_ACTIVE.format(mark='?')}"
)
# the same as one text per column (the whole scan is one step of SQLite's, which runs without
# Python's lock, and the driver builds two strings instead of a row per rule)
_SQLITE_JTI_JOINED = (
    f"SELECT count(*), group_concat(COALESCE(jti, ''), char(1)), group_concat({_PACKED}, char(1))"
    f" FROM revocations WHERE kind = 'jti' AND {_ACTIVE.format(mark='?')}"
)
_SQLITE_JTI_BY_PROJECT = (
    f"SELECT project_id, COALESCE(jti, ''), {_PACKED} FROM revocations"
    f" WHERE kind = 'jti' AND {_ACTIVE.format(mark='?')}"
)
# the other kinds in roomkey.revocation.RULE_ROW order, then the project
_OTHERS = (
    "SELECT kind, COALESCE(CASE kind WHEN 'identity' THEN identity WHEN 'room' THEN room"
    " WHEN 'key' THEN kid ELSE CAST(COALESCE(issued_before, 0) AS TEXT) END, ''),"
    " created_at, CASE WHEN kind = 'identity' THEN room END, expires_at, reason, id,"
    " project_id FROM revocations WHERE kind <> 'jti' AND " + _ACTIVE
)


async def _load_postgres(
    conn: Any, second: Any, now: int, loaded: dict[str, ActiveRevocations]
) -> Marks:
    """Fill ``loaded`` over two asyncpg connections (see the module docstring)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        marks = Marks(
            int(await conn.fetchval(_REVISION) or 0),
            [row[0] for row in await conn.fetch(_VERSIONS)],
        )
        snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
        async with second.transaction(isolation="repeatable_read", readonly=True):
            # a snapshot id is PostgreSQL's own text (hex digits and dashes), and SET takes no
            # parameters
            await second.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            middle = ((await conn.fetchval(_PG_PAGES) or 0) // 2, 0)
            halves = await asyncio.gather(
                _fetch_joined(conn, "<", now, middle), _fetch_joined(second, ">=", now, middle)
            )
        others = await conn.fetch(_OTHERS.format(mark="$1"), now)
    for project_id, jtis, packed in (row for half in halves for row in half):
        held = loaded.setdefault(project_id, ActiveRevocations())
        held.jtis.extend(jtis)
        held.jti_rules.extend(packed)
    for row in others:
        loaded.setdefault(row[7], ActiveRevocations()).others.append(tuple(row)[:7])
    return marks


async def _fetch_joined(
    conn: Any, side: str, now: int, middle: tuple[int, int]
) -> list[tuple[str, list[str], list[str]]]:
    """(project, jtis, packed rules) of one side of the table, read with _PG_JTI_JOINED."""
    out = []
    for project_id, count, jtis, packed in await conn.fetch(
        _PG_JTI_JOINED.format(side=side), now, middle
    ):
        jti_column, rule_column = _split(count, jtis, packed)
        if not jti_column:  # a value holds the separator: read as arrays
            return [tuple(row) for row in await conn.fetch(_PG_JTI.format(side=side), now, middle)]
        out.append((project_id, jti_column, rule_column))
    return out


def _split(count: int, jtis: str, packed: str) -> tuple[list[str], list[str]]:
    """The two joined columns of ``count`` rows, split; ([], []) if either does not split into
    ``count`` values (one of them holds the separator)."""
    jti_column, rule_column = jtis.split(SEPARATOR), packed.split(SEPARATOR)
    if len(jti_column) != count or len(rule_column) != count:
        return [], []
    return jti_column, rule_column


async def _load_sqlite(conn: Any, now: int, loaded: dict[str, ActiveRevocations]) -> Marks:
    """Fill ``loaded`` over an aiosqlite connection (or one with its ``execute_fetchall``),
    inside a read transaction of the caller's when the marks must match the rules."""
    revision = await conn.execute_fetchall(_REVISION)
    marks = Marks(
        int(revision[0][0]) if revision else 0,
        [row[0] for row in await conn.execute_fetchall(_VERSIONS)],
    )
    projects = await conn.execute_fetchall("SELECT id FROM projects")
    if len(projects) == 1:  # the usual database: every row is the one project's
        [(count, jtis, packed)] = await conn.execute_fetchall(_SQLITE_JTI_JOINED, (now,))
        if count:
            jti_column, rule_column = _split(count, jtis, packed)
            if not jti_column:  # a value holds the separator: read as rows
                rows = await conn.execute_fetchall(_SQLITE_JTI, (now,))
                jti_column, rule_column = [row[0] for row in rows], [row[1] for row in rows]
            loaded[projects[0][0]] = ActiveRevocations(jti_column, rule_column)
    elif projects:
        for project_id, jti, packed in await conn.execute_fetchall(_SQLITE_JTI_BY_PROJECT, (now,)):
            held = loaded.setdefault(project_id, ActiveRevocations())
            held.jtis.append(jti)
            held.jti_rules.append(packed)
    for row in await conn.execute_fetchall(_OTHERS.format(mark="?"), (now,)):
        loaded.setdefault(row[7], ActiveRevocations()).others.append(row[:7])
    return marks
