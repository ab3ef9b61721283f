// Backups and restore of the SQLite database (SPEC 16, docs/operations.md). No HTTP, no config:
// paths in, files out. The server (worker.hpp) and the CLI (commands.hpp) both call these.
#pragma once
#include <cstdint>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>

namespace sr::backup {

// A backup or restore that did not happen; the message is for the operator (paths, SQLite's
// words), never a secret.
class BackupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How the pages are copied. Both read one snapshot on a connection of their own, so neither takes
// the write lock; docs/operations.md has what each costs the writers
// (bench/micro/backup_bench.cpp).
enum class Method {
  online_api,   // sqlite3_backup_step(-1): copies the pages as they are
  vacuum_into,  // VACUUM INTO: rebuilds a compacted copy (more CPU, smaller file)
};

struct Target {
  std::string db_path;        // the live database file
  const char* vfs = nullptr;  // "unix-excl" when the server holds the file exclusively
  std::string dir;            // backup_dir
  int keep = 7;               // backup_keep
};

struct Made {
  std::string path;  // <dir>/strongroom-<YYYYMMDDTHHMMSSZ>.db
  int64_t bytes = 0;
  int64_t millis = 0;      // copy + check + sync
  int schema_version = 0;  // of the copy
  int removed = 0;         // older backups removed beyond `keep`
};

// Copies the live database into a temporary file of `dir` (created 0700 if missing; its parent
// must exist), checks the copy (integrity, foreign keys, schema version), fsyncs it, renames it to
// its final name (mode 0600), fsyncs the directory, then removes the oldest backups beyond `keep`.
// The name is the UTC time at which the snapshot was taken. Throws BackupError.
Made make_backup(const Target& t, Method m = Method::online_api);

// Checks a database file that is not in use: a SQLite database (converted to a single file, no
// WAL), `PRAGMA integrity_check` and `foreign_key_check` clean, with strongroom's schema at a
// version from 1 to this binary's latest. Returns that version; throws BackupError saying what is
// wrong.
int check_database_file(const std::string& path);

// Replaces the database at db_path by a copy of `file`, which is checked first (above). The
// current database, if any, is kept beside it as <db_path>.before-restore-<stamp> (its -wal, if
// one is left, renamed with it). The caller makes sure that no process uses db_path.
// Returns the kept path, or "" when there was no database. Throws BackupError.
std::string restore_file(const std::string& file, const std::string& db_path);

// 20240131T235959Z
std::string utc_stamp(std::time_t t);
// The time in the name of the newest backup in `dir` (names not of the backup pattern are
// ignored), or nullopt when there is none.
std::optional<std::time_t> newest_backup(const std::string& dir);

}  // namespace sr::backup
