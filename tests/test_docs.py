"""Reference docs are generated from, or checked against, the real code."""

import subprocess
from pathlib import Path

from roomkey.api.docs import render
from roomkey.service import ServerSettings

ROOT = Path(__file__).resolve().parents[1]


def test_api_reference_matches_the_app() -> None:
    committed = (ROOT / "docs" / "api.md").read_text()
    assert committed == render(), "regenerate: python -m roomkey.api.docs > docs/api.md"


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    for name, field in ServerSettings.model_fields.items():
        assert field.description, f"setting {name} has no description"
        assert f"`ROOMKEY_{name.upper()}`" in text


# What the repository may not cite: the steering notes outside it. Built from parts, so that this
# file does not match itself.
FOREIGN_CITATIONS = ("DESIGN" + " §", "DESIGN" + ".md", "../" + "shared", "/work/" + "shared")


def _repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_nothing_cites_documents_outside_the_repository() -> None:
    files = _repository_files()
    assert any(f.name == "README.md" for f in files)  # the listing found the repository
    cited = [
        f"{path.relative_to(ROOT)}: {needle}"
        for path in files
        for needle in FOREIGN_CITATIONS
        if needle in path.read_text(errors="replace")
    ]
    assert cited == [], "cite docs/ (e.g. docs/architecture.md) instead"
