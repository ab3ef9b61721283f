// Beast-level request checks shared by the server and the HTTP fuzz harness, so both run the same
// code. Only src/http (and fuzz/) include this header.
#pragma once
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <string_view>

#include "http/types.hpp"

namespace sr::http {

inline Method to_method(boost::beast::http::verb v) noexcept {
  namespace bh = boost::beast::http;
  switch (v) {
    case bh::verb::get:
      return Method::GET;
    case bh::verb::head:
      return Method::HEAD;
    case bh::verb::post:
      return Method::POST;
    case bh::verb::put:
      return Method::PUT;
    case bh::verb::patch:
      return Method::PATCH;
    case bh::verb::delete_:
      return Method::DELETE_;
    case bh::verb::options:
      return Method::OPTIONS;
    default:
      return Method::OTHER;
  }
}

inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Request smuggling rules on top of Beast's parser: exactly one Content-Length of plain digits, or
// exactly one Transfer-Encoding that is exactly "chunked" (HTTP/1.1 only), never both; one Host
// on HTTP/1.1 (at most one on 1.0). `Fields` is a Beast header (iterable of fields).
template <class Fields>
bool framing_ok(const Fields& fields, unsigned version) noexcept {
  namespace bh = boost::beast::http;
  int ncl = 0, nte = 0, nhost = 0;
  std::string_view cl, te;
  for (const auto& f : fields) {
    switch (f.name()) {
      case bh::field::content_length:
        ++ncl;
        cl = f.value();
        break;
      case bh::field::transfer_encoding:
        ++nte;
        te = f.value();
        break;
      case bh::field::host:
        ++nhost;
        break;
      default:
        break;
    }
  }
  if (ncl > 1 || nte > 1 || (ncl && nte)) return false;
  if (ncl) {
    if (cl.empty() || cl.size() > 18) return false;
    for (char c : cl)
      if (c < '0' || c > '9') return false;
  }
  if (nte) {
    if (version != 11) return false;
    if (!boost::beast::iequals(trim_ows(te), "chunked")) return false;
  }
  if (version == 11 ? nhost != 1 : nhost > 1) return false;
  return true;
}

}  // namespace sr::http
