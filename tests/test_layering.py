"""Layers only point down: the core imports nothing of the server, the storage or the CLI, and
the server's edges (the API and the CLI) reach neither the storage nor the service's internals
(docs/architecture.md, Layers)."""

import ast
import subprocess
import sys
from pathlib import Path

FORBIDDEN = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "typer",
    "uvicorn",
    "pydantic",
    "roomkey.api",
    "roomkey.service",
    "roomkey.store",
    "roomkey.cli",
)


def test_importing_the_core_loads_no_web_database_or_cli_module() -> None:
    code = (
        "import sys, roomkey\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}"
        f" or any(m == f or m.startswith(f + '.') for f in {FORBIDDEN!r}))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ---- routes and commands parse, call the service, and shape the answer ------------------------

SRC = Path(__file__).resolve().parents[1] / "src" / "roomkey"
EDGES = ("api", "cli")
# the storage, and the service's shared context and in-memory state: the service's own business
INTERNAL = ("roomkey.store", "roomkey.service.context", "roomkey.service.state")


def _imported(node: ast.AST) -> list[str]:
    """The modules (or module attributes) an import statement names, type-only ones included."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        # ``from roomkey.service import state`` imports the module roomkey.service.state
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


def _is_internal(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in INTERNAL)


def _violations(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        internal = [name for name in _imported(node) if _is_internal(name)]
        if internal:
            found.append(f"line {node.lineno}: imports {internal[0]}")
        if isinstance(node, ast.Attribute) and node.attr == "ctx":
            found.append(f"line {node.lineno}: reaches into .ctx")
    return found


def test_the_api_and_the_cli_reach_no_storage_and_no_service_internals() -> None:
    modules = sorted(p for edge in EDGES for p in (SRC / edge).rglob("*.py"))
    assert len(modules) > 20
    problems = {str(p.relative_to(SRC)): found for p in modules if (found := _violations(p))}
    assert problems == {}, "call (or add) a method of the service instead"


def test_the_layering_check_sees_every_kind_of_reach(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from roomkey.store import RoomRecord\n"
        "import roomkey.store.sql\n"
        "from roomkey.service import state\n"
        "from roomkey.service.context import Context\n"
        "def f(service):\n"
        "    from roomkey.store.records import KeyRecord\n"
        "    return service.ctx.store\n"
    )
    assert [line.split(":")[0] for line in _violations(probe)] == [
        f"line {n}" for n in (1, 2, 3, 4, 6, 7)
    ]
    fine = tmp_path / "fine.py"
    fine.write_text(
        "from roomkey.service import RoomkeyService, ServerSettings\n"
        "from roomkey.service.rooms import RoomService\n"
        "def f(ctx):\n"
        "    return ctx.obj\n"
    )
    assert _violations(fine) == []
