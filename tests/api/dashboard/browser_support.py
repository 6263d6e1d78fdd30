"""Browser tests' plumbing: Debian's chromium driven by Playwright, a real ``roomkey serve``.

Never a downloaded browser build: the tests use ``/usr/bin/chromium`` (Debian's ``chromium``
package, which ``make install-browser`` installs). Without it they skip with a message, except
under ``CI=true``, where a missing browser is a failure, as a missing database is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from roomkey.client import RoomClient

with contextlib.suppress(ImportError):  # require_chromium() says what is missing
    from playwright.sync_api import Browser, BrowserContext, Page, expect

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "e2e"))

from e2e_support import Banner, Server, free_port

CHROMIUM = os.environ.get("ROOMKEY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_SHOTS = Path(__file__).resolve().parents[3] / "docs" / "dashboard"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DESKTOP",
    "PHONE",
    "Banner",
    "Guest",
    "Server",
    "api",
    "attacker_site",
    "context_for",
    "page_problems",
    "require_chromium",
    "screenshot_dir",
    "server_token",
    "sign_in",
]


def require_chromium() -> str:
    """The chromium binary; skips (fails under CI=true) when it or Playwright is missing."""
    problem = None
    if shutil.which(CHROMIUM) is None:
        problem = (
            f"Debian's chromium is not installed at {CHROMIUM} "
            "(apt-get install -y chromium, or make install-browser)"
        )
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Playwright for Python is not installed (pip install -e '.[dev]')"
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests need {problem}")
        pytest.skip(problem)
    return CHROMIUM


def screenshot_dir(tmp: Path) -> Path:
    """Where screenshots go: docs/dashboard/ with ROOMKEY_UPDATE_SCREENSHOTS=1, else ``tmp``
    (every run takes them; only a deliberate one rewrites the committed pictures)."""
    if os.environ.get("ROOMKEY_UPDATE_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SHOTS
    return tmp


@contextmanager
def attacker_site(target: str) -> Iterator[str]:
    """Another origin (a port of its own) whose page auto-submits a form to ``target``."""
    page = f"""<!doctype html><html lang="en"><head><title>prize</title></head><body>
<form id="f" method="post" action="{target}">
<input name="purpose" value="api"><input name="description" value="stolen">
<input name="csrf" value="{"0" * 64}"></form>
<script>document.getElementById("f").submit();</script></body></html>""".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def api(server: Server, banner: Banner) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {banner.admin_token}"},
        timeout=10.0,
    )


def server_token(server: Server, banner: Banner, *capabilities: str) -> str:
    """A server token holding ``capabilities`` only (minted through the API)."""
    body = {
        "identity": "limited",
        "permissions": {"scope": ["api"], "capabilities": list(capabilities)},
        "ttl_s": 3600,
    }
    with api(server, banner) as client:
        answer = client.post("/v1/tokens", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def context_for(browser: Browser, **options: Any) -> BrowserContext:
    return browser.new_context(viewport=options.pop("viewport", DESKTOP), **options)


def sign_in(page: Page, server: Server, token: str) -> None:
    """Sign in with the pasted-token form, by keyboard."""
    page.goto(f"{server.url}/dashboard/sign-in")
    field = page.get_by_role("textbox", name="Server token")
    field.focus()
    page.keyboard.insert_text(token)
    page.keyboard.press("Tab")  # the help text is not focusable: the next stop is the button
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/dashboard")


class Guest:
    """A participant driven by roomkey's Python client in a thread of its own."""

    def __init__(self, url: str, room: str, token: str) -> None:
        self.url, self.room, self.token = url, room, token
        self.joined = threading.Event()
        self.status: str | None = None
        self.admitted: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.thread.start()

    async def _run(self) -> None:
        try:
            async with RoomClient(self.url) as client:
                joined = await client.join(self.room, self.token)
                self.status = joined.status
                self.joined.set()
                self.admitted = await client.wait_admitted(timeout_s=30)
        except BaseException as exc:  # reported by the test
            self.error = exc
            self.joined.set()


def page_problems(page: Page, label: str) -> dict[str, Any]:
    """What a page gets wrong: sideways scrolling, and axe's serious or critical findings."""
    from axe_playwright_python.sync_playwright import Axe

    problems: dict[str, Any] = {}
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if overflow > 1:
        problems[label] = f"{overflow}px wider than the window"
    report = Axe().run(page).response
    assert report["passes"], "axe ran no rule"
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in report["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    if serious:
        problems[f"{label} axe"] = serious
    return problems
