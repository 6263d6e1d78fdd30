"""Every operation lists its 400 rules, and its document says them (roomkey.api.rules)."""

from __future__ import annotations

from fastapi import FastAPI

from roomkey.api.access import api_routes
from roomkey.api.errors import HTTP_STATUS
from roomkey.api.routes import ROUTERS
from roomkey.api.rules import RULES, codes


def test_every_operation_has_an_entry_and_no_entry_is_stale() -> None:
    operations = {route.operation_id for route in api_routes(ROUTERS)}
    assert operations == set(RULES)


def test_every_rule_is_answered_with_a_400_code() -> None:
    for rules in RULES.values():
        for rule in rules:
            assert HTTP_STATUS[rule.code] == 400, rule


def test_each_operation_documents_its_rules_and_their_codes(app: FastAPI) -> None:
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            name = operation["operationId"]
            if not RULES[name]:
                continue
            for rule in RULES[name]:
                assert f"- `{rule.code}`: {rule.text}" in operation["description"], (path, rule)
            schema = operation["responses"]["400"]["content"]["application/json"]["schema"]
            assert schema["properties"]["error"]["enum"] == codes(name), (method, path)
