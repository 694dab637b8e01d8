"""A native route's body that is no JSON object at all (none, empty, not JSON, sent as text, a
JSON array) is answered as before the routes declared their bodies as models (issue 16): 422
``body: the body must be a JSON object`` in the one error shape, and 400 ``the body must be
JSON`` on the routes that answer an invalid request with 400 (``POST /api/v1/overrides``).
A body that is an object keeps its per-field answers."""

from __future__ import annotations

import httpx
import pytest

from tests.server.conftest import Api
from tocsin.api.errors import too_deep

NOT_AN_OBJECT = {
    "error": {
        "status": 422,
        "message": "body: the body must be a JSON object",
        "details": [{"field": "body", "message": "the body must be a JSON object"}],
    }
}
NOT_JSON_400 = {"error": {"status": 400, "message": "the body must be JSON"}}

# (name, body, content type or None)
NOT_OBJECTS = [
    ("no body", None, None),
    ("empty", b"", "application/json"),
    ("text", b"nope", "text/plain"),
    ("text without a content type", b"nope", None),
    ("invalid JSON", b"nope", "application/json"),
    ("an array", b"[]", "application/json"),
    ("a string", b'"nope"', "application/json"),
]
NOT_JSON = [case for case in NOT_OBJECTS if case[0] not in ("an array", "a string")]


def send(api: Api, method: str, path: str, body: bytes | None, kind: str | None) -> httpx.Response:
    headers = api.headers("responder")
    if kind is not None:
        headers["Content-Type"] = kind
    response: httpx.Response = api.client.request(method, path, content=body, headers=headers)
    return response


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/incidents/1/action-items"),
        ("PATCH", "/api/v1/action-items/1"),
        ("POST", "/api/v1/incidents/1/notes"),
        ("POST", "/api/v1/incidents/1/status-updates"),
    ],
)
@pytest.mark.parametrize(("name", "body", "kind"), NOT_OBJECTS, ids=[c[0] for c in NOT_OBJECTS])
def test_a_body_that_is_no_json_object_is_a_422(
    api: Api, method: str, path: str, name: str, body: bytes | None, kind: str | None
) -> None:
    answer = send(api, method, path, body, kind)
    assert (answer.status_code, answer.json()) == (422, NOT_AN_OBJECT), name


@pytest.mark.parametrize(("name", "body", "kind"), NOT_JSON, ids=[c[0] for c in NOT_JSON])
def test_an_override_body_that_is_not_json_is_a_400(
    api: Api, name: str, body: bytes | None, kind: str | None
) -> None:
    answer = send(api, "POST", "/api/v1/overrides", body, kind)
    assert (answer.status_code, answer.json()) == (400, NOT_JSON_400), name


def test_an_object_keeps_its_per_field_answers(api: Api) -> None:
    items = send(api, "POST", "/api/v1/incidents/1/action-items", b"{}", "application/json")
    assert items.status_code == 422
    assert items.json()["error"] == {
        "status": 422,
        "message": "title: Field required",
        "details": [
            {"field": "title", "message": "Field required"},
            {"field": "owner", "message": "Field required"},
        ],
    }
    override = send(api, "POST", "/api/v1/overrides", b"{}", "application/json")
    assert override.status_code == 400
    message = override.json()["error"]["message"]
    assert message.startswith("schedule: Field required; user: Field required")


# Deeply nested JSON (issue 17, item 30): every native route that takes a body refuses a body
# nested deeper than errors.MAX_BODY_DEPTH with a 400 in the one shape, before any parser or
# validator recurses on it, as the intakes answer 400 for theirs.
BODY_ROUTES = [
    ("POST", "/api/v1/overrides"),
    ("POST", "/api/v1/incidents/1/action-items"),
    ("PATCH", "/api/v1/action-items/1"),
    ("POST", "/api/v1/incidents/1/notes"),
    ("PATCH", "/api/v1/incidents/1"),
    ("POST", "/api/v1/incidents/1/reopen"),
    ("POST", "/api/v1/incidents/1/status-updates"),
]
TOO_DEEP = {"error": {"status": 400, "message": "the body is nested more than 32 levels deep"}}


def nested(depth: int, field: str = "title") -> bytes:
    return b'{"%s":' % field.encode() + b"[" * (depth - 1) + b"1" + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize("depth", [33, 900, 5000, 100_000])
@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_a_deeply_nested_body_is_a_400(api: Api, method: str, path: str, depth: int) -> None:
    for body in (nested(depth), nested(depth, "x"), b"[" * depth + b"]" * depth):
        answer = send(api, method, path, body, "application/json")
        assert (answer.status_code, answer.json()) == (400, TOO_DEEP), (path, depth)


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_a_body_within_the_depth_keeps_its_answers(api: Api, method: str, path: str) -> None:
    answer = send(api, method, path, nested(32), "application/json")
    assert answer.status_code in (400, 404, 422), path
    assert "nested" not in answer.json()["error"]["message"], path


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        (b"{}", False),
        (b"[" * 32 + b"]" * 32, False),
        (b"[" * 33 + b"]" * 33, True),
        (b'{"a":' * 33 + b"1" + b"}" * 33, True),
        (b'{"title": "' + b"[" * 100 + b'"}', False),  # brackets in a string do not count
        (b'{"t\\"[[": "\\\\", "x": ' + b"[" * 40 + b"]" * 40 + b"}", True),
        (b"[" + b"[]," * 100 + b"[]]", False),
    ],
)
def test_too_deep_counts_brackets_outside_strings(body: bytes, deep: bool) -> None:
    assert too_deep(body) is deep
