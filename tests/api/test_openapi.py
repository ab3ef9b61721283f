"""GET /openapi.json (SPEC 19): served like any API answer, valid OpenAPI 3.1 by an independent
validator (tests/openapi: @seriousme/openapi-schema-validator, pinned, installed by `npm ci` in
scripts/run-tests.sh), and true to what the server does: the body schemas' required fields,
unknown-field refusal and bounds are checked against the server's own answers. (conftest.py
checks every answer of the suite against the document; the last test here shows that check can
fail.)"""
import json
import os
import subprocess

import pytest
import requests

from conftest import ROOT, assert_error, openapi_checker, unlocked
from test_http import check_security_headers

VALIDATOR_DIR = os.path.join(ROOT, "tests", "openapi")


def fetch(server, **kw):
    r = requests.get(server.url + "/openapi.json", timeout=30, **kw)
    assert r.status_code == 200, r.text
    return r


def test_served_without_authentication_with_the_headers_of_any_api_answer(server):
    r = fetch(server, headers={"X-Request-ID": "openapi-1"})
    assert r.headers["Content-Type"].startswith("application/json")
    check_security_headers(r)
    assert r.headers["X-Request-ID"] == "openapi-1"
    doc = r.json()
    assert doc["openapi"] == "3.1.0"
    assert "/openapi.json" in doc["paths"]
    # The same document on every call.
    assert fetch(server).content == r.content


def run_validator(path):
    script = os.path.join(VALIDATOR_DIR, "validate.mjs")
    if not os.path.isdir(os.path.join(VALIDATOR_DIR, "node_modules")):
        pytest.fail("the OpenAPI validator is not installed: run `npm ci` in tests/openapi "
                    "(scripts/run-tests.sh does)", pytrace=False)
    return subprocess.run(["node", script, path], capture_output=True, text=True, timeout=120)


def test_the_document_is_valid_openapi_3_1(server, tmp_path):
    path = tmp_path / "openapi.json"
    path.write_bytes(fetch(server).content)
    p = run_validator(str(path))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "valid OpenAPI 3.1" in p.stdout


@pytest.mark.parametrize("breakage", ["no info.version", "dangling $ref", "status not a code"])
def test_the_validator_refuses_a_broken_document(tmp_path, breakage):
    doc = json.loads(json.dumps(openapi_checker().doc))
    op = doc["paths"]["/auth/signup"]["post"]
    if breakage == "no info.version":
        del doc["info"]["version"]
    elif breakage == "dangling $ref":
        op["parameters"][0]["$ref"] = "#/components/parameters/Nope"
    else:
        op["responses"]["2xx-ish"] = op["responses"].pop("201")
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    p = run_validator(str(path))
    assert p.returncode != 0, f"{breakage}: accepted\n{p.stdout}"


def body_operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if "requestBody" in op:
                yield method.upper(), path, op["requestBody"]["content"]["application/json"]["schema"]


def send(server, user, method, path, body):
    """A request with Bearer and vault token (no cookies: no CSRF), to an id that is no row."""
    headers = {"Authorization": f"Bearer {user.access}", "X-Vault-Token": user.vault_token}
    return requests.request(method, server.url + path.replace("{id}", "1"), json=body,
                            headers=headers, timeout=30)


def refused_fields(r, route):
    body = assert_error(r, 400, "validation_failed")
    assert "fields" in body, f"{route}: {body}"
    return body["fields"]


def test_required_and_unknown_fields_are_those_the_server_applies(server):
    user = unlocked(server)
    ops = list(body_operations(openapi_checker().doc))
    assert ops
    for method, path, schema in ops:
        route = f"{method} {path}"
        assert schema["additionalProperties"] is False, route
        fields = refused_fields(send(server, user, method, path, {"zz_unknown": 1}), route)
        assert fields.pop("zz_unknown") == "unknown field", f"{route}: {fields}"
        # Every other problem is a required field missing, and every required field is named.
        assert {k: "is required" for k in schema.get("required", [])} == fields, route


