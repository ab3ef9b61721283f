// /healthz, /readyz, /metrics (SPEC 9). Not subject to the general rate limit (Gate::ops): load
// balancers and scrapers poll them; /metrics is restricted to metrics_allow instead.
#include "api/handlers.hpp"

namespace sr::api::handlers {

Task<http::Response> healthz(Call& call) {
  co_return call.respond(200, R"({"status":"ok"})");
}

Task<http::Response> readyz(Call& call) {
  bool down = false;
  try {
    co_await call.ctx.db.run(storage::Access::read, [](storage::Repository& repo) { repo.ping(); });
  } catch (const UnavailableError&) {
    down = true;  // thrown below, not inside the handler (g++ 12 coroutines)
  }
  if (down) throw ApiError(ErrorCode::unavailable, "Database unavailable");
  co_return call.respond(200, R"({"status":"ready"})");
}

Task<http::Response> metrics(Call& call) {
  // A same-host proxy is in metrics_allow by its own address: what it forwards for another
  // address (the client IP, resolved from X-Forwarded-For) is that client's request (SPEC 14).
  if (!call.ctx.metrics_allow.contains(call.req.peer_ip) || call.ip != call.req.peer_ip)
    throw ApiError(ErrorCode::forbidden, "Forbidden");
  http::Response resp;
  resp.body = call.ctx.metrics.render();
  resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
  co_return resp;
}

}  // namespace sr::api::handlers
