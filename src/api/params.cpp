#include "api/params.hpp"

#include "util/error.hpp"

namespace sr::api {

int64_t path_id(std::string_view text) {
  int64_t id = 0;
  if (text.empty() || text.size() > 18 || text[0] == '0')
    throw ApiError(ErrorCode::not_found, "Not found");
  for (char c : text) {
    if (c < '0' || c > '9') throw ApiError(ErrorCode::not_found, "Not found");
    id = id * 10 + (c - '0');
  }
  return id;
}

std::string_view path_session_id(std::string_view id) {
  bool sane = !id.empty() && id.size() <= 64;
  for (char c : id)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      sane = false;
  if (!sane) throw ApiError(ErrorCode::not_found, "Session not found");
  return id;
}

}  // namespace sr::api
