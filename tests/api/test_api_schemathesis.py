"""Property-based run of schemathesis over the app's own /openapi.json, with every check.

Every operation, the state-changing ones included, gets generated requests (valid and invalid)
and every built-in check runs on each answer: no 5xx; status, content type, headers and body
as documented; invalid data refused; valid data accepted. One check is sharpened rather than
dropped: valid data may get a 400 only with the code of a rule the operation documents as one
its schema cannot state (roomkey.api.rules), and a metadata refusal only when the metadata
really is over the limit, measured here as the docs define it.

Each example runs with the admin token of a project that no earlier example could have locked
it out of: a project is retired after any example of an operation that could (disabling,
deleting or rotating a key, revoking, banning, changing the project's policy) answered 2xx, and
the next example gets a new one; a refused request changes nothing. Creating projects takes the
bootstrap project's token, which only the `create_project` examples get, and that operation
cannot lock anyone out. The app runs its own lifespan (a real service on SQLite, the default
body cap) on schemathesis's ASGI loop.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from api_support import make_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckContext, positive_data_acceptance
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.python import asgi

from roomkey.api.app import create_app
from roomkey.api.rules import excused
from roomkey.claims import MAX_METADATA_CHARS, text_length
from roomkey.minting import AccessToken
from roomkey.service import RoomkeyService

DATA_DIR = Path(tempfile.gettempdir()) / f"roomkey-schemathesis-{uuid.uuid4().hex}"
APP = create_app(make_settings(DATA_DIR))
# Built from the app's own document without starting it; the first call starts its lifespan.
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP

# The body field that carries the metadata, per operation that takes one.
METADATA_FIELDS = {
    "create_token": "metadata",
    "livekit_token": "participant_metadata",
    "sandbox_token": "participant_metadata",
    "create_room": "metadata",
}


# Operations whose success may leave a project unusable for the next example's credential:
# its key disabled, deleted or expiring (rotation), its tokens revoked (a revocation, or a ban
# with its revocation), its policy changed (rate limit, TTLs, sandbox...).
CAN_LOCK_OUT = frozenset(
    {
        "disable_key",
        "delete_key",
        "rotate_key",
        "create_revocation",
        "create_ban",
        "remove_participant",
        "update_project",
    }
)


@pytest.fixture(scope="module")
def bootstrap_header() -> Iterator[dict[str, str]]:
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


class Credentials:
    """The admin credential of the current project; a new project once it may be locked out."""

    def __init__(self, bootstrap_header: dict[str, str]) -> None:
        self.bootstrap_header = bootstrap_header
        self.header: dict[str, str] | None = None
        self.projects = 0

    def for_operation(self, operation: str) -> dict[str, str]:
        if operation == "create_project":
            return self.bootstrap_header
        if self.header is None:
            self.header = self._new_project_admin()
        return self.header

    def after(self, operation: str, status: int) -> None:
        if operation in CAN_LOCK_OUT and 200 <= status < 300:
            self.header = None

    def _new_project_admin(self) -> dict[str, str]:
        with asgi.get_client(APP) as client:
            created = client.post(
                "/v1/projects", json={"name": "example"}, headers=self.bootstrap_header
            )
        assert created.status_code == 201, created.text
        self.projects += 1
        project = created.json()
        token = (
            AccessToken(project["api_key"], project["api_secret"])
            .with_identity("admin")
            .with_scope("api")
            .with_permissions(capabilities=["admin"])
            .to_jwt()
        )
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def credentials(bootstrap_header: dict[str, str]) -> Credentials:
    return Credentials(bootstrap_header)


def _error(response: Any) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_code(response: Any) -> str | None:
    code = _error(response).get("error")
    return code if isinstance(code, str) else None


def documented_rules_only(ctx: CheckContext, response: Any, case: schemathesis.Case) -> None:
    """positive_data_acceptance, except a 400 of a rule the schema cannot state (its code and
    the field it names)."""
    try:
        positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        operation = case.operation.definition.raw["operationId"]
        error = _error(response)
        field = (error.get("details") or {}).get("field")
        if response.status_code != 400 or not excused(operation, _error_code(response), field):
            raise


def metadata_really_too_large(ctx: CheckContext, response: Any, case: schemathesis.Case) -> None:
    """A `metadata_too_large` refusal is for metadata over the limit as the docs measure it."""
    if response.status_code != 400 or _error_code(response) != "metadata_too_large":
        return
    details = orjson.loads(response.content)["details"]
    field = METADATA_FIELDS.get(case.operation.definition.raw["operationId"])
    if details.get("field") == "attributes" or field is None:
        return
    sent = (case.body or {}).get(field) if isinstance(case.body, dict) else None
    assert details["limit"] == MAX_METADATA_CHARS
    assert details["size"] == text_length(sent) > MAX_METADATA_CHARS, (sent, details)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case: schemathesis.Case, credentials: Credentials) -> None:
    operation = case.operation.definition.raw["operationId"]
    case.headers = {**(case.headers or {}), **credentials.for_operation(operation)}
    response = case.call()
    try:
        case.validate_response(
            response,
            excluded_checks=[positive_data_acceptance],
            additional_checks=[documented_rules_only, metadata_really_too_large],
        )
    finally:
        credentials.after(operation, response.status_code)
