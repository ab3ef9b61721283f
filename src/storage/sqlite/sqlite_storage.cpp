// SQLite engine. Threads:
//  - reads run inline on the calling thread, on a connection of that thread's own (thread_local,
//    one per Storage instance and thread) opened query_only; WAL lets them proceed while a write
//    commits, so a read never waits behind a write;
//  - writes are queued to ONE writer thread that owns the only read-write connection: network
//    threads never wait on fsync (synchronous=FULL makes every commit durable before the caller
//    is resumed), and writers never contend for SQLite's lock.
#include "storage/sqlite/sqlite_storage.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "storage/detail/jobs.hpp"
#include "storage/migrations/migrations.hpp"
#include "storage/sqlite/sqlite_db.hpp"
#include "storage/sqlite/sqlite_repository.hpp"

namespace sr::storage::sqlite {

namespace {

constexpr int kBusyTimeoutMs = 5000;
constexpr int kOpenBusyTimeoutMs = 1000;
constexpr std::size_t kWriterQueueCapacity = 10000;

std::string errno_text(int e) {
  return std::strerror(e);
}

// mkdir -p, each created directory 0700. Existing directories are left as they are.
void make_dirs(const std::string& dir) {
  if (dir.empty()) return;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw std::runtime_error("sqlite: not a directory: " + dir);
    return;
  }
  auto slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) make_dirs(dir.substr(0, slash));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw std::runtime_error("sqlite: cannot create directory " + dir + ": " + errno_text(errno));
  ::chmod(dir.c_str(), 0700);  // in case the umask was stricter than we want to be obvious
}

// Creates the file 0600 if missing (so SQLite, which gives -wal/-shm the database file's mode,
// never creates anything wider), and tightens an existing one that is group/world accessible.
void prepare_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw std::runtime_error("sqlite: cannot open " + path + ": " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) ::fchmod(fd, 0600);
  ::close(fd);
}

void tighten(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) ::chmod(path.c_str(), 0600);
}

std::atomic<uint64_t> next_instance_id{1};

struct Reader {
  Reader(const std::string& path, const char* vfs, std::shared_ptr<std::atomic<bool>> alive)
      : db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs),
        repo(db),
        alive(std::move(alive)) {
    sqlite3_busy_timeout(db.handle(), kBusyTimeoutMs);
    // A read connection must not write: a write here would bypass the writer and contend for
    // the lock on a network thread. Misuse (a write under Access::read) fails loudly instead.
    db.exec("PRAGMA query_only = ON");
  }
  Db db;
  SqliteRepository repo;
  std::shared_ptr<std::atomic<bool>> alive;  // false once the owning Storage is closed
};

