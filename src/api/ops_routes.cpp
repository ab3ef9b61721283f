// /healthz, /readyz, /metrics (SPEC 9). Not subject to the general rate limit: load balancers and
// scrapers poll them; /metrics is restricted to metrics_allow instead.
#include "api/pipeline.hpp"
#include "api/routes.hpp"
#include "observability/log.hpp"

namespace sr::api {
namespace {
using http::Method;
}

void add_ops_routes(http::Router& r, Context& ctx) {
  r.add(Method::GET, "/healthz", route(ctx, Gate::ops, [](Call& call) -> Task<http::Response> {
          co_return call.respond(200, R"({"status":"ok"})");
        }));
  r.add(Method::GET, "/readyz", route(ctx, Gate::ops, [](Call& call) -> Task<http::Response> {
          bool down = false;
          try {
            co_await call.ctx.db.run(storage::Access::read,
                                     [](storage::Repository& repo) { repo.ping(); });
          } catch (const UnavailableError&) {
            down = true;  // thrown below, not inside the handler (g++ 12 coroutines)
          }
          if (down) throw ApiError(ErrorCode::unavailable, "Database unavailable");
          co_return call.respond(200, R"({"status":"ready"})");
        }));
  r.add(Method::GET, "/metrics", route(ctx, Gate::ops, [](Call& call) -> Task<http::Response> {
          if (!call.ctx.metrics_allow.contains(call.req.peer_ip))
            throw ApiError(ErrorCode::forbidden, "Forbidden");
          http::Response resp;
          resp.body = call.ctx.metrics.render();
          resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
          co_return resp;
        }));
}

}  // namespace sr::api
