#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "api/context.hpp"
#include "api/net.hpp"
#include "api/routes.hpp"
#include "app/app.hpp"
#include "auth/hash_pool.hpp"
#include "backup/in_server.hpp"
#include "http/server.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "ratelimit/limiter.hpp"
#include "storage/repository.hpp"
#include "ui/ui.hpp"
#include "util/clock.hpp"

namespace sr::app {
namespace {

obs::Level parse_level(const std::string& s) {
  if (s == "debug") return obs::Level::debug;
  if (s == "warn" || s == "warning") return obs::Level::warn;
  if (s == "error") return obs::Level::error;
  return obs::Level::info;
}

storage::StorageOptions storage_options(const config::Config& cfg) {
  storage::StorageOptions o;
  o.url = cfg.database_url;
  o.pool_size = cfg.db_pool_size;
  o.statement_timeout_ms = cfg.db_statement_timeout_ms;
  o.sqlite_exclusive = cfg.sqlite_exclusive;
  return o;
}

// Deletes expired sessions and blocklist rows every few minutes, on its own thread.
class Purger {
 public:
  explicit Purger(storage::Storage& db) : db_(db), thread_([this] { loop(); }) {}
  ~Purger() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void loop() {
    std::unique_lock lk(mu_);
    while (!stop_) {
      lk.unlock();
      try {
        int64_t n = 0;
        db_.run_sync(storage::Access::write,
                     [&](storage::Repository& r) { n = r.purge_expired(now_unix()); });
        if (n) obs::log(obs::Level::info, "storage.purge", {{"rows", n}});
      } catch (const std::exception&) {
        obs::log(obs::Level::warn, "storage.purge.failed");
      }
      lk.lock();
      cv_.wait_for(lk, std::chrono::minutes(5), [this] { return stop_; });
    }
  }
  storage::Storage& db_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Counts the database connections running an operation, for the pool-use gauge of /metrics
// (SPEC 9). The count is taken inside the work, which runs on a connection of the backend's own:
// PostgreSQL's pool, SQLite's per-thread readers and its writer; a request's read (read()) counts
// from its start to its answer (on PostgreSQL it has no job: it waits in its thread's pipeline).
class MeteredStorage final : public storage::Storage {
 public:
  explicit MeteredStorage(std::unique_ptr<storage::Storage> inner) : inner_(std::move(inner)) {}
  Task<void> run(storage::Access access, std::function<void(storage::Repository&)> work) override {
    return inner_->run(access, counted(std::move(work)));
  }
  Task<void> read(storage::ReadBatch& b) override {
    Busy busy{in_use_};
    co_await inner_->read(b);
  }
  void run_sync(storage::Access access,
                const std::function<void(storage::Repository&)>& work) override {
    inner_->run_sync(access, counted(work));
  }
  void migrate() override { inner_->migrate(); }
  int schema_version() override { return inner_->schema_version(); }
  const char* dialect() const override { return inner_->dialect(); }
  void close() override { inner_->close(); }
  int in_use() const { return in_use_.load(std::memory_order_relaxed); }

