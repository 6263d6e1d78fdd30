"""Reference docs are generated from, or checked against, the real code."""

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
