// Migrations, durability across kill -9, and the backend-specific promises (file modes, outage).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "fixture.hpp"
#include "storage/migrations/migrations.hpp"
#include "storage/postgres/pg_repository.hpp"
#include "util/error.hpp"

namespace sr::storage::test {
namespace {

int latest_version(bool pg) {
  auto all = pg ? migrations::postgresql() : migrations::sqlite();
  return all.back().version;
}

TEST_P(StorageTest, MigrateIsIdempotent) {
  EXPECT_EQ(st_->schema_version(), latest_version(pg()));
  int64_t uid = make_user("keep");
  EXPECT_NO_THROW(st_->migrate());
  EXPECT_NO_THROW(st_->migrate());
  EXPECT_EQ(st_->schema_version(), latest_version(pg()));
  EXPECT_TRUE(r([&](Repository& r) { return r.find_user(uid); }));  // data untouched
  // A second instance on the same database migrates to a no-op as well.
  auto other = open();
  EXPECT_NO_THROW(other->migrate());
  EXPECT_EQ(other->schema_version(), latest_version(pg()));
}

TEST_P(StorageTest, FreshDatabaseHasVersionZeroUntilMigrated) {
  st_->close();
  if (pg())
    pg_exec(url_, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  else
    std::filesystem::remove_all(dir_->path() + "/data");
  st_ = open();
  EXPECT_EQ(st_->schema_version(), 0);
  st_->migrate();
  EXPECT_EQ(st_->schema_version(), latest_version(pg()));
}

TEST_P(StorageTest, NewerDatabaseIsRefused) {
  st_->close();
  const char* sql = "INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)";
  if (pg())
    pg_exec(url_, sql);
  else
    sqlite_exec(db_path_, sql);
  st_ = open();
  try {
    st_->migrate();
    FAIL() << "migrate() accepted a database newer than the binary";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer than this binary"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("9999"), std::string::npos) << e.what();
  }
  EXPECT_EQ(st_->schema_version(), 9999);
}

// A child performs writes and reports each one after it is acknowledged; the parent kills it
// with SIGKILL mid-stream, reopens the database and finds every acknowledged write.
TEST_P(StorageTest, AcknowledgedWritesSurviveKill9) {
  st_->close();
  st_.reset();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    try {
      auto st = open();
      for (int i = 0;; ++i) {
        std::string n = "durable" + std::to_string(i);
        st->run_sync(Access::write,
                     [&](Repository& r) { r.create_user(n, n, n + "@example.com", "h", i); });
        if (::write(fds[1], &i, sizeof i) != sizeof i) ::_exit(3);
      }
    } catch (...) {
      ::_exit(2);
    }
  }
  ::close(fds[1]);
  constexpr int kAcks = 60;
  int last = -1;
  for (int n = 0; n < kAcks; ++n) {
    int v;
    ssize_t got = ::read(fds[0], &v, sizeof v);
    if (got != sizeof v) break;
    last = v;
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(fds[0]);
  ASSERT_EQ(last, kAcks - 1) << "child stopped early, status " << status;
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  st_ = open();
  r([&](Repository& r) {
    for (int i = 0; i <= last; ++i)
      EXPECT_TRUE(r.find_user_by_login("durable" + std::to_string(i))) << i;
  });
}

TEST_P(StorageTest, SqliteWriteUnderReadAccessIsRefused) {
  if (pg()) GTEST_SKIP() << "PostgreSQL runs reads and writes on the same pool";
  // Reads run inline on a query_only connection: a write there would bypass the writer thread.
  EXPECT_ANY_THROW(r([](Repository& r) { r.create_user("x", "x", "x@x", "h", 1); }));
  EXPECT_FALSE(r([](Repository& r) { return r.find_user_by_login("x"); }));
}

TEST_P(StorageTest, SqliteFileModes) {
  if (pg()) GTEST_SKIP() << "SQLite only";
  for (bool exclusive : {true, false}) {
    SCOPED_TRACE(exclusive ? "exclusive" : "shared");
    mode_t old = ::umask(022);  // a typical, permissive umask: modes must not depend on it
    st_->close();
    std::filesystem::remove_all(dir_->path() + "/data");
    std::string nested = dir_->path() + "/data/deeper/strongroom.db";
    StorageOptions o;
    o.url = "sqlite://" + nested;
    o.sqlite_exclusive = exclusive;
    auto st = open_storage(o);
    st->migrate();
    st->run_sync(Access::write, [](Repository& r) { r.create_user("m", "m", "m@x", "h", 1); });
    ::umask(old);
    auto mode = [](const std::string& p) {
      struct stat sb {};
      EXPECT_EQ(::stat(p.c_str(), &sb), 0) << p;
      return sb.st_mode & 07777;
    };
    EXPECT_EQ(mode(dir_->path() + "/data"), 0700u);
    EXPECT_EQ(mode(dir_->path() + "/data/deeper"), 0700u);
    EXPECT_EQ(mode(nested), 0600u);
    EXPECT_EQ(mode(nested + "-wal"), 0600u);
    if (exclusive)  // the WAL index lives in memory: there is no -shm file to expose
      EXPECT_FALSE(std::filesystem::exists(nested + "-shm"));
    else
      EXPECT_EQ(mode(nested + "-shm"), 0600u);
    st->close();
  }
}

// An exclusive Storage keeps every other process out while it is open, and lets the next one
// in once closed; a shared one does not. (A second server refusing to start: tests/api.)
TEST_P(StorageTest, SqliteExclusiveKeepsOtherProcessesOut) {
  if (pg()) GTEST_SKIP() << "SQLite only";
  st_->close();
  const std::string path = dir_->path() + "/excl.db";
  StorageOptions o;
  o.url = "sqlite://" + path;
  // A fork() of this process would share SQLite's in-memory lock bookkeeping (and wrongly
  // believe it holds the lock): the other process is a fresh interpreter.
  auto other_process_reads = [&path]() -> int {
    const std::string cmd =
        "/usr/bin/python3 -c 'import sqlite3,sys\n"
        "try:\n"
        "    sqlite3.connect(sys.argv[1], timeout=0.2).execute(\"SELECT count(*) FROM users\")\n"
        "except sqlite3.OperationalError as e:\n"
        "    sys.exit(1 if \"locked\" in str(e) else 2)' '" +
        path + "'";
    int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
  };
  {
    auto st = open_storage(o);
    st->migrate();
    st->run_sync(Access::write, [](Repository& r) { r.create_user("e", "e", "e@x", "h", 1); });
    EXPECT_EQ(other_process_reads(), 1) << "another process read an exclusively held database";
    st->close();
  }
  EXPECT_EQ(other_process_reads(), 0) << "the lock outlived the Storage";
  o.sqlite_exclusive = false;
  auto shared = open_storage(o);
  EXPECT_EQ(other_process_reads(), 0) << "a shared Storage kept another process out";
  shared->close();
}

TEST_P(StorageTest, SqliteRelativePathUrl) {
  if (pg()) GTEST_SKIP() << "SQLite only";
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir_->path());
  StorageOptions o;
  o.url = "sqlite://rel/x.db";
  {
    auto st = open_storage(o);
    st->migrate();
    st->close();
  }
  std::filesystem::current_path(cwd);
  EXPECT_TRUE(std::filesystem::exists(dir_->path() + "/rel/x.db"));
}

TEST_P(StorageTest, PgStatementTimeoutIsUnavailable) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  auto st = open(1, 200);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(st->run_sync(Access::read,
                            [](Repository& r) {
                              static_cast<postgres::PgRepository&>(r).conn().exec(
                                  "SELECT pg_sleep(3)", postgres::Params());
                            }),
               sr::UnavailableError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_NO_THROW(st->run_sync(Access::read, [](Repository& r) { r.ping(); }));  // usable after
}

TEST_P(StorageTest, PgReconnectsAfterConnectionsAreKilled) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  auto st = open(2);
  for (int i = 0; i < 4; ++i) st->run_sync(Access::read, [](Repository& r) { r.ping(); });
  // Simulates a server restart: every strongroom backend is terminated.
  pg_exec(url_,
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          "WHERE application_name = 'strongroom' AND pid <> pg_backend_pid()");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // Idle connections found closed are replaced before use: no request sees the outage.
  for (int i = 0; i < 6; ++i)
    EXPECT_NO_THROW(st->run_sync(Access::read, [](Repository& r) { r.ping(); })) << i;
}

TEST_P(StorageTest, PgUnreachableFailsFastWithUnavailable) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  StorageOptions o;
  o.url = "postgresql://srtest:s3cretpw@127.0.0.1:1/none";  // nothing listens on port 1
  o.pool_size = 2;
  auto st = open_storage(o);
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    try {
      st->run_sync(Access::read, [](Repository& r) { r.ping(); });
      FAIL() << "ping succeeded against a closed port";
    } catch (const sr::UnavailableError& e) {
      EXPECT_EQ(std::string(e.what()).find("s3cretpw"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1100));
  }
  // The async path, too.
  boost::asio::io_context io;
  bool unavailable = false;
  boost::asio::co_spawn(
      io,
      [&]() -> Task<void> {
        try {
          co_await st->run(Access::write, [](Repository& r) { r.ping(); });
        } catch (const sr::UnavailableError&) {
          unavailable = true;
        }
      },
      boost::asio::detached);
  io.run();
  EXPECT_TRUE(unavailable);
}

}  // namespace
}  // namespace sr::storage::test