 private:
  struct Busy {  // one operation running while it lives
    explicit Busy(std::atomic<int>& n) : n(n) { n.fetch_add(1, std::memory_order_relaxed); }
    ~Busy() { n.fetch_sub(1, std::memory_order_relaxed); }
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;
    std::atomic<int>& n;
  };
  std::function<void(storage::Repository&)> counted(std::function<void(storage::Repository&)> w) {
    return [this, w = std::move(w)](storage::Repository& r) {
      Busy busy{in_use_};
      w(r);
    };
  }
  std::unique_ptr<storage::Storage> inner_;
  std::atomic<int> in_use_{0};
};

void harden_process(const config::Config& cfg) {
  if (cfg.profile == "production") {
    // Key material lives in this process's memory: no core dumps, no ptrace by other users.
    rlimit rl{0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  }
}

}  // namespace

int serve(config::Config cfg, const ServeOptions& opts) {
  // Everything this process creates (SQLite files, secrets, rotating logs) is for its owner only.
  umask(077);
  // Block the stop signals in every thread; one thread waits for them with sigwait.
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGUSR1);  // not a stop: a backup (SPEC 16)
  sigaddset(&stop_set, SIGHUP);   // not a stop: re-read the TLS certificate and key
  pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  obs::init_logging({true, cfg.log_file, parse_level(cfg.log_level)});
  // Every way out of here -- the early returns (2, 3, 4) and exceptions included -- stops the
  // log's flusher thread, after everything declared below is gone. Left running into exit(), it
  // walked the per-thread log buffers while static destruction freed them (a heap-use-after-free
  // whose ASan report then deadlocked with the leak check: a hung server in the ASan suite).
  struct StopLogging {
    ~StopLogging() { obs::shutdown_logging(); }
  } stop_logging;
  for (auto& w : cfg.warnings) obs::log(obs::Level::warn, "config.warning", {{"detail", w}});

  if (cfg.profile == "production") {
    auto problems = config::production_problems(cfg);
    if (!problems.empty()) {
      std::cerr << "strongroom: refusing to start in the production profile:\n";
      for (auto& p : problems) {
        std::cerr << "  - " << p << "\n";
        obs::log(obs::Level::error, "config.production_refused", {{"problem", p}});
      }
      obs::flush_logs();
      return 2;
    }
  }
  config::prepare_secrets(cfg);
  harden_process(cfg);

  std::unique_ptr<MeteredStorage> db;
  try {
    db = std::make_unique<MeteredStorage>(storage::open_storage(storage_options(cfg)));
    if (opts.migrate && cfg.migrate_on_start) db->migrate();
  } catch (const std::exception& e) {
    std::cerr << "strongroom: storage: " << e.what() << "\n";
    obs::log(obs::Level::error, "storage.open_failed", {{"detail", e.what()}});
    obs::flush_logs();
    return 3;
  }

  // Optional so that it can be destroyed before the server (see the end of this function).
  std::optional<auth::HashPool> hashes;
  hashes.emplace(cfg.hash_workers, static_cast<std::size_t>(cfg.hash_max_queue));
  std::shared_ptr<ratelimit::Limiter> memory_limiter = ratelimit::make_memory_limiter();
  std::unique_ptr<ratelimit::Limiter> redis_limiter;
  if (!cfg.redis_url.empty()) {
    redis_limiter =
        ratelimit::make_redis_limiter(cfg.redis_url, memory_limiter, [](std::string_view w) {
          obs::log(obs::Level::warn, "ratelimit.redis", {{"detail", w}});
        });
  }
  ratelimit::Limiter& limiter = redis_limiter ? *redis_limiter : *memory_limiter;
  obs::Metrics metrics;

  api::Context ctx(cfg, *db, *hashes, limiter, metrics);

  http::Router router;
  api::add_routes(router, ctx);
  if (cfg.ui) ui::add_ui_routes(router);

  http::ServerOptions so;
  so.host = cfg.host;
  so.port = cfg.port;
  so.threads = cfg.threads;
  so.max_connections = cfg.max_connections;
  so.max_connections_per_ip = cfg.max_connections_per_ip;
  so.per_ip_exempt = [&ctx](std::string_view ip) { return ctx.trusted_proxies.contains(ip); };
  so.client_ip = [&ctx](std::string_view peer, std::string_view xff) {
    return api::client_ip(peer, xff, ctx.trusted_proxies);
  };
  so.fd_headroom = 64 + cfg.db_pool_size + 4 * cfg.threads;
  so.idle_timeout = std::chrono::seconds(cfg.idle_timeout);
  so.cors_origins = cfg.cors_origins;
  so.hsts = cfg.cookie_secure;
  so.tls_cert = cfg.tls_cert;
  so.tls_key = cfg.tls_key;
  so.redirect_host = cfg.redirect_host;
  so.redirect_port = cfg.redirect_port;
  http::Server server(so, router, metrics);
  metrics.gauge("strongroom_hash_queue", "Password hashes waiting for a worker",
                [&hashes] { return hashes ? static_cast<double>(hashes->queued()) : 0.0; });
  metrics.gauge("strongroom_hash_running", "Password hashes running",
                [&hashes] { return hashes ? static_cast<double>(hashes->running()) : 0.0; });
  metrics.gauge("strongroom_db_connections_in_use", "Database connections running an operation",
                [&db] { return static_cast<double>(db->in_use()); });
  metrics.gauge("strongroom_ratelimit_keys", "Rate-limit keys held in memory",
                [&memory_limiter] { return static_cast<double>(memory_limiter->size()); });