// Per thread: one reader per live Storage instance, keyed by a never-reused instance id.
thread_local std::unordered_map<uint64_t, std::unique_ptr<Reader>> tls_readers;

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(std::string path, const StorageOptions& opts)
      : path_(std::move(path)),
        vfs_(opts.sqlite_exclusive ? "unix-excl" : nullptr),
        queue_(kWriterQueueCapacity) {
    auto slash = path_.find_last_of('/');
    if (slash != std::string::npos && slash > 0) make_dirs(path_.substr(0, slash));
    prepare_file(path_);
    writer_db_ = std::make_unique<Db>(
        path_,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
        vfs_);
    // The first read takes the process lock when exclusive: wait briefly for it, then say
    // plainly who is in the way instead of a bare "database is locked".
    sqlite3_busy_timeout(writer_db_->handle(), kOpenBusyTimeoutMs);
    try {
      Query q(*writer_db_, "PRAGMA journal_mode = WAL");
      if (!q.step() || q.text(0) != "wal")
        throw std::runtime_error("sqlite: cannot enable WAL on " + path_);
    } catch (const sr::UnavailableError&) {
      throw std::runtime_error(
          "sqlite: " + path_ + " is in use by another process" +
          (vfs_ ? " (strongroom holds its SQLite database exclusively while it runs: stop the "
                  "other process, or set sqlite_exclusive = false on every process that opens it)"
                : ""));
    }
    sqlite3_busy_timeout(writer_db_->handle(), kBusyTimeoutMs);
    writer_db_->exec("PRAGMA synchronous = FULL");  // a commit is on disk before it is answered
    writer_db_->exec("PRAGMA foreign_keys = ON");
    tighten(path_ + "-wal");
    tighten(path_ + "-shm");
    writer_repo_ = std::make_unique<SqliteRepository>(*writer_db_);
    writer_ = std::thread([this] { writer_loop(); });
  }

  ~SqliteStorage() override { close(); }

  // All the reads of one unit of work share one read transaction: one consistent snapshot, and
  // one round of file and WAL-index locking (fcntl, SQLite's global unix-VFS mutex) instead of
  // one per statement -- measured as ~10% of the CPU of an authenticated GET before.
  void read_now(const std::function<void(Repository&)>& work) {
    Reader& r = reader();
    Query(r.db, "BEGIN").run();
    try {
      work(r.repo);
    } catch (...) {
      sqlite3_exec(r.db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    Query(r.db, "COMMIT").run();
  }

  Task<void> run(Access access, std::function<void(Repository&)> work) override {
    if (access == Access::read) {
      read_now(work);
      co_return;
    }
    co_await detail::await_job(queue_, std::move(work));
  }

  void run_sync(Access access, const std::function<void(Repository&)>& work) override {
    if (access == Access::read) return read_now(work);
    if (std::this_thread::get_id() == writer_id_) return work(*writer_repo_);  // nested
    detail::run_job_sync(queue_, work);
  }

  void migrate() override {
    run_sync(Access::write, [](Repository& r) {
      Db& db = static_cast<SqliteRepository&>(r).db();
      Tx tx(db);
      db.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
      std::vector<int64_t> applied;
      for (Query q(db, "SELECT version FROM schema_migrations"); q.step();)
        applied.push_back(q.i64(0));
      for (const auto* m : migrations::pending(migrations::sqlite(), applied)) {
        db.exec(m->sql);
        Query q(db, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, unixepoch())");
        q.bind(int64_t{m->version}).run();
      }
      tx.commit();
    });
  }

  int schema_version() override {
    int64_t v = 0;
    run_sync(Access::read, [&](Repository& r) {
      Db& db = static_cast<SqliteRepository&>(r).db();
      Query t(db,
              "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
      if (!t.step()) return;
      Query q(db, "SELECT coalesce(max(version), 0) FROM schema_migrations");
      q.step();
      v = q.i64(0);
    });
    return static_cast<int>(v);
  }

  const char* dialect() const override { return "sqlite"; }

  void close() override {
    if (closed_.exchange(true)) return;
    alive_->store(false);
    queue_.close();  // the writer drains what is queued, then exits
    if (writer_.joinable()) writer_.join();
    writer_repo_.reset();
    writer_db_.reset();
    tls_readers.erase(id_);
  }

 private:
  void writer_loop() {
    writer_id_ = std::this_thread::get_id();
    while (auto job = queue_.pop()) job->execute(writer_repo_.get(), nullptr);
  }

  Reader& reader() {
    if (closed_) throw sr::UnavailableError("storage is closed");
    auto it = tls_readers.find(id_);
    if (it != tls_readers.end()) return *it->second;
    // Drop this thread's readers of storages closed since (their files may be gone).
    for (auto i = tls_readers.begin(); i != tls_readers.end();) {
      if (!i->second->alive->load())
        i = tls_readers.erase(i);
      else
        ++i;
    }
    auto r = std::make_unique<Reader>(path_, vfs_, alive_);
    return *tls_readers.emplace(id_, std::move(r)).first->second;
  }

  const uint64_t id_ = next_instance_id.fetch_add(1);
  std::string path_;
  const char* vfs_;  // "unix-excl" (sqlite_exclusive) or nullptr (SQLite's default)
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  std::atomic<bool> closed_{false};
  std::unique_ptr<Db> writer_db_;
  std::unique_ptr<SqliteRepository> writer_repo_;
  detail::JobQueue queue_;
  std::thread writer_;
  std::atomic<std::thread::id> writer_id_{};
};

}  // namespace

std::unique_ptr<Storage> open(const std::string& path, const StorageOptions& opts) {
  return std::make_unique<SqliteStorage>(path, opts);
}

}  // namespace sr::storage::sqlite
