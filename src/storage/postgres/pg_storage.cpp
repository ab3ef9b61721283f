// PostgreSQL engine: a bounded job queue feeding db_pool_size worker threads, one connection each.
// A network thread only enqueues and awaits (run() never blocks it); a full queue or an
// unreachable database fails the job at once with UnavailableError.
//
// Outage behaviour: a worker whose connection is broken (or found closed while idle) reconnects
// before its next job, with the connect bounded by connect_timeout. After a failed connect, the
// whole pool fails jobs immediately for kRetryAfter instead of queueing connect attempts, so
// requests get their 503 quickly; the first job after that window tries again, and service
// resumes by itself once the database answers.
#include "storage/postgres/pg_storage.hpp"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "storage/detail/jobs.hpp"
#include "storage/migrations/migrations.hpp"
#include "storage/postgres/pg_conn.hpp"
#include "storage/postgres/pg_repository.hpp"
#include "util/error.hpp"

namespace sr::storage::postgres {

namespace {

constexpr auto kRetryAfter = std::chrono::milliseconds(500);
constexpr std::size_t kQueuePerConnection = 256;
// Any constant: serializes `migrate` across processes sharing a database.
constexpr int64_t kMigrationLockKey = 0x5352'4d49'4752;  // "SRMIGR"

class PgStorage final : public Storage {
 public:
  PgStorage(std::string conninfo, const StorageOptions& opts)
      : pool_size_(std::max(1, opts.pool_size)),
        queue_(kQueuePerConnection * static_cast<std::size_t>(pool_size_)) {
    conn_opts_.conninfo = std::move(conninfo);
    conn_opts_.connect_timeout_ms = std::max(1, opts.connect_timeout_s) * 1000;
    conn_opts_.statement_timeout_ms = std::max(1, opts.statement_timeout_ms);
    workers_.reserve(static_cast<std::size_t>(pool_size_));
    for (int i = 0; i < pool_size_; ++i) workers_.emplace_back([this] { worker_loop(); });
  }

  ~PgStorage() override { close(); }

  Task<void> run(Access, std::function<void(Repository&)> work) override {
    co_await detail::await_job(queue_, std::move(work));
  }

  void run_sync(Access, const std::function<void(Repository&)>& work) override {
    if (tls_repo_ && tls_owner_ == this) return work(*tls_repo_);  // nested, on a worker
    detail::run_job_sync(queue_, work);
  }

  void migrate() override {
    run_sync(Access::write, [](Repository& r) {
      Conn& c = static_cast<PgRepository&>(r).conn();
      Tx tx(c);
      c.exec("SELECT pg_advisory_xact_lock($1)", Params().i(kMigrationLockKey));
      c.exec_script(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
      std::vector<int64_t> applied;
      auto rows = c.exec("SELECT version::bigint FROM schema_migrations", Params());
      for (int i = 0; i < rows.rows(); ++i) applied.push_back(rows.i64(i, 0));
      for (const auto* m : migrations::pending(migrations::postgresql(), applied)) {
        c.exec_script(m->sql);
        c.exec(
            "INSERT INTO schema_migrations (version, applied_at) "
            "VALUES ($1::bigint::integer, extract(epoch FROM now())::bigint)",
            Params().i(m->version));
      }
      tx.commit();
    });
  }

  int schema_version() override {
    int64_t v = 0;
    run_sync(Access::read, [&](Repository& r) {
      Conn& c = static_cast<PgRepository&>(r).conn();
      if (c.exec("SELECT (to_regclass('schema_migrations') IS NOT NULL)::integer", Params())
              .i64(0, 0) == 0)
        return;
      v = c.exec("SELECT coalesce(max(version), 0)::bigint FROM schema_migrations", Params())
              .i64(0, 0);
    });
    return static_cast<int>(v);
  }

  const char* dialect() const override { return "postgresql"; }

  void close() override {
    if (closed_.exchange(true)) return;
    queue_.close();  // workers drain what is queued, then exit
    for (auto& t : workers_)
      if (t.joinable()) t.join();
  }

 private:
  void worker_loop() {
    Conn conn(conn_opts_);
    PgRepository repo(conn);
    tls_repo_ = &repo;
    tls_owner_ = this;
    while (auto job = queue_.pop()) {
      std::exception_ptr err;
      try {
        ensure_connected(conn);
      } catch (...) {
        err = std::current_exception();
      }
      job->execute(err ? nullptr : &repo, err);
      // Never hand the next job a connection stuck inside a transaction.
      if (conn.connected() && PQtransactionStatus(conn.handle()) != PQTRANS_IDLE) conn.reset();
    }
    tls_repo_ = nullptr;
    tls_owner_ = nullptr;
  }

  void ensure_connected(Conn& conn) {
    if (conn.healthy()) return;
    conn.reset();
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    if (now < retry_at_.load())
      throw sr::UnavailableError("postgresql: database unavailable (retrying shortly)");
    try {
      conn.connect();
    } catch (...) {
      retry_at_.store((std::chrono::steady_clock::now() + kRetryAfter).time_since_epoch().count());
      throw;
    }
  }

  static thread_local PgRepository* tls_repo_;
  static thread_local PgStorage* tls_owner_;

  int pool_size_;
  ConnOptions conn_opts_;
  detail::JobQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<bool> closed_{false};
  std::atomic<std::chrono::steady_clock::rep> retry_at_{0};
};

thread_local PgRepository* PgStorage::tls_repo_ = nullptr;
thread_local PgStorage* PgStorage::tls_owner_ = nullptr;

}  // namespace

std::unique_ptr<Storage> open(const std::string& conninfo, const StorageOptions& opts) {
  return std::make_unique<PgStorage>(conninfo, opts);
}

}  // namespace sr::storage::postgres
