"""Fixtures for the CLI tests: an Ed25519 key file made by ``roomkey keys generate``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import invoke


@pytest.fixture
def ed25519_pem(tmp_path: Path) -> Path:
    """A private Ed25519 key written by ``roomkey keys generate --alg EdDSA --out``."""
    path = tmp_path / "ed25519.pem"
    result = invoke(["keys", "generate", "--alg", "EdDSA", "--out", str(path)])
    assert result.exit_code == 0, result.stderr
    return path