namespace sr::storage::test {
namespace {

// Stops the throwaway server for real, checks that requests fail fast with UnavailableError,
// restarts it, checks that the same Storage recovers by itself.
TEST_P(StorageTest, PgOutageFailsFastAndRecovers) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  if (!PgOutage::possible()) {
    if (pg_may_skip()) GTEST_SKIP() << "needs PGTEST_DIR and PGTEST_PORT";
    FAIL() << "needs PGTEST_DIR and PGTEST_PORT (exported from scripts/pg-test.sh's env file); "
              "SR_TEST_ALLOW_NO_PG=1 skips this";
  }
  auto st = open(3);
  for (int i = 0; i < 6; ++i) st->run_sync(Access::read, [](Repository& r) { r.ping(); });
  PgOutage outage;
  ASSERT_TRUE(outage.stop());

  int unavailable = 0;
  for (int i = 0; i < 10; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    try {
      st->run_sync(Access::read, [](Repository& r) { r.ping(); });
    } catch (const sr::UnavailableError&) {
      ++unavailable;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1100)) << i;
  }
  EXPECT_EQ(unavailable, 10);

  ASSERT_TRUE(outage.start());
  // Recovery: within a couple of seconds every pooled connection works again.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int ok_in_a_row = 0;
  while (ok_in_a_row < 10 && std::chrono::steady_clock::now() < until) {
    try {
      st->run_sync(Access::write, [](Repository& r) { r.ping(); });
      ++ok_in_a_row;
    } catch (const sr::UnavailableError&) {
      ok_in_a_row = 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_EQ(ok_in_a_row, 10);
}

}  // namespace
}  // namespace sr::storage::test
