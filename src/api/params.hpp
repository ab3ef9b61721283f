// Path parameters (a route's {id}): anything malformed is 404, as an id that is not the caller's.
#pragma once
#include <cstdint>
#include <string_view>

namespace sr::api {

// A decimal row id: no sign, no leading zero, at most 18 digits; else 404.
int64_t path_id(std::string_view text);
// A session id: 1-64 of [A-Za-z0-9_-]; else 404.
std::string_view path_session_id(std::string_view text);

}  // namespace sr::api
