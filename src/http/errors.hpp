// The one place where errors become SPEC section 2 bodies.
#pragma once
#include <exception>

#include "http/types.hpp"
#include "util/error.hpp"

namespace sr::http {
// {"error": message, "code": code, "fields"?: {...}} with the status of the code, Retry-After and
// any extra headers of the ApiError.
Response error_response(const ApiError& e);
Response error_response(ErrorCode code, std::string_view message);
// Maps any exception: ApiError as is; UnavailableError -> 503 unavailable; ConflictError -> 409
// conflict; everything else -> 500 internal (the detail is logged, never sent).
Response error_from_exception(std::exception_ptr ep, std::string_view request_id);
}  // namespace sr::http
