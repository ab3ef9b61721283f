#include "http/errors.hpp"

#include "json/json.hpp"
#include "observability/log.hpp"

namespace sr::http {

Response error_response(const ApiError& e) {
  json::Writer w;
  w.begin_object().kv("error", std::string_view(e.what())).kv("code", code_name(e.code()));
  if (!e.fields().empty()) {
    w.key("fields").begin_object();
    for (const auto& [k, v] : e.fields()) w.kv(k, v);
    w.end_object();
  }
  w.end_object();
  Response r = Response::json(code_status(e.code()), w.take());
  if (e.retry_after) r.headers.emplace_back("Retry-After", std::to_string(*e.retry_after));
  for (const auto& h : e.headers) r.headers.push_back(h);
  return r;
}

Response error_response(ErrorCode code, std::string_view message) {
  json::Writer w;
  w.begin_object().kv("error", message).kv("code", code_name(code)).end_object();
  return Response::json(code_status(code), w.take());
}

Response error_from_exception(std::exception_ptr ep, std::string_view request_id) {
  try {
    if (ep) std::rethrow_exception(ep);
    return error_response(ErrorCode::internal, "internal error");
  } catch (const ApiError& e) {
    return error_response(e);
  } catch (const UnavailableError& e) {
    obs::log(obs::Level::warn, "dependency.unavailable",
             {{"request_id", request_id}, {"detail", e.what()}});
    return error_response(ErrorCode::unavailable, "service temporarily unavailable");
  } catch (const ConflictError&) {
    return error_response(ErrorCode::conflict, "conflict");
  } catch (const std::exception& e) {
    obs::log(obs::Level::error, "internal.error",
             {{"request_id", request_id}, {"detail", e.what()}});
  } catch (...) {
    obs::log(obs::Level::error, "internal.error",
             {{"request_id", request_id}, {"detail", "non-standard exception"}});
  }
  return error_response(ErrorCode::internal, "internal error");
}

}  // namespace sr::http
