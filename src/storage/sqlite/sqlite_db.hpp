// Small RAII wrappers over the sqlite3 C API: a connection with a cache of prepared statements,
// a Query that binds, steps and always resets its statement (a statement left un-reset would hold
// a read transaction open and pin the WAL), and a Tx guard that rolls back unless committed.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sr::storage::sqlite {

// Throws the typed error for rc: ConflictError (unique/primary key/foreign key), UnavailableError
// (busy, locked, I/O, full disk), std::runtime_error otherwise.
[[noreturn]] void throw_error(sqlite3* db, int rc, const char* what);

class Db {
 public:
  // vfs: nullptr for SQLite's default, or a registered VFS name such as "unix-excl".
  Db(const std::string& path, int flags, const char* vfs = nullptr);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* handle() const { return db_; }
  // Runs constant SQL text (pragmas, migrations, BEGIN/COMMIT). Never pass data here.
  void exec(const char* sql);
  // The cached prepared statement for this SQL text (keyed by the literal's address).
  sqlite3_stmt* prepare(const char* sql);

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

class Query {
 public:
  Query(Db& db, const char* sql) : db_(db), st_(db.prepare(sql)) {}
  ~Query() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  // Parameters bind by position, in order. The bound data must outlive step() (it is not copied).
  Query& bind(int64_t v);
  Query& bind(std::string_view text);
  Query& bind(const std::string& text) { return bind(std::string_view(text)); }
  Query& bind(const char* text) = delete;  // no accidental pointer-to-bool or literal surprises
  Query& bind_blob(std::string_view bytes);
  Query& bind(const std::optional<std::string>& v);
  Query& bind(const std::optional<int64_t>& v);

  bool step();  // true when a row is available
  void run();   // steps to completion (statements without rows)
  int changes() const { return sqlite3_changes(db_.handle()); }

  int64_t i64(int col) const { return sqlite3_column_int64(st_, col); }
  bool is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
  std::string text(int col) const;
  std::string blob(int col) const;
  std::optional<std::string> opt_text(int col) const;
  std::optional<int64_t> opt_i64(int col) const;

 private:
  Db& db_;
  sqlite3_stmt* st_;
  int next_ = 1;
};

// BEGIN IMMEDIATE takes the write lock at once, so a read-then-write inside (count, then insert)
// cannot race another writer.
class Tx {
 public:
  explicit Tx(Db& db);
  ~Tx();
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace sr::storage::sqlite
