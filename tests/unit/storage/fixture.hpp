// The storage conformance fixture: every TEST_P runs against SQLite (a fresh temp dir) and against
// PostgreSQL (SR_TEST_PG_URL, schema dropped and re-created per test). Without SR_TEST_PG_URL the
// PostgreSQL instances FAIL, unless SR_TEST_ALLOW_NO_PG=1 says skipping is acceptable.
#pragma once
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "storage/repository.hpp"

namespace sr::storage::test {

enum class Backend { sqlite, postgresql };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& i) {
  return i.param == Backend::sqlite ? "SQLite" : "PostgreSQL";
}

inline std::string pg_url() {
  const char* u = std::getenv("SR_TEST_PG_URL");
  return u ? u : "";
}

inline bool pg_may_skip() {
  const char* a = std::getenv("SR_TEST_ALLOW_NO_PG");
  return a && std::string(a) == "1";
}

#define SR_REQUIRE_PG()                                                                   \
  do {                                                                                    \
    if (::sr::storage::test::pg_url().empty()) {                                          \
      if (::sr::storage::test::pg_may_skip()) GTEST_SKIP() << "SR_TEST_PG_URL unset";     \
      FAIL() << "SR_TEST_PG_URL is not set: start a throwaway server with "               \
                "`scripts/pg-test.sh start /tmp/pg.env && . /tmp/pg.env && export "       \
                "SR_TEST_PG_URL`, or set SR_TEST_ALLOW_NO_PG=1 to skip PostgreSQL tests"; \
    }                                                                                     \
  } while (0)

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sr-storage-test.XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs constant SQL on PostgreSQL outside the storage (test setup only).
inline void pg_exec(const std::string& url, const char* sql) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string m = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("test: cannot connect to PostgreSQL: " + m);
  }
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  PGresult* r = PQexec(c, sql);
  auto st = PQresultStatus(r);
  std::string m = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    throw std::runtime_error("test: " + std::string(sql) + ": " + m);
}

// A PostgreSQL connection of the test's own, outside the storage (races, raw inspection).
struct RawPg {
  explicit RawPg(const std::string& url) : c(PQconnectdb(url.c_str())) {}
  ~RawPg() { PQfinish(c); }
  RawPg(const RawPg&) = delete;
  RawPg& operator=(const RawPg&) = delete;
  bool ok() const { return PQstatus(c) == CONNECTION_OK; }
  bool exec(const std::string& sql) {
    PGresult* res = PQexec(c, sql.c_str());
    const auto st = PQresultStatus(res);
    PQclear(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  }
  // The first column of the first row ("" when there is none or the query failed).
  std::string scalar(const std::string& sql) {
    PGresult* res = PQexec(c, sql.c_str());
    std::string out;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) out = PQgetvalue(res, 0, 0);
    PQclear(res);
    return out;
  }
  // Every row of a query, every value as text ("" for NULL); throws with the server's message.
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    PGresult* res = PQexec(c, sql.c_str());
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      std::string m = PQerrorMessage(c);
      PQclear(res);
      throw std::runtime_error("test: " + sql + ": " + m);
    }
    std::vector<std::vector<std::string>> out(static_cast<std::size_t>(PQntuples(res)));
    for (int i = 0; i < PQntuples(res); ++i)
      for (int j = 0; j < PQnfields(res); ++j)
        out[static_cast<std::size_t>(i)].emplace_back(
            PQgetvalue(res, i, j), static_cast<std::size_t>(PQgetlength(res, i, j)));
    PQclear(res);
    return out;
  }
  PGconn* c;
};

// pg_terminate_backend(pid) from a connection of the test's own; returns once the backend is gone
// (or after 5 s, failing the test).
inline void terminate_backend(const std::string& url, int64_t pid) {
  RawPg c(url);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.exec("SELECT pg_terminate_backend(" + std::to_string(pid) + ")"));
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
       std::chrono::steady_clock::now() < until;) {
    if (c.rows("SELECT 1 FROM pg_stat_activity WHERE pid = " + std::to_string(pid)).empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "backend " << pid << " did not go away";
}

// A backend stopped with SIGSTOP (what a black-holed network looks like to the client); on
// destruction it is continued and terminated, never left behind. stopped() is false when the
// signal could not be sent (the server runs as another user or on another host).
class StoppedBackend {
 public:
  StoppedBackend(std::string url, int64_t pid)
      : url_(std::move(url)), pid_(pid), stopped_(::kill(static_cast<pid_t>(pid), SIGSTOP) == 0) {}
  ~StoppedBackend() {
    if (!stopped_) return;
    ::kill(static_cast<pid_t>(pid_), SIGCONT);
    terminate_backend(url_, pid_);
  }
  bool stopped() const { return stopped_; }

 private:
  std::string url_;
  int64_t pid_;
  bool stopped_;
};

// The test cluster stopped for real (pg_ctl -m immediate) and started again; needs PGTEST_DIR and
// PGTEST_PORT (exported from scripts/pg-test.sh's env file). Never leaves the server down for the
// rest of the suite: the destructor starts it again.
class PgOutage {
 public:
  static bool possible() { return std::getenv("PGTEST_DIR") && std::getenv("PGTEST_PORT"); }
  ~PgOutage() {
    if (down_) start();
  }
  bool stop() { return down_ = pg_ctl("-m immediate -w stop") == 0; }
  bool start() {
    const std::string dir = std::getenv("PGTEST_DIR"), port = std::getenv("PGTEST_PORT");
    const bool ok = pg_ctl("-l " + dir + "/log -w -o \"-k " + dir + "/sock -p " + port +
                           " -c listen_addresses='' -c max_connections=200\" start") == 0;
    if (ok) down_ = false;
    return ok;
  }

 private:
  static int pg_ctl(const std::string& args) {
    std::string cmd = "/usr/lib/postgresql/15/bin/pg_ctl -D " +
                      std::string(std::getenv("PGTEST_DIR")) + "/data " + args + " >/dev/null 2>&1";
    if (::geteuid() == 0) cmd = "runuser -u srtest -- " + cmd;
    return std::system(cmd.c_str());
  }
  bool down_ = false;
};

inline void sqlite_exec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  std::string m = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error("test: " + std::string(sql) + ": " + m);
}

