#include "backup/backup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "storage/migrations/migrations.hpp"
#include "storage/sqlite/sqlite_db.hpp"
#include "util/clock.hpp"
#include "util/random.hpp"

namespace sr::backup {
namespace {

using storage::sqlite::Db;
using storage::sqlite::Query;

constexpr std::string_view kPrefix = "strongroom-";
constexpr std::string_view kSuffix = ".db";
constexpr std::size_t kStampLen = 16;  // YYYYMMDDTHHMMSSZ
constexpr std::string_view kTempPrefix = ".strongroom-";
constexpr std::string_view kTempSuffix = ".tmp";
// A temporary file this old was left by a backup that died (a crash, kill -9): removed.
constexpr std::time_t kStaleTempSeconds = 3600;

[[noreturn]] void fail_errno(const std::string& what, const std::string& path) {
  throw BackupError(what + " " + path + ": " + std::strerror(errno));
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) fail_errno("cannot open", path);
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  errno = e;
  if (rc != 0) fail_errno("cannot fsync", path);
}

// One level, 0700; the parent must exist (a typo in backup_dir must not grow a tree). An existing
// directory is left as it is.
void ensure_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) return;
  if (errno != EEXIST) fail_errno("cannot create the directory (its parent must exist)", dir);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw BackupError("not a directory: " + dir);
}

// A new file, mode 0600, removed again unless release()d. Run as root (a restore or a backup from
// the command line), the file is given to the owner of its directory: the service user must be
// able to open what root put in its data directory.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) fail_errno("cannot create", path_);
    struct stat dir {};
    if (::geteuid() == 0 && ::stat(dir_of(path_).c_str(), &dir) == 0 &&
        ::fchown(fd_, dir.st_uid, dir.st_gid) != 0) {
      int e = errno;
      discard();
      errno = e;
      fail_errno("cannot give to the directory's owner", path_);
    }
  }
  ~TempFile() { discard(); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  void release() {
    ::close(fd_);
    fd_ = -1;
    path_.clear();
  }

 private:
  void discard() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!path_.empty()) ::unlink(path_.c_str());
    path_.clear();
  }
  std::string path_;
  int fd_ = -1;
};

bool is_backup_name(std::string_view n) {
  if (n.size() != kPrefix.size() + kStampLen + kSuffix.size() || !n.starts_with(kPrefix) ||
      !n.ends_with(kSuffix))
    return false;
  auto s = n.substr(kPrefix.size(), kStampLen);
  for (std::size_t i = 0; i < kStampLen; ++i) {
    char want = i == 8 ? 'T' : i == 15 ? 'Z' : 0;
    if (want ? s[i] != want : (s[i] < '0' || s[i] > '9')) return false;
  }
  return true;
}

// Calls f(name) for every entry of dir except . and ..
template <class F>
void each_entry(const std::string& dir, F&& f) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) fail_errno("cannot read the directory", dir);
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") f(std::string(n));
  }
  ::closedir(d);
}

std::vector<std::string> backup_names(const std::string& dir) {
  std::vector<std::string> out;
  each_entry(dir, [&](std::string n) {
    if (is_backup_name(n)) out.push_back(std::move(n));
  });
  std::sort(out.begin(), out.end());  // the stamp sorts by time
  return out;
}

void remove_stale_temps(const std::string& dir) {
  std::time_t now = std::time(nullptr);
  each_entry(dir, [&](const std::string& n) {
    if (!std::string_view(n).starts_with(kTempPrefix) ||
        !std::string_view(n).ends_with(kTempSuffix))
      return;
    std::string p = dir + "/" + n;
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0 && now - st.st_mtime > kStaleTempSeconds) ::unlink(p.c_str());
  });
}

int rotate(const std::string& dir, int keep) {
  auto names = backup_names(dir);
  int removed = 0;
  for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < names.size(); ++i) {
    std::string p = dir + "/" + names[i];
    if (::unlink(p.c_str()) == 0) ++removed;
  }
  return removed;
}

int latest_schema_version() {
  auto all = storage::migrations::sqlite();
  return all.empty() ? 0 : all.back().version;
}

// The live database, read by a connection of its own: the server's writer is never involved.
std::unique_ptr<Db> open_source(const Target& t, bool query_only) {
  if (!exists(t.db_path)) throw BackupError("no database at " + t.db_path);
  auto src = std::make_unique<Db>(
      t.db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, t.vfs);
  sqlite3_busy_timeout(src->handle(), 5000);
  if (query_only) src->exec("PRAGMA query_only = ON");
  return src;
}

// One step of -1 pages: the whole copy inside one read transaction, so it is one snapshot even
// while the server writes (an incremental copy restarts whenever another connection writes, and
// might never finish under load).
void copy_online(const Target& t, const std::string& tmp) {
  auto src = open_source(t, true);
  Db dst(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW);
  // The copy is a scratch file until it is checked and fsynced as a whole: no journal and no
  // syncs while it is written (each would flush the pages written so far, and the server's
  // commits would queue behind those flushes).
  dst.exec("PRAGMA journal_mode = OFF");
  dst.exec("PRAGMA synchronous = OFF");
  sqlite3_backup* b = sqlite3_backup_init(dst.handle(), "main", src->handle(), "main");
  if (!b) throw BackupError(std::string("sqlite backup: ") + sqlite3_errmsg(dst.handle()));
  int rc = SQLITE_OK;
  for (int tries = 0; tries < 100; ++tries) {
    rc = sqlite3_backup_step(b, -1);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
    sqlite3_sleep(50);
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE)
    throw BackupError(std::string("sqlite backup: ") + sqlite3_errstr(rc) + " (" +
                      sqlite3_errmsg(dst.handle()) + ")");
}

