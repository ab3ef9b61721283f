// Route registration, one function per resource file.
#pragma once
#include "api/context.hpp"
#include "http/router.hpp"

namespace sr::api {
void add_auth_routes(http::Router& r, Context& ctx);
void add_personal_routes(http::Router& r, Context& ctx);
void add_social_routes(http::Router& r, Context& ctx);
void add_vault_routes(http::Router& r, Context& ctx);
// /healthz, /readyz, /metrics. open_connections reads the server's gauge.
void add_ops_routes(http::Router& r, Context& ctx);
inline void add_all_routes(http::Router& r, Context& ctx) {
  add_auth_routes(r, ctx);
  add_personal_routes(r, ctx);
  add_social_routes(r, ctx);
  add_vault_routes(r, ctx);
  add_ops_routes(r, ctx);
}
}  // namespace sr::api
