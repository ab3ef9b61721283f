// PostgreSQL engine.
//
// run() -- the network threads: the job runs on a fiber of the calling thread's io_context
// (PgLoop, pg_loop.hpp). Read jobs share the thread's pipelined read connection; write jobs lease
// a connection of the thread's own. No job hops threads; only connecting does (Connector).
//
// run_sync() -- the CLI, the purger, tests: the job runs on the calling thread, blocking it, on a
// connection of a small pool (at most db_pool_size, opened on demand, kept).
//
// Outage behaviour, both paths: a connection found broken (or closed while idle) is replaced
// before use, the connect bounded by connect_timeout; after a failed connect every request fails
// at once for Shared::kRetryAfter instead of queueing connect attempts, so requests get their 503
// quickly; the first one after that window tries again, and service resumes by itself.
#include "storage/postgres/pg_storage.hpp"

#include <atomic>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "storage/detail/jobs.hpp"
#include "storage/migrations/migrations.hpp"
#include "storage/postgres/pg_conn.hpp"
#include "storage/postgres/pg_loop.hpp"
#include "storage/postgres/pg_repository.hpp"
#include "util/error.hpp"

namespace sr::storage::postgres {

namespace {

// Any constant: serializes `migrate` across processes sharing a database.
constexpr int64_t kMigrationLockKey = 0x5352'4d49'4752;  // "SRMIGR"

std::atomic<uint64_t> next_storage_id{1};

// The connections of run_sync: taken by one caller at a time, reconnected when found broken.
class SyncPool {
 public:
  explicit SyncPool(Shared& s) : shared_(s) {}

  std::unique_ptr<Conn> take() {
    std::unique_ptr<Conn> c;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closed_ || !idle_.empty() || count_ < shared_.pool_size; });
      if (closed_) throw sr::UnavailableError("storage is closed");
      if (!idle_.empty()) {
        c = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++count_;
      }
    }
    if (!c) c = std::make_unique<Conn>(shared_.opts);
    try {
      ensure_connected(*c);
    } catch (...) {
      give(std::move(c));  // it reconnects for a later caller
      throw;
    }
    return c;
  }

  void give(std::unique_ptr<Conn> c) {
    // Never hand the next caller a connection stuck inside a transaction.
    if (c->connected() && libpq().PQtransactionStatus(c->handle()) != PQTRANS_IDLE) c->reset();
    std::lock_guard lock(mu_);
    if (closed_) {
      --count_;
      return;  // closed here, outside nobody's way
    }
    idle_.push_back(std::move(c));
    cv_.notify_one();
  }

  void close() {
    std::vector<std::unique_ptr<Conn>> idle;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      idle.swap(idle_);
      count_ -= static_cast<int>(idle.size());
      cv_.notify_all();
    }
  }

 private:
  void ensure_connected(Conn& c) {
    if (c.healthy()) return;
    c.reset();
    if (shared_.retry_later())
      throw sr::UnavailableError("postgresql: database unavailable (retrying shortly)");
    try {
      c.connect();
    } catch (...) {
      shared_.connect_failed();
      throw;
    }
  }

  Shared& shared_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  int count_ = 0;
  bool closed_ = false;
};

// What PgStorage::read waits for: the results land in the caller's frame, then its handler runs
// (inline when the loop runs on the caller's thread, its own io_context's: no hand-off).
template <class Handler>
class ReadOp final : public ReadWaiter {
 public:
  ReadOp(Handler handler, std::vector<Result>& out)
      : handler_(std::move(handler)),
        out_(out),
        executor_(detail::tracked_executor(handler_)) {}

  void answered(std::vector<Result> results, std::exception_ptr failed) override {
    out_ = std::move(results);
    boost::asio::dispatch(executor_,
                          [h = std::move(handler_), failed]() mutable { std::move(h)(failed); });
  }

 private:
  Handler handler_;
  std::vector<Result>& out_;
  detail::TrackedExecutor<Handler> executor_;
};

// The repository of the run_sync job running on this thread (nested run_sync reuses it).
thread_local const void* tls_sync_owner = nullptr;
thread_local Repository* tls_sync_repo = nullptr;

