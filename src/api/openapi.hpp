// The API description (SPEC 19): an OpenAPI 3.1 document generated from the route table
// (api/routes.cpp) and the field schemas the server validates bodies with (json::Schema), so
// that the document cannot drift from what the server does. Served at GET /openapi.json.
//
// From each Route it takes: method and path; the {id} parameter with its pattern; the request
// body, each field with its type, bounds (code points, integer range), pattern, nullability and
// the words of FieldRule::doc, `required`, and additionalProperties false (the parser refuses
// unknown fields); the security schemes of its gate; the success status with the shape of
// Route::response; RateLimit-* headers when it has its own limits; and the error statuses its
// gate, parameter, body and limits imply, plus Route::errors, each with the error body of SPEC 2
// restricted to the codes of that status.
//
// Route::response is written in a small notation, parsed here:
//   shape  := alt ('|' alt)*                      alternatives (anyOf); 'null' is one
//   alt    := object | '[' shape ']' | name
//   object := '{' [field (',' field)*] '}'        every field required unless marked '?';
//   field  := key ['?'] ':' shape                 no other field allowed
//   name   := string | integer | boolean | object (any object) | id (integer >= 1)
//           | count (integer >= 0) | time (RFC 3339 string)
//           | a named shape (capitalised: response_shapes() in api/routes.cpp)
// and two whole-shape forms: "text/plain" (a text body), "" (no body: a 204).
#pragma once
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "api/cookies.hpp"
#include "api/route.hpp"

namespace sr::api {

// The document as JSON text. Throws std::invalid_argument naming the route (or the named
// shape) whose response notation does not parse, or that refers to an unknown shape.
std::string openapi_document(const std::vector<Route>& routes, std::span<const NamedShape> shapes,
                             const CookieNames& cookies);

}  // namespace sr::api
