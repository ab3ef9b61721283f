#include "storage/url.hpp"

#include "storage/postgres/libpq.hpp"

#include <stdexcept>

namespace sr::storage {

namespace {
bool starts_with(const std::string& s, const char* p) {
  return s.rfind(p, 0) == 0;
}
}  // namespace

std::string redact_database_url(const std::string& url) {
  std::string out = url;
  // userinfo: scheme://user:password@host
  auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    auto auth_start = scheme + 3;
    auto auth_end = out.find_first_of("/?#", auth_start);
    if (auth_end == std::string::npos) auth_end = out.size();
    auto at = out.rfind('@', auth_end == 0 ? 0 : auth_end - 1);
    if (at != std::string::npos && at >= auth_start) {
      auto colon = out.find(':', auth_start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... in the query string (or a key=value conninfo)
  for (std::size_t pos = 0; (pos = out.find("password=", pos)) != std::string::npos;) {
    bool at_key_start =
        pos == 0 || out[pos - 1] == '?' || out[pos - 1] == '&' || out[pos - 1] == ' ';
    pos += 9;
    if (!at_key_start) continue;
    auto end = out.find_first_of("& #", pos);
    if (end == std::string::npos) end = out.size();
    out.replace(pos, end - pos, "***");
  }
  return out;
}

bool is_postgresql_url(const std::string& url) {
  return starts_with(url, "postgresql://") || starts_with(url, "postgres://");
}

DatabaseUrl parse_database_url(const std::string& url) {
  DatabaseUrl r;
  if (starts_with(url, "sqlite://")) {
    r.kind = DatabaseUrl::Kind::sqlite;
    r.sqlite_path = url.substr(9);  // "sqlite:///abs" -> "/abs", "sqlite://rel" -> "rel"
    if (r.sqlite_path.empty() || r.sqlite_path.back() == '/')
      throw std::runtime_error("database_url: sqlite URL needs a file path: " +
                               redact_database_url(url));
    if (r.sqlite_path.find('\0') != std::string::npos)
      throw std::runtime_error("database_url: sqlite path contains a NUL byte");
    return r;
  }
  if (is_postgresql_url(url)) {
    char* err = nullptr;
    PQconninfoOption* opts = postgres::libpq().PQconninfoParse(url.c_str(), &err);
    if (!opts) {
      // libpq's own message may quote the offending token, which could be part of the password.
      postgres::libpq().PQfreemem(err);
      throw std::runtime_error("database_url: invalid PostgreSQL URL: " + redact_database_url(url));
    }
    postgres::libpq().PQconninfoFree(opts);
    r.kind = DatabaseUrl::Kind::postgresql;
    r.conninfo = url;
    return r;
  }
  if (url.empty()) throw std::runtime_error("database_url is empty");
  throw std::runtime_error(
      "database_url: unsupported scheme (expected sqlite:// or postgresql://): " +
      redact_database_url(url));
}

}  // namespace sr::storage
