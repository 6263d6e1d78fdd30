"""Fixtures for the dashboard's in-process tests: a client signed in as the bootstrap admin."""

from __future__ import annotations

import httpx
import pytest
from dashboard_support import sign_in

from roomkey.service import Bootstrap


@pytest.fixture
async def admin(client: httpx.AsyncClient, boot: Bootstrap) -> httpx.AsyncClient:
    """The app's client, signed in with the bootstrap admin token."""
    answer = await sign_in(client, boot.admin_token)
    assert answer.status_code == 303, answer.text
    return client
