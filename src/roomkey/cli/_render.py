"""Human-readable (rich) output of ``roomkey token inspect``.

Every value taken from a token is shown as plain text (never as rich markup): a token is
untrusted input and could otherwise restyle or hide parts of the report.
"""

from __future__ import annotations

from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from roomkey.inspecting import Check, Inspection

_STATUS_STYLE = {"passed": ("✓", "green"), "failed": ("✗", "red"), "skipped": ("-", "dim")}
_CLAIM_ROWS = (
    ("api_key", "API key (issuer)"),
    ("identity", "identity"),
    ("room", "room"),
    ("role", "role"),
    ("name", "name"),
    ("metadata", "metadata"),
    ("attributes", "attributes"),
    ("jti", "token id (jti)"),
    ("audience", "audience"),
    ("kind", "kind"),
    ("room_config", "room config"),
)


def render_inspection(report: Inspection, console: Console | None = None) -> None:
    """Print the report: format, header, claims, times, grant, warnings, checks, verdict."""
    out = console or Console(highlight=False, soft_wrap=True)
    out.print(_pairs("token", [("format", report.dialect or "unknown")]))
    if report.header is not None:
        out.print(_pairs("header", [(k, _text(v)) for k, v in report.header.items()]))
    claims = report.claims.to_dict() if report.claims is not None else None
    if claims is not None:
        rows = [(label, _text(claims[k])) for k, label in _CLAIM_ROWS if _shown(claims.get(k))]
        out.print(_pairs("claims", rows + list(report.times.items())))
        out.print(_pairs("grant", [(k, _text(v)) for k, v in claims["grant"].items()]))
    elif report.payload is not None:
        out.print(_pairs("payload", [(k, _text(v)) for k, v in report.payload.items()]))
    for warning in report.warnings:
        out.print(Text.assemble(("warning: ", "yellow"), warning))
    if report.checks:
        out.print(_checks(report.checks))
    out.print(_verdict(report))


def _shown(value: Any) -> bool:
    return value is not None and value != {}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _pairs(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(Text(key), Text(value))
    return table


def _checks(checks: list[Check]) -> Table:
    table = Table(title="checks", title_justify="left", show_header=False, box=None)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for check in checks:
        mark, style = _STATUS_STYLE.get(check.status, ("?", ""))
        detail = f"{check.detail} [{check.code}]" if check.code else check.detail
        table.add_row(Text(f"{mark} {check.status}", style), Text(check.step), Text(detail))
    return table


def _verdict(report: Inspection) -> Text:
    if report.error is not None:
        return Text(f"cannot decode: {report.error}", "red")
    if report.valid is None:
        return Text("decoded only: nothing was verified (give keys to run the checks)", "dim")
    if report.valid:
        return Text("valid: every check passed", "green")
    return Text("invalid: a check failed", "red")


__all__ = ["render_inspection"]