void copy_vacuum(const Target& t, const std::string& tmp) {
  auto src = open_source(t, false);  // VACUUM INTO counts as a write under query_only
  Query(*src, "VACUUM INTO ?").bind(tmp).run();
}

void copy_bytes(const std::string& from, const TempFile& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) fail_errno("cannot open", from);
  struct stat st {};
  if (::fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(in);
    throw BackupError("not a regular file: " + from);
  }
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(in);
      errno = e;
      fail_errno("cannot read", from);
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(to.fd(), buf.data() + off, static_cast<std::size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        int e = errno;
        ::close(in);
        errno = e;
        fail_errno("cannot write", to.path());
      }
      off += w;
    }
  }
  ::close(in);
}

int64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

void move(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) fail_errno("cannot rename to " + to + ":", from);
}

}  // namespace

std::string utc_stamp(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::optional<std::time_t> newest_backup(const std::string& dir) {
  if (!exists(dir)) return std::nullopt;
  auto names = backup_names(dir);
  if (names.empty()) return std::nullopt;
  std::tm tm{};
  if (!::strptime(names.back().c_str() + kPrefix.size(), "%Y%m%dT%H%M%SZ", &tm))
    return std::nullopt;
  return ::timegm(&tm);
}

int check_database_file(const std::string& path) {
  try {
    Db db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW);
    {
      // One self-contained file: a backup must not depend on a -wal beside it.
      Query q(db, "PRAGMA journal_mode = DELETE");
      if (!q.step() || q.text(0) != "delete")
        throw BackupError(path + ": cannot be made a single file (journal_mode)");
    }
    {
      Query q(db, "PRAGMA integrity_check");
      std::string first;
      int rows = 0;
      while (q.step())
        if (rows++ == 0) first = q.text(0);
      if (rows != 1 || first != "ok")
        throw BackupError(path + ": integrity_check failed: " + first.substr(0, 200));
    }
    {
      Query q(db, "PRAGMA foreign_key_check");
      if (q.step())
        throw BackupError(path + ": foreign_key_check found rows of " + q.text(0) +
                          " that point nowhere");
    }
    Query t(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
    if (!t.step()) throw BackupError(path + ": not a strongroom database (no schema_migrations)");
    Query v(db, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    v.step();
    int64_t version = v.i64(0);
    int latest = latest_schema_version();
    if (version < 1) throw BackupError(path + ": no schema migration recorded");
    if (version > latest)
      throw BackupError(path + ": schema version " + std::to_string(version) +
                        " is newer than this binary's (" + std::to_string(latest) +
                        "): use the strongroom release that made it");
    return static_cast<int>(version);
  } catch (const BackupError&) {
    throw;
  } catch (const std::exception& e) {
    throw BackupError(path + ": not a usable SQLite database (" + e.what() + ")");
  }
}

Made make_backup(const Target& t, Method m) {
  const int64_t t0 = mono_ns();
  ensure_dir(t.dir);
  remove_stale_temps(t.dir);
  const std::string stamp = utc_stamp(std::time(nullptr));
  TempFile tmp(t.dir + "/" + std::string(kTempPrefix) + stamp + "-" + random_token(6) +
               std::string(kTempSuffix));
  try {
    if (m == Method::online_api)
      copy_online(t, tmp.path());
    else
      copy_vacuum(t, tmp.path());
  } catch (const BackupError&) {
    throw;
  } catch (const std::exception& e) {
    throw BackupError(std::string("copy failed: ") + e.what());
  }
  Made made;
  made.schema_version = check_database_file(tmp.path());
  if (::fsync(tmp.fd()) != 0) fail_errno("cannot fsync", tmp.path());
  made.path = t.dir + "/" + std::string(kPrefix) + stamp + std::string(kSuffix);
  // Two backups within one second share a name: the later (newer) one replaces the first.
  move(tmp.path(), made.path);
  tmp.release();
  fsync_path(t.dir, true);
  made.bytes = file_size(made.path);
  made.removed = rotate(t.dir, t.keep);
  made.millis = (mono_ns() - t0) / 1'000'000;
  return made;
}

std::string restore_file(const std::string& file, const std::string& db_path) {
  const std::string dir = dir_of(db_path);
  ensure_dir(dir);
  TempFile tmp(db_path + ".restore-" + random_token(6) + std::string(kTempSuffix));
  copy_bytes(file, tmp);
  if (::fsync(tmp.fd()) != 0) fail_errno("cannot fsync", tmp.path());
  check_database_file(tmp.path());
  fsync_path(tmp.path(), false);  // journal_mode may have rewritten its header

  const std::string kept = db_path + ".before-restore-" + utc_stamp(std::time(nullptr));
  if (exists(kept) || exists(kept + "-wal"))
    throw BackupError(kept + " exists already: try again in a second");
  std::string kept_db;
  if (exists(db_path)) {
    move(db_path, kept);
    kept_db = kept;
  }
  // A -wal left beside the database (a server killed with -9) belongs to the old file: SQLite
  // would replay it into the restored one. It goes with the kept file (SQLite pairs them by
  // name, so the kept database opens with its last commits).
  if (exists(db_path + "-wal")) move(db_path + "-wal", kept + "-wal");
  if (::unlink((db_path + "-shm").c_str()) != 0 && errno != ENOENT)
    fail_errno("cannot remove", db_path + "-shm");
  move(tmp.path(), db_path);
  tmp.release();
  fsync_path(dir, true);
  return kept_db;
}

}  // namespace sr::backup
