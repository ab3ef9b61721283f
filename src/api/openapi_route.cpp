// GET /openapi.json (SPEC 19): the document api::Context made from the route table at start.
// An anonymous route: the headers, CORS and general limit of any API answer.
#include "api/handlers.hpp"

namespace sr::api::handlers {

Task<http::Response> openapi(Call& call) {
  co_return call.respond(200, call.ctx.openapi);
}

}  // namespace sr::api::handlers
