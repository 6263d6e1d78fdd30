"""The core imports nothing of the server, the storage or the CLI (docs/architecture.md, Layers)."""

import subprocess
import sys

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
