// Database URLs: which backend, where, and a form that is safe to print.
#pragma once
#include <string>

namespace sr::storage {

struct DatabaseUrl {
  enum class Kind { sqlite, postgresql } kind = Kind::sqlite;
  std::string sqlite_path;  // sqlite: the file path (absolute for sqlite:///abs, else relative)
  std::string conninfo;     // postgresql: the URL as given, handed to libpq untouched
};

// Whether the URL names PostgreSQL (postgresql:// or postgres://), from its scheme alone: no
// validation and no libpq (which parse_database_url loads to check a PostgreSQL URL).
bool is_postgresql_url(const std::string& url);

// sqlite:///abs/path, sqlite://relative/path, postgresql://... or postgres://...
// Throws std::runtime_error (with the URL redacted) when the URL is malformed.
DatabaseUrl parse_database_url(const std::string& url);

// The URL with any password (user:PASSWORD@ and password=... parameters) replaced by "***".
std::string redact_database_url(const std::string& url);

}  // namespace sr::storage