// A network thread as the server has them: one io_context run by one thread. Storage::run() from
// a coroutine on it is the path every request takes (PostgreSQL: the job on a fiber of this
// thread); the fixture's w() and r() go through it.
class NetThread {
 public:
  NetThread() : guard_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~NetThread() {
    guard_.reset();
    io_.stop();  // what is still pending (an idle connection's read) goes with the io_context
    thread_.join();
  }
  boost::asio::io_context& io() { return io_; }

  // Runs f through st.run(a, ...) on this thread and waits for it; rethrows what it threw.
  void run(Storage& st, Access a, const std::function<void(Repository&)>& f) {
    await([&]() -> Task<void> { co_await st.run(a, f); });
  }
  // The same for st.read(b), an authenticated request's read.
  void read(Storage& st, ReadBatch& b) {
    await([&]() -> Task<void> { co_await st.read(b); });
  }
  // Runs the coroutine of `make` on this thread and waits for it; rethrows what it threw.
  void await(const std::function<Task<void>()>& make) {
    std::promise<void> done;
    boost::asio::co_spawn(io_, make, [&](std::exception_ptr e) {
      if (e)
        done.set_exception(e);
      else
        done.set_value();
    });
    done.get_future().get();
  }

 private:
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

class StorageTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    net_ = std::make_unique<NetThread>();
    if (GetParam() == Backend::postgresql) {
      SR_REQUIRE_PG();
      url_ = pg_url();
      pg_exec(url_, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
    } else {
      dir_ = std::make_unique<TempDir>();
      db_path_ = dir_->path() + "/data/strongroom.db";
      url_ = "sqlite://" + db_path_;
    }
    st_ = open();
    st_->migrate();
  }

  void TearDown() override {
    if (st_) st_->close();
    net_.reset();
  }

  std::unique_ptr<Storage> open(int pool = 4, int statement_timeout_ms = 5000) {
    StorageOptions o;
    o.url = url_;
    o.pool_size = pool;
    o.statement_timeout_ms = statement_timeout_ms;
    o.connect_timeout_s = 1;
    return open_storage(o);
  }

  bool pg() const { return GetParam() == Backend::postgresql; }

  // Runs f(Repository&) through the storage, as a request of a network thread would, and returns
  // its result.
  template <class F>
  auto w(F&& f, Access a = Access::write) {
    using R = std::invoke_result_t<F, Repository&>;
    if constexpr (std::is_void_v<R>) {
      net_->run(*st_, a, [&](Repository& r) { f(r); });
    } else {
      std::optional<R> out;
      net_->run(*st_, a, [&](Repository& r) { out.emplace(f(r)); });
      return std::move(*out);
    }
  }
  template <class F>
  auto r(F&& f) {
    return w(std::forward<F>(f), Access::read);
  }

  int64_t make_user(const std::string& name) {
    return w([&](Repository& r) {
      return r.create_user(name, name, name + "@example.com", "hash-" + name, 1000);
    });
  }

  Session make_session(int64_t uid, const std::string& id, int64_t created = 1000,
                       int64_t expires = 100000) {
    Session s;
    s.id = id;
    s.user_id = uid;
    s.refresh_jti = "jti-" + id;
    s.created_at = created;
    s.last_used_at = created;
    s.expires_at = expires;
    s.user_agent = "ua";
    s.ip = "127.0.0.1";
    w([&](Repository& r) { r.create_session(s); });
    return s;
  }

  std::unique_ptr<NetThread> net_;
  std::unique_ptr<TempDir> dir_;
  std::string db_path_;
  std::string url_;
  std::unique_ptr<Storage> st_;
};

}  // namespace sr::storage::test