  // The pid file, and on SQLite scheduled backups, SIGUSR1 and the control socket.
  std::optional<backup::InServer> backups;
  backups.emplace(cfg, db->dialect(), metrics);

  uint16_t port = 0;
  try {
    port = server.start();
  } catch (const std::exception& e) {
    std::cerr << "strongroom: " << e.what() << "\n";
    obs::log(obs::Level::error, "listen.failed", {{"detail", e.what()}});
    obs::flush_logs();
    return 4;
  }
  obs::log_always(obs::Level::info, "listening",
                  {{"host", cfg.host},
                   {"port", static_cast<int64_t>(port)},
                   {"profile", cfg.profile},
                   {"database", db->dialect()},
                   {"threads", cfg.threads},
                   {"tls", !cfg.tls_cert.empty()},
                   {"redirect_port", static_cast<int64_t>(server.redirect_port())},
                   {"rate_limits", redis_limiter ? "redis" : "memory"}});
  obs::flush_logs();

  std::atomic<bool> finished{false};
  std::thread signals([&] {
    int sig = 0;
    while (sigwait(&stop_set, &sig) == 0) {
      if (finished.load()) return;
      if (sig == SIGUSR1) {
        backups->on_signal();
        continue;
      }
      if (sig == SIGHUP) {
        obs::log(obs::Level::info, "reload", {{"signal", sig}});
        server.reload_tls();
        continue;
      }
      obs::log(obs::Level::info, "shutdown", {{"signal", sig}});
      server.stop();
      return;
    }
  });
  {
    Purger purger(*db);
    server.run();
  }
  // The hash pool and the Redis limiter complete their pending jobs by posting to the executors
  // of the awaiting coroutines: they must go while the server's io_contexts still exist (stopped,
  // not yet destroyed). Declared before the server, they would otherwise be destroyed after it,
  // and a shutdown with hashes still queued (signin flood beyond the grace period) would post to
  // freed io_contexts. (ratelimit/limiter.hpp states the same order for the Redis limiter.)
  hashes.reset();
  redis_limiter.reset();
  finished = true;
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  backups.reset();
  db->close();
  obs::log(obs::Level::info, "stopped");
  return 0;  // stop_logging hands the last lines over
}

int migrate(const config::Config& cfg) {
  umask(077);
  try {
    auto db = storage::open_storage(storage_options(cfg));
    db->migrate();
    std::cout << "strongroom: " << db->dialect() << " schema at version " << db->schema_version()
              << "\n";
    db->close();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "strongroom: migrate failed: " << e.what() << "\n";
    return 3;
  }
}

int check(const config::Config& cfg, bool deploy) {
  auto findings = config::check(cfg, deploy);
  int errors = 0, warnings = 0;
  for (auto& f : findings) {
    const char* sev = f.severity == config::Severity::error     ? "ERROR"
                      : f.severity == config::Severity::warning ? "WARNING"
                                                                : "INFO";
    if (f.severity == config::Severity::error) ++errors;
    if (f.severity == config::Severity::warning) ++warnings;
    std::cout << "[" << sev << "] " << f.key << ": " << f.message << "\n    fix: " << f.fix << "\n";
  }
  std::cout << findings.size() << " finding(s): " << errors << " error(s), " << warnings
            << " warning(s)\n";
  return errors ? 1 : 0;
}

}  // namespace sr::app
