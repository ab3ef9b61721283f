#include "http/types.hpp"

namespace sr::http {

std::string_view method_name(Method m) noexcept {
  switch (m) {
    case Method::GET:
      return "GET";
    case Method::HEAD:
      return "HEAD";
    case Method::POST:
      return "POST";
    case Method::PUT:
      return "PUT";
    case Method::PATCH:
      return "PATCH";
    case Method::DELETE_:
      return "DELETE";
    case Method::OPTIONS:
      return "OPTIONS";
    case Method::OTHER:
      return "OTHER";
  }
  return "OTHER";
}

}  // namespace sr::http
