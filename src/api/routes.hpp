// The route table: every route of the API in one place (method, path, gate, summary, parameter,
// body schema, reads, own rate limits, success status, handler). The router registers it
// (add_routes), the gate runs it (api/gate.hpp), and the API description is generated from it.
#pragma once
#include <span>
#include <vector>

#include "api/route.hpp"
#include "http/router.hpp"
#include "services/passwords.hpp"

namespace sr::api {

struct Context;

// The table. The password fields' policy depends on the configuration (composition rules).
std::vector<Route> route_table(const services::Passwords& passwords);

// The response shapes several routes share, by name (Route::response, api/openapi.hpp).
std::span<const NamedShape> response_shapes();

// Registers every route of ctx.routes; each handler runs the gate of its route, then the route.
void add_routes(http::Router& router, Context& ctx);

}  // namespace sr::api
