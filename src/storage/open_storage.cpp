#include <stdexcept>

#include "storage/postgres/pg_storage.hpp"
#include "storage/repository.hpp"
#include "storage/sqlite/sqlite_storage.hpp"
#include "storage/url.hpp"

namespace sr::storage {

std::unique_ptr<Storage> open_storage(const StorageOptions& opts) {
  DatabaseUrl u = parse_database_url(opts.url);
  if (u.kind == DatabaseUrl::Kind::sqlite) return sqlite::open(u.sqlite_path, opts);
  return postgres::open(u.conninfo, opts);
}

}  // namespace sr::storage