def bad_values(prop):
    """(value, what the server's message says) for values the document's bounds exclude."""
    types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    out = [({"nested": 1}, "must be")]  # no field of the API is an object
    if "string" in types:
        if "maxLength" in prop:
            out.append(("a" * (prop["maxLength"] + 1), "at most"))
        if prop.get("minLength", 0) > 0:
            out.append(("", "empty" if prop["minLength"] == 1 else "at least"))
        if prop.get("pattern") == r"^[^\u0000-\u001F\u007F]*$":  # one line
            out.append(("a\nb", "control"))
        out.append(("a\u0000b", "control"))
    if "integer" in types:
        if "maximum" in prop:
            out.append((prop["maximum"] + 1, ""))
        if "minimum" in prop:
            out.append((prop["minimum"] - 1, ""))
        out.append((1.5, "integer"))
    if "null" not in types:
        out.append((None, "must be"))
    return out


def test_bounds_in_the_document_are_those_the_server_applies(server):
    user = unlocked(server)
    checked = 0
    for method, path, schema in body_operations(openapi_checker().doc):
        for name, prop in schema["properties"].items():
            for value, words in bad_values(prop):
                route = f"{method} {path} {name}={value!r:.20}"
                fields = refused_fields(send(server, user, method, path, {name: value}), route)
                assert name in fields, f"{route}: accepted, though the document excludes it ({fields})"
                assert words in fields[name], f"{route}: {fields[name]!r}"
                checked += 1
    assert checked > 50


def query_operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for p in op.get("parameters", []):
                if p.get("in") == "query":
                    yield method.upper(), path, p


def test_query_parameters_in_the_document_are_those_the_server_applies(server):
    """Each declared query parameter: its bounds are accepted, one past them is 400 naming it."""
    user = unlocked(server)
    declared = list(query_operations(openapi_checker().doc))
    assert {(m, p, q["name"]) for m, p, q in declared} >= {("GET", "/vault/entries", "limit"),
                                                          ("GET", "/vault/entries", "after")}
    for method, path, q in declared:
        name, schema = q["name"], q["schema"]
        assert q["required"] is False and schema["type"] == "integer"
        inside = [schema["minimum"]] + ([schema["maximum"]] if "maximum" in schema else [])
        outside = [schema["minimum"] - 1] + ([schema["maximum"] + 1] if "maximum" in schema else [])
        for value in inside:
            r = send(server, user, method, f"{path}?{name}={value}", None)
            assert r.status_code == 200, f"{method} {path}?{name}={value}: {r.status_code} {r.text[:200]}"
        for value in outside:
            fields = refused_fields(send(server, user, method, f"{path}?{name}={value}", None), name)
            assert name in fields or "query" in fields, f"{method} {path}?{name}={value}: {fields}"


def test_the_answer_check_names_the_route_and_can_fail():
    c = openapi_checker()
    json_headers = {"Content-Type": "application/json", "X-Request-ID": "x"}
    limited = dict(json_headers, **{"RateLimit-Limit": "3", "RateLimit-Remaining": "2",
                                    "RateLimit-Reset": "60"})
    ok = json.dumps({"message": "User created!", "user_id": 3}).encode()
    assert c.check("POST", "/auth/signup", 201, limited, ok) == []
    # A field missing, a field the document does not know, a wrong type.
    for body in ({"message": "x"}, {"message": "x", "user_id": 3, "extra": 1},
                 {"message": "x", "user_id": "3"}):
        problems = c.check("POST", "/auth/signup", 201, limited, json.dumps(body).encode())
        assert problems and all(p.startswith("POST /auth/signup answered 201") for p in problems)
    # A status the route does not declare.
    assert "GET /personal/handbook answered 418" in c.check(
        "GET", "/personal/handbook", 418, json_headers, b"{}")[0]
    # A 204 with a body; a route that matches a template.
    assert c.check("DELETE", "/social/links/7", 204, {"X-Request-ID": "x"}, b"{}")[0].startswith(
        "DELETE /social/links/{id} answered 204 with a body")
    # An error body that is not SPEC 2's.
    assert c.check("GET", "/personal/me", 401, json_headers, b'{"error": "no"}')
    # A limited route without its RateLimit-* headers.
    signed_in = json.dumps({"message": "Signed in", "user_id": 1, "csrf_token": "c"}).encode()
    assert any("RateLimit-Limit" in p for p in c.check("POST", "/auth/signin", 200, json_headers,
                                                        signed_in))
