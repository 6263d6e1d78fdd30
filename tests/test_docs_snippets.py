"""Every shell and Python snippet in README.md and docs/*.md runs as written, in order.

Each document gets its own real ``roomkey serve`` (a free port, a fresh data directory) and a
working directory laid out like a checkout after ``make run``: ``.venv`` (a link to the
environment running the tests) and ``.roomkey`` (the server's data directory, with the first
start's credentials file). The fenced ``bash``, ``sh`` and ``python`` blocks then run one after
the other, and shell variables set by one block reach the next, as in one terminal session.
``curl`` fails on an HTTP error status, so a snippet whose call is refused fails too.

A block that cannot run (it starts a server, installs, or holds placeholders) says so where a
reader sees it: an HTML comment ``<!-- not-run: why -->`` on the line right before its fence.
Any other fenced language (``console`` transcripts, ``json``, ``text``) is shown, not run. New
documents in docs/ are picked up without a change here.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = {"bash": "shell", "sh": "shell", "python": "python"}
NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(?P<why>\S.*?)\s*-->$")
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
BLOCK_TIMEOUT_S = 60.0
START_TIMEOUT_S = 30.0
ROOMKEY = Path(sys.executable).with_name("roomkey")
SHELL_STATE = ".snippet-shell-state"
# After a block: every variable but the shell's own (those of a clean bash, except PATH), as
# `declare` lines that the next block sources.
SAVE_STATE = r"""for _rk_name in $(compgen -v); do
  case "$_rk_name" in PATH) ;; _rk_*|BASH*|FUNCNAME|PIPESTATUS|_|COMP_*) continue ;; *)
    if env -i bash -c 'compgen -v' | grep -qxF "$_rk_name"; then continue; fi ;;
  esac
  declare -p "$_rk_name"
done | grep -v '^declare -[^ ]*r'"""


@dataclass(frozen=True)
class Snippet:
    """One fenced block: where it is, its language, its text, and why it is not run (if so)."""

    document: Path
    line: int
    language: str
    code: str
    not_run: str | None

    def __str__(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line} ({self.language})"


def snippets(document: Path) -> list[Snippet]:
    """The fenced blocks of a runnable language in ``document``, in order."""
    lines = document.read_text().splitlines()
    found, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = _closing(lines, index, opening.group("fence"))
        language = (opening.group("info").split() or [""])[0].lower()
        if language in RUNNABLE:
            marker = NOT_RUN.match(lines[index - 1].strip()) if index else None
            code = "\n".join(lines[index + 1 : end]) + "\n"
            why = marker.group("why") if marker else None
            found.append(Snippet(document, index + 1, language, code, why))
        index = end + 1
    return found


def _closing(lines: list[str], start: int, fence: str) -> int:
    for index in range(start + 1, len(lines)):
        stripped = lines[index].strip()
        if len(stripped) >= len(fence) and set(stripped) == {fence[0]}:
            return index
    raise AssertionError(f"unclosed code fence at line {start + 1}")


# ---- the server and the session -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROOMKEY_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{ROOMKEY.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@contextmanager
def checkout_with_server(workdir: Path) -> Iterator[None]:
    """``workdir`` with ``.venv`` and a served ``.roomkey``, as after ``make run``."""
    (workdir / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    port, log = _free_port(), workdir / "server.log"
    argv = [str(ROOMKEY), "serve", "--port", str(port), "--data-dir", ".roomkey"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=workdir, env=_base_env(), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process, log)
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited:\n{log.read_text()}"
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # polling a child process for readiness, not a test-time sleep
    raise AssertionError(f"the server did not become healthy:\n{log.read_text()}")


class Session:
    """One terminal session over several blocks: shell variables carry from block to block."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.state = workdir / SHELL_STATE
        self.state.write_text("")
        self.env = _base_env()

    def run(self, snippet: Snippet) -> subprocess.CompletedProcess[str]:
        """Run one block; a shell block's variables (and exports) are kept for the next."""
        if RUNNABLE[snippet.language] == "python":
            argv, env = [sys.executable, "-c", snippet.code], self._exported()
        else:
            argv, env = ["bash", "-c", self._shell_script(snippet.code)], self.env
        return subprocess.run(
            argv,
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_S,
        )

    def _shell_script(self, code: str) -> str:
        state = shlex.quote(str(self.state))
        return f"""set -eo pipefail
. {state}
curl() {{ command curl --silent --show-error --fail-with-body "$@" && echo; }}
{code}
{SAVE_STATE} > {state}
"""

    def _exported(self) -> dict[str, str]:
        dump = subprocess.run(
            ["bash", "-c", f". {shlex.quote(str(self.state))}; env -0"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return dict(item.split("=", 1) for item in dump.split("\0") if "=" in item)


# ---- the tests ------------------------------------------------------------------------------


def _documents_with_snippets() -> list[Path]:
    return [d for d in DOCUMENTS if any(s.not_run is None for s in snippets(d))]


@pytest.mark.parametrize("document", _documents_with_snippets(), ids=lambda d: d.name)
def test_every_snippet_runs_as_written(document: Path, tmp_path: Path) -> None:
    if not (Path(sys.prefix) / "bin" / "activate").is_file():
        pytest.skip("the snippets activate .venv: run the tests from a virtual environment")
    with checkout_with_server(tmp_path):
        session = Session(tmp_path)
        for snippet in snippets(document):
            if snippet.not_run is not None:
                continue
            done = session.run(snippet)
            assert done.returncode == 0, (
                f"{snippet} failed ({done.returncode}):\n{snippet.code}\n"
                f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
            )


def test_most_snippets_run_and_every_exception_says_why() -> None:
    every = [s for d in DOCUMENTS for s in snippets(d)]
    skipped = [s for s in every if s.not_run is not None]
    assert all(s.not_run.strip() for s in skipped)
    ran = len(every) - len(skipped)
    assert ran >= 2 * len(skipped), f"{ran} snippets run, {len(skipped)} marked not-run"
    assert any(s.document.name == "README.md" and s.not_run is None for s in every)


def test_the_extractor_honours_markers_and_languages(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "intro\n\n<!-- not-run: starts a server -->\n```sh\nmake run\n```\n\n"
        "```bash\necho one\n```\n\n```console\n$ echo shown\n```\n\n"
        "````python\nprint('```')\n````\n"
    )
    found = snippets(doc)
    assert [(s.language, s.not_run, s.code) for s in found] == [
        ("sh", "starts a server", "make run\n"),
        ("bash", None, "echo one\n"),
        ("python", None, "print('```')\n"),
    ]
