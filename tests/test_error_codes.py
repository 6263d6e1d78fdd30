"""One error tree: unique codes, every server error in roomkey.errors with an HTTP status in the
one table, and one writer of the JSON error body."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import roomkey
from roomkey import errors
from roomkey.api.errors import HTTP_STATUS, status_for
from roomkey.errors import RoomkeyError

SRC = Path(roomkey.__file__).resolve().parent
# alembic's env.py runs migrations when imported; it defines no error
NOT_IMPORTED = ("roomkey.store.migrations",)
# the CLI's own input errors and the Python client's never reach the HTTP API: no status
CLIENT_SIDE = ("roomkey.cli.", "roomkey.client")


def _every_error_class() -> list[type[RoomkeyError]]:
    for module in pkgutil.walk_packages(roomkey.__path__, "roomkey."):
        if not module.name.startswith(NOT_IMPORTED):
            importlib.import_module(module.name)
    found: list[type[RoomkeyError]] = []
    todo = [RoomkeyError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("roomkey."):  # not a test's own subclass
            found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


ALL = _every_error_class()
SERVER_SIDE = [cls for cls in ALL if not cls.__module__.startswith(CLIENT_SIDE)]


def test_the_walk_finds_the_whole_tree() -> None:
    names = {cls.__name__ for cls in ALL}
    assert {"RoomkeyError", "TokenError", "NotFoundError", "RateLimitedError"} <= names
    assert "InputFileError" in names  # the CLI's, found by importing every module


def test_every_code_names_one_error_class() -> None:
    by_code: dict[str, list[str]] = {}
    for cls in ALL:
        by_code.setdefault(cls.code, []).append(f"{cls.__module__}.{cls.__qualname__}")
    assert {code: names for code, names in by_code.items() if len(names) > 1} == {}


def test_key_material_errors_have_their_own_codes() -> None:
    assert errors.InvalidKeyError.code == "invalid_key"
    assert errors.KeyMaterialError.code == "key_error"


def test_every_server_error_lives_in_the_one_tree() -> None:
    elsewhere = [
        f"{c.__module__}.{c.__qualname__}" for c in SERVER_SIDE if c.__module__ != errors.__name__
    ]
    assert elsewhere == []
    assert {c.__name__ for c in SERVER_SIDE} <= set(errors.__all__)


def test_every_server_error_has_an_http_status_in_the_one_table() -> None:
    codes = {cls.code for cls in SERVER_SIDE}
    assert sorted(codes - set(HTTP_STATUS)) == [], "add a row to roomkey.api.errors.HTTP_STATUS"
    assert sorted(set(HTTP_STATUS) - codes) == [], "a row of HTTP_STATUS names no error class"
    assert all(400 <= status <= 599 for status in HTTP_STATUS.values())


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.ConfigurationError, 400),
        (errors.TokenExpiredError, 401),
        (errors.WrongRoomError, 403),
        (errors.UnknownRoomError, 404),
        (errors.RoomInactiveError, 409),
        (errors.ForbiddenError, 403),
        (errors.BannedError, 403),
        (errors.NotFoundError, 404),
        (errors.BodyTooLargeError, 413),
        (errors.InvalidRequestError, 422),
        (errors.RateLimitedError, 429),
        (errors.StoreError, 503),
        (errors.InternalServerError, 500),
    ],
)
def test_statuses_that_clients_rely_on(error: type[RoomkeyError], status: int) -> None:
    assert status_for(error("m")) == status


def test_a_subclass_without_a_row_takes_its_ancestors_status() -> None:
    class Unlisted(errors.TokenError):
        code = "unlisted_for_this_test"

    assert status_for(Unlisted("m")) == 401


# ---- one builder of the JSON error body ---------------------------------------------------

BUILDER = SRC / "errors.py"
# a field of its own, not an error body: the inspection report's failure code
NOT_AN_ERROR_BODY = {(SRC / "inspecting.py", "to_dict")}


def _writes_error_key(node: ast.AST) -> bool:
    if isinstance(node, ast.Dict):
        return any(isinstance(k, ast.Constant) and k.value == "error" for k in node.keys)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return any(kw.arg == "error" for kw in node.keywords)
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "error"
    return False


def _error_key_writers(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    owner: dict[ast.AST, str] = {}  # node -> the innermost function holding it
    for function in ast.walk(tree):  # outer functions come first, inner ones overwrite
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            owner.update((node, function.name) for node in ast.walk(function))
    return [
        f"{owner.get(node, '<module>')}, line {node.lineno}"  # type: ignore[attr-defined]
        for node in ast.walk(tree)
        if _writes_error_key(node) and (path, owner.get(node, "<module>")) not in NOT_AN_ERROR_BODY
    ]


def test_only_the_error_tree_writes_an_error_body() -> None:
    writers = {
        str(path.relative_to(SRC)): found
        for path in sorted(SRC.rglob("*.py"))
        if path != BUILDER and (found := _error_key_writers(path))
    }
    assert writers == {}, "raise a roomkey error, or build the body with RoomkeyError.to_dict()"


def test_the_body_check_sees_every_way_to_write_the_key(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        'def a():\n    return {"error": "x", "message": "m"}\n'
        'def b():\n    return dict(error="x")\n'
        'def c(body):\n    body["error"] = "x"\n'
        'def d(body):\n    return body["error"]\n'
    )
    assert [line.split(",")[0] for line in _error_key_writers(probe)] == ["a", "b", "c"]
