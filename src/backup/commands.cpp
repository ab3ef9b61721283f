#include "backup/commands.hpp"

#include <sys/stat.h>

#include <iostream>

#include "backup/backup.hpp"
#include "backup/control.hpp"
#include "backup/in_server.hpp"
#include "backup/pid_file.hpp"
#include "storage/sqlite/sqlite_db.hpp"
#include "storage/url.hpp"
#include "util/error.hpp"

namespace sr::backup {
namespace {

// The SQLite file of the configuration, or nullopt (after saying why) on PostgreSQL.
std::optional<std::string> sqlite_path(const config::Config& cfg, const char* postgres_advice) {
  // By the scheme alone: saying "use pg_dump" must not need libpq on the machine.
  if (!storage::is_postgresql_url(cfg.database_url))
    return storage::parse_database_url(cfg.database_url).sqlite_path;
  std::cerr << "strongroom: " << postgres_advice << "\n";
  return std::nullopt;
}

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// True when some process holds the database: an exclusive server refuses the lock at once; so
// does any process inside a write. Opening and closing also folds a -wal left by a crash into the
// file, so the copy kept by restore is one file.
bool database_in_use(const std::string& db_path, const char* vfs) {
  if (!is_file(db_path)) return false;
  try {
    storage::sqlite::Db db(db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs);
    db.exec("BEGIN IMMEDIATE");
    db.exec("ROLLBACK");
    return false;
  } catch (const sr::UnavailableError&) {
    return true;
  } catch (const std::exception&) {
    return false;  // not a database at all: restore replaces it (and keeps it)
  }
}

}  // namespace

int backup_command(const config::Config& cfg, int timeout_s) {
  try {
    auto db_path = sqlite_path(cfg, kPostgresBackupAdvice);
    if (!db_path) return 2;
    if (auto pid = pid_file_holder(cfg.data_dir)) {
      std::string answer;
      try {
        answer = control_request(control_socket_path(cfg.data_dir), "backup",
                                 std::chrono::seconds(timeout_s));
      } catch (const std::exception& e) {
        std::cerr << "strongroom: the server (pid " << *pid << ") of " << cfg.data_dir
                  << " runs but did not answer: " << e.what() << "\n";
        return 1;
      }
      if (answer.starts_with("ok ") && is_file(answer.substr(3))) {
        std::cout << answer.substr(3) << "\n";
        return 0;
      }
      std::cerr << "strongroom: backup failed (server pid " << *pid
                << "): " << (answer.starts_with("error ") ? answer.substr(6) : answer) << "\n";
      return 1;
    }
    Target t;
    t.db_path = *db_path;
    t.vfs = cfg.sqlite_exclusive ? "unix-excl" : nullptr;
    t.dir = cfg.backup_dir;
    t.keep = cfg.backup_keep;
    Made m = make_backup(t);
    std::cerr << "strongroom: no server runs on " << cfg.data_dir
              << ": copied the database directly (schema version " << m.schema_version << ", "
              << m.bytes << " bytes, " << m.removed << " old backup(s) removed)\n";
    std::cout << m.path << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "strongroom: backup failed: " << e.what() << "\n";
    return 1;
  }
}

int restore_command(const config::Config& cfg, const std::string& file) {
  try {
    auto db_path = sqlite_path(
        cfg,
        "strongroom restore puts a backup of the embedded SQLite database in place; this "
        "configuration uses PostgreSQL: restore with pg_restore (a pg_dump file) or the "
        "database's point-in-time recovery. See docs/operations.md, \"Backups and restore\".");
    if (!db_path) return 2;
    if (auto pid = pid_file_holder(cfg.data_dir)) {
      std::cerr << "strongroom: refusing to restore: a server (pid " << *pid << ") runs on "
                << cfg.data_dir << "; stop it first\n";
      return 1;
    }
    if (database_in_use(*db_path, cfg.sqlite_exclusive ? "unix-excl" : nullptr)) {
      std::cerr << "strongroom: refusing to restore: " << *db_path
                << " is in use by another process; stop it first\n";
      return 1;
    }
    std::string kept = restore_file(file, *db_path);
    std::cout << "strongroom: restored " << file << " to " << *db_path << "\n";
    if (!kept.empty()) std::cout << "strongroom: the previous database is kept as " << kept << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "strongroom: restore failed: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace sr::backup
