#include "storage/sqlite/sqlite_db.hpp"

#include <climits>
#include <stdexcept>

#include "util/error.hpp"

namespace sr::storage::sqlite {

void throw_error(sqlite3* db, int rc, const char* what) {
  std::string msg = std::string("sqlite: ") + what + ": " + sqlite3_errstr(rc);
  if (db) {
    const char* m = sqlite3_errmsg(db);
    if (m && *m) msg += std::string(" (") + m + ")";
  }
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      throw sr::ConflictError("already exists");
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      throw sr::ConflictError("the referenced row does not exist");
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      throw sr::UnavailableError(msg);
    default:
      throw std::runtime_error(msg);
  }
}

Db::Db(const std::string& path, int flags, const char* vfs) {
  // Before SQLite initializes: no global memory statistics, whose mutex every sqlite3_malloc of
  // every connection would otherwise take (contended between network threads). A no-op (MISUSE)
  // if SQLite was already initialized.
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, vfs);
  if (rc != SQLITE_OK) {
    std::string msg =
        "sqlite: cannot open " + path + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw std::runtime_error(msg);
  }
  sqlite3_extended_result_codes(db_, 1);
}

Db::~Db() {
  for (auto& [sql, st] : cache_) sqlite3_finalize(st);
  sqlite3_close_v2(db_);
}

void Db::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    throw_error(db_, rc, "exec");
  }
}

sqlite3_stmt* Db::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second;
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
  if (rc != SQLITE_OK) throw_error(db_, rc, "prepare");
  cache_.emplace(sql, st);
  return st;
}

Query& Query::bind(int64_t v) {
  int rc = sqlite3_bind_int64(st_, next_++, v);
  if (rc != SQLITE_OK) throw_error(db_.handle(), rc, "bind");
  return *this;
}

Query& Query::bind(std::string_view text) {
  // Explicit length: NUL bytes and invalid UTF-8 are stored as they are.
  int rc = sqlite3_bind_text64(st_, next_++, text.data() ? text.data() : "", text.size(),
                               SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw_error(db_.handle(), rc, "bind");
  return *this;
}

Query& Query::bind_blob(std::string_view bytes) {
  // A null pointer would bind NULL; a zero-length blob needs a non-null one.
  int rc = sqlite3_bind_blob64(st_, next_++, bytes.data() ? bytes.data() : "", bytes.size(),
                               SQLITE_STATIC);
  if (rc != SQLITE_OK) throw_error(db_.handle(), rc, "bind");
  return *this;
}

Query& Query::bind(const std::optional<std::string>& v) {
  if (v) return bind(std::string_view(*v));
  int rc = sqlite3_bind_null(st_, next_++);
  if (rc != SQLITE_OK) throw_error(db_.handle(), rc, "bind");
  return *this;
}

Query& Query::bind(const std::optional<int64_t>& v) {
  if (v) return bind(*v);
  int rc = sqlite3_bind_null(st_, next_++);
  if (rc != SQLITE_OK) throw_error(db_.handle(), rc, "bind");
  return *this;
}

bool Query::step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_error(db_.handle(), rc, "step");
}

void Query::run() {
  while (step()) {
  }
}

std::string Query::text(int col) const {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
  int n = sqlite3_column_bytes(st_, col);
  return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

std::string Query::blob(int col) const {
  auto p = static_cast<const char*>(sqlite3_column_blob(st_, col));
  int n = sqlite3_column_bytes(st_, col);
  return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

std::optional<std::string> Query::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

std::optional<int64_t> Query::opt_i64(int col) const {
  if (is_null(col)) return std::nullopt;
  return i64(col);
}

Tx::Tx(Db& db) : db_(db) {
  Query(db_, "BEGIN IMMEDIATE").run();
}

Tx::~Tx() {
  if (!done_) {
    // Best effort: if the transaction is already gone (e.g. an I/O error rolled it back), the
    // ROLLBACK fails harmlessly.
    sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void Tx::commit() {
  Query(db_, "COMMIT").run();
  done_ = true;
}

}  // namespace sr::storage::sqlite
