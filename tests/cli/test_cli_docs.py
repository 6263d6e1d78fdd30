"""``docs/cli.md`` documents every command and every option: the doc cannot drift."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from roomkey.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _commands(command: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if not sub.hidden:
            yield from _commands(sub, f"{path} {name}")


def _section(text: str, heading: str) -> str:
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_every_command_has_a_section_listing_its_options() -> None:
    text = DOC.read_text()
    missing = []
    for path, command in _commands(typer.main.get_command(app), "roomkey"):
        heading = f"## `{path}`"
        if heading + "\n" not in text:
            missing.append(heading)
            continue
        section = _section(text, heading)
        for param in command.params:
            names = [o for o in param.opts if o.startswith("--")] or [param.name.upper()]
            missing += [f"{path} {n}" for n in names if f"`{n}" not in section]
    assert not missing, f"undocumented in docs/cli.md: {missing}"


def test_exit_codes_are_documented() -> None:
    text = DOC.read_text()
    for code in ("`0`", "`1`", "`2`"):
        assert code in text
