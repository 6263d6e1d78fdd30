"""Loading every active revocation at once, on the driver's own connection (both dialects).

Jti rules come packed (``roomkey.revocation.pack_jti``, built here in SQL) as two columns of
text, so that a rule costs the driver two strings, which the garbage collector never tracks,
instead of a row of objects; PostgreSQL hands them over as two arrays per project. The other
kinds are few and come as rows.

On PostgreSQL the jti rules are read in two halves of the table (by physical position, ``ctid``,
so the halves cover every row exactly whatever the table's size estimate says) on two
connections that share one exported snapshot (``pg_export_snapshot``): both see the same
committed state, as one query would, while two server processes build the arrays.
"""

from __future__ import annotations

import asyncio
from typing import Any

from roomkey.revocation import packed_age
from roomkey.store.records import ActiveRevocations

_ACTIVE = "lifted_at IS NULL AND expires_at > {mark}"
_PACKED = (
    "CAST(created_at AS TEXT) || ',' || CAST(expires_at AS TEXT) || ','"
    " || CAST(length(id) AS TEXT) || ',' || id || ',' || reason"
)
_PG_JTI = (
    f"SELECT project_id, array_agg(COALESCE(jti, '')), array_agg({_PACKED}) FROM revocations"
    f" WHERE kind = 'jti' AND {_ACTIVE.format(mark='$1')} AND ctid {{side}} $2::tid"
    " GROUP BY project_id"
)
_PG_PAGES = "SELECT relpages FROM pg_class WHERE oid = 'revocations'::regclass"
# SQLite: one pass over the table in its own order (through the project index, each row is a
# jump elsewhere in the file: measured 5.6 s against 1.6 s for 1,000,000 rows)
_SQLITE_JTI = (
    f"SELECT COALESCE(jti, ''), {_PACKED} FROM revocations"
    f" WHERE kind = 'jti' AND {_ACTIVE.format(mark='?')}"
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
) -> None:
    """Fill ``loaded`` over two asyncpg connections (see the module docstring)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
        async with second.transaction(isolation="repeatable_read", readonly=True):
            # a snapshot id is PostgreSQL's own text (hex digits and dashes), and SET takes no
            # parameters
            await second.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            middle = ((await conn.fetchval(_PG_PAGES) or 0) // 2, 0)
            halves = await asyncio.gather(
                conn.fetch(_PG_JTI.format(side="<"), now, middle),
                second.fetch(_PG_JTI.format(side=">="), now, middle),
            )
            others = await conn.fetch(_OTHERS.format(mark="$1"), now)
    columns: dict[str, tuple[list[str], list[str]]] = {}
    for project_id, jtis, packed in (*halves[0], *halves[1]):
        held = columns.setdefault(project_id, ([], []))
        held[0].extend(jtis)
        held[1].extend(packed)
    for project_id, (jtis, packed) in columns.items():
        loaded[project_id] = ActiveRevocations(jti=_latest(jtis, packed))
    for row in others:
        loaded.setdefault(row[7], ActiveRevocations()).others.append(tuple(row)[:7])


async def _load_sqlite(conn: Any, now: int, loaded: dict[str, ActiveRevocations]) -> None:
    """Fill ``loaded`` over an aiosqlite connection."""
    projects = await conn.execute_fetchall("SELECT id FROM projects")
    if len(projects) == 1:  # the usual database: every row is the one project's
        rows = await conn.execute_fetchall(_SQLITE_JTI, (now,))
        if rows:
            loaded[projects[0][0]] = ActiveRevocations(jti=_pairs(rows))
    elif projects:
        columns: dict[str, tuple[list[str], list[str]]] = {}
        for project_id, jti, packed in await conn.execute_fetchall(_SQLITE_JTI_BY_PROJECT, (now,)):
            held = columns.setdefault(project_id, ([], []))
            held[0].append(jti)
            held[1].append(packed)
        for project_id, (jtis, packed_rules) in columns.items():
            loaded[project_id] = ActiveRevocations(jti=_latest(jtis, packed_rules))
    for row in await conn.execute_fetchall(_OTHERS.format(mark="?"), (now,)):
        loaded.setdefault(row[7], ActiveRevocations()).others.append(row[:7])


def _pairs(rows: list[tuple[str, str]]) -> dict[str, str]:
    table = dict(rows)
    if len(table) == len(rows):
        return table
    return _latest([r[0] for r in rows], [r[1] for r in rows])


def _latest(jtis: list[str], packed: list[str]) -> dict[str, str]:
    """jti -> packed rule; of two rules for one jti (rare), the latest."""
    table = dict(zip(jtis, packed, strict=True))
    if len(table) == len(jtis):
        return table
    for jti, rule in zip(jtis, packed, strict=True):
        if packed_age(rule) > packed_age(table[jti]):
            table[jti] = rule
    return table
