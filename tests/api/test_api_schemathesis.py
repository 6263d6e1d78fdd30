"""Property-based run of schemathesis over the app's own /openapi.json.

Every operation gets ~25 generated requests (valid and invalid) with a real admin token; no
response may be a 5xx or break the documented schema (status, content type, body, headers).
The app runs its own lifespan (a real service on SQLite) on schemathesis's ASGI loop.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from api_support import make_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.python import asgi

from roomkey.api.app import create_app
from roomkey.service import RoomkeyService

DATA_DIR = Path(tempfile.gettempdir()) / f"roomkey-schemathesis-{uuid.uuid4().hex}"
# a body cap over the largest schema-valid body (413 itself is tested in test_api_errors.py)
APP = create_app(make_settings(DATA_DIR, max_body_bytes=1_048_576))
# Built from the app's own document without starting it; the first call starts its lifespan.
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP


@pytest.fixture(scope="module")
def admin_header() -> Iterator[dict[str, str]]:
    """Starts the app (bootstrapping a project) and yields its admin token; stops it after."""
    try:
        with asgi.get_client(APP) as started:
            assert started.get("/healthz").status_code == 200
        service: RoomkeyService = APP.state.service
        assert service.bootstrap is not None
        yield {"Authorization": f"Bearer {service.bootstrap.admin_token}"}
    finally:
        asgi.shutdown_lifespans()
        shutil.rmtree(DATA_DIR, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case: schemathesis.Case, admin_header: dict[str, str]) -> None:
    case.headers = {**(case.headers or {}), **admin_header}
    # Business rules the schema can't express (unknown role names, serialised metadata size,
    # default_ttl_s <= max_ttl_s, exactly one revocation target...) are 400s by design.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