class PgStorage final : public Storage {
 public:
  PgStorage(std::string conninfo, const StorageOptions& opts)
      : shared_(std::make_shared<Shared>(next_storage_id.fetch_add(1), conn_options(conninfo, opts),
                                         std::max(1, opts.pool_size))),
        sync_(*shared_) {}

  ~PgStorage() override { close(); }

  Task<void> run(Access access, std::function<void(Repository&)> work) override {
    if (shared_->closed) throw sr::UnavailableError("storage is closed");
    auto loop = loop_of(co_await boost::asio::this_coro::executor);
    co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                         void(std::exception_ptr)>(
        [&](auto handler) {
          using H = decltype(handler);
          loop->start(access,
                      std::make_unique<detail::AsyncJob<H>>(std::move(work), std::move(handler)));
        },
        boost::asio::use_awaitable);
  }

  // The request's read as a pipeline of its own loop (the statements of PgRepository::read_batch),
  // answered on the loop without a job, a fiber or a hand-off: the caller resumes as soon as its
  // result is in (docs/storage.md, "Threads").
  Task<void> read(ReadBatch& b) override {
    if (shared_->closed) throw sr::UnavailableError("storage is closed");
    Batch q;
    const unsigned plan = PgRepository::plan_read(b.want, q);
    if (!plan) co_return;
    auto loop = loop_of(co_await boost::asio::this_coro::executor);
    std::vector<Result> results;
    co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                         void(std::exception_ptr)>(
        [&](auto handler) {
          using H = decltype(handler);
          loop->read(q, std::make_unique<ReadOp<H>>(std::move(handler), results));
        },
        boost::asio::use_awaitable);
    PgRepository::take_read(b, plan, results);
  }

  void run_sync(Access, const std::function<void(Repository&)>& work) override {
    if (Repository* nested = current()) return work(*nested);
    auto c = sync_.take();
    struct Give {  // the connection goes back whatever the work does
      SyncPool& pool;
      std::unique_ptr<Conn>& c;
      const void* owner;
      Repository* repo;
      ~Give() {
        tls_sync_owner = owner;
        tls_sync_repo = repo;
        pool.give(std::move(c));
      }
    } give{sync_, c, tls_sync_owner, tls_sync_repo};
    PgRepository repo(*c);
    tls_sync_owner = this;
    tls_sync_repo = &repo;
    work(repo);
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

  // Jobs running on the loops finish on their threads; the loops close their connections once
  // idle (or with their io_context). Connect attempts under way finish within the connect
  // timeout.
  void close() override {
    if (shared_->closed.exchange(true)) return;
    std::vector<std::shared_ptr<PgLoop>> loops;
    {
      std::lock_guard lock(shared_->mu);
      for (auto& w : shared_->registry)
        if (auto l = w.lock()) loops.push_back(std::move(l));
      shared_->registry.clear();
    }
    for (auto& l : loops) l->close();
    sync_.close();
    shared_->connector.stop();
  }

 private:
  // The loop of the caller's io_context (made on its first use there).
  std::shared_ptr<PgLoop> loop_of(const boost::asio::any_io_executor& ex) {
    auto& ctx = boost::asio::query(ex, boost::asio::execution::context);
    return boost::asio::use_service<PgService>(ctx).loop(ex, shared_);
  }

  static ConnOptions conn_options(const std::string& conninfo, const StorageOptions& opts) {
    ConnOptions o;
    o.conninfo = conninfo;
    o.connect_timeout_ms = std::max(1, opts.connect_timeout_s) * 1000;
    o.statement_timeout_ms = std::max(1, opts.statement_timeout_ms);
    return o;
  }

  // The repository of a job of this storage running on this thread: a run_sync job, or the job
  // of the fiber that is running.
  Repository* current() const {
    if (tls_sync_owner == this) return tls_sync_repo;
    if (auto* r = static_cast<Run*>(Fiber::current()); r && r->owner == shared_.get())
      return r->repo;
    return nullptr;
  }

  std::shared_ptr<Shared> shared_;
  SyncPool sync_;
};

}  // namespace

std::unique_ptr<Storage> open(const std::string& conninfo, const StorageOptions& opts) {
  return std::make_unique<PgStorage>(conninfo, opts);
}

}  // namespace sr::storage::postgres
