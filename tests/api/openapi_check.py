"""Checks HTTP answers against the server's own OpenAPI document (GET /openapi.json, SPEC 19).

The conftest hook records every answer the black-box suite receives through `requests` and checks
each one here after its test: the status must be declared for the route (method and path
template), and the body must match the declared schema (python3-jsonschema, draft 2020-12, the
dialect of OpenAPI 3.1). Every problem names the route.
"""
import json
import re

from jsonschema import Draft202012Validator
from jsonschema.validators import RefResolver

# Not part of the API: the web interface's documents and assets (SPEC 17).
UI_PATHS = re.compile(r"^/(ui(/.*)?)?$")


def _pointer(*parts):
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class Checker:
    def __init__(self, doc):
        self.doc = doc
        self.resolver = RefResolver.from_schema(doc)
        self.validators = {}
        self.templates = []  # (regex, template), exact paths first
        for path in sorted(doc["paths"], key=lambda p: "{" in p):
            rx = "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)) + "$"
            self.templates.append((re.compile(rx), path))

    def template(self, path):
        for rx, t in self.templates:
            if rx.match(path):
                return t
        return None

    def _errors(self, pointer, instance):
        v = self.validators.get(pointer)
        if v is None:
            v = Draft202012Validator({"$ref": pointer}, resolver=self.resolver)
            self.validators[pointer] = v
        return [f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
                for e in sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))][:5]

    def _error_body(self, route, status, ctype, body):
        if not ctype.startswith("application/json"):
            return [f"{route} answered {status} with Content-Type {ctype!r}, not the JSON error body"]
        try:
            data = json.loads(body)
        except ValueError:
            return [f"{route} answered {status} with a body that is not JSON"]
        return [f"{route} answered {status}: {p}"
                for p in self._errors(_pointer("components", "schemas", "Error"), data)]

    def check(self, method, path, status, headers, body):
        """The problems of one answer (empty: it matches the document)."""
        ctype = (headers.get("Content-Type") or "").lower()
        if method == "OPTIONS":  # CORS preflight (SPEC 3), not an operation
            return []
        template = self.template(path)
        if template is None:
            if UI_PATHS.match(path) or not body:
                return []
            # An unknown path: 404 (or a refusal before routing), with the error body.
            return self._error_body(f"{method} {path} (no such route)", status, ctype, body)
        route = f"{method} {template}"
        item = self.doc["paths"][template]
        op_method = "get" if method == "HEAD" else method.lower()
        if op_method not in item:
            if status in (405, 413, 431):
                return self._error_body(route, status, ctype, body)
            return [f"{route} is not in the document, and was answered {status}, not 405"]
        responses = item[op_method]["responses"]
        if str(status) not in responses:
            return [f"{route} answered {status}, which the document does not declare for it "
                    f"(declared: {', '.join(sorted(responses))})"]
        declared = responses[str(status)]
        problems = []
        if 200 <= status < 300:
            for name in declared.get("headers", {}):
                if name != "X-Vault-Token" and name not in headers:
                    problems.append(f"{route} answered {status} without its header {name}")
        content = declared.get("content")
        if method == "HEAD":
            return problems
        if not content:
            if body:
                problems.append(f"{route} answered {status} with a body; the document declares none")
            return problems
        media = ctype.split(";")[0].strip()
        if media not in content:
            return problems + [f"{route} answered {status} with Content-Type {ctype!r}; declared: "
                               f"{', '.join(content)}"]
        if media != "application/json":
            return problems
        try:
            data = json.loads(body)
        except ValueError:
            return problems + [f"{route} answered {status} with a body that is not JSON"]
        pointer = _pointer("paths", template, op_method, "responses", status, "content", media,
                           "schema")
        return problems + [f"{route} answered {status}: {p}" for p in self._errors(pointer, data)]
