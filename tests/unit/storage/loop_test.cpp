// PostgreSQL on the network threads (pg_loop.hpp): jobs run on fibers of the calling io_context's
// thread; the reads of a thread share one pipelined, read-only connection and travel in batches
// with one Sync; write jobs own their connection; the thread never blocks on the database. And the
// promises the worker pool kept: statement timeouts, dead and stalled backends, an outage,
// recovery.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdlib>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "fixture.hpp"
#include "storage/postgres/pg_loop.hpp"
#include "storage/postgres/pg_repository.hpp"
#include "util/error.hpp"

namespace sr::storage::test {
namespace {

using Clock = std::chrono::steady_clock;
using postgres::Params;
using postgres::PgRepository;

PgRepository& pg_repo(Repository& r) {
  return static_cast<PgRepository&>(r);
}

int64_t backend_pid(Repository& r) {
  return pg_repo(r).link().exec("SELECT pg_backend_pid()::bigint", Params()).i64(0, 0);
}

int64_t strongroom_connections(const std::string& url) {
  RawPg c(url);
  return std::stoll(
      c.rows("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
             "'strongroom' AND datname = current_database()")[0][0]);
}

class LoopTest : public StorageTest {
 protected:
  void SetUp() override {
    if (!pg()) GTEST_SKIP() << "PostgreSQL's event loops";
    StorageTest::SetUp();
  }

  // Stops (SIGSTOP) the backend of `thread`'s read connection for st into `out`; leaves `out`
  // empty, the test skipped or failed, when the backend cannot be signalled.
  void stop_read_backend(NetThread& thread, Storage& st, std::unique_ptr<StoppedBackend>& out) {
    int64_t pid = 0;
    thread.run(st, Access::read, [&](Repository& r) { pid = backend_pid(r); });
    auto stopped = std::make_unique<StoppedBackend>(url_, pid);
    if (stopped->stopped()) {
      out = std::move(stopped);
      return;
    }
    if (pg_may_skip()) GTEST_SKIP() << "cannot signal the server's backend";
    FAIL() << "cannot signal the server's backend (not the same user or host); "
              "SR_TEST_ALLOW_NO_PG=1 skips this";
  }

  // A read of user uid's row (Storage::read).
  static ReadBatch user_read(int64_t uid) {
    ReadBatch b;
    b.want = {.user_id = uid, .user = true};
    return b;
  }

  // n jobs started together on the fixture's network thread; waits for all of them. f(i, repo)
  // runs as job i; outcome[i] is "" or the exception's type and message.
  std::vector<std::string> run_many(Storage& st, int n, Access a,
                                    const std::function<void(int, Repository&)>& f) {
    std::vector<std::string> outcome(static_cast<std::size_t>(n));
    std::promise<void> all;
    std::atomic<int> left{n};
    for (int i = 0; i < n; ++i) {
      boost::asio::co_spawn(
          net_->io(),
          [&, i]() -> Task<void> { co_await st.run(a, [&, i](Repository& r) { f(i, r); }); },
          [&, i](std::exception_ptr e) {
            if (e) {
              try {
                std::rethrow_exception(e);
              } catch (const sr::UnavailableError& x) {
                outcome[static_cast<std::size_t>(i)] = std::string("unavailable: ") + x.what();
              } catch (const sr::ConflictError& x) {
                outcome[static_cast<std::size_t>(i)] = std::string("conflict: ") + x.what();
              } catch (const std::exception& x) {
                outcome[static_cast<std::size_t>(i)] = std::string("error: ") + x.what();
              }
            }
            if (--left == 0) all.set_value();
          });
    }
    all.get_future().get();
    return outcome;
  }
};

TEST_P(LoopTest, ReadsOfAThreadShareOneConnectionAndTravelInBatches) {
  constexpr int kJobs = 200;
  std::vector<int64_t> users;
  for (int i = 0; i < 20; ++i) users.push_back(make_user("u" + std::to_string(i)));
  std::mutex mu;
  std::set<int64_t> pids;
  std::multiset<std::string> transactions;
  auto outcome = run_many(*st_, kJobs, Access::read, [&](int i, Repository& r) {
    // Each job reads its own user (the right rows reach the right job) and asks which backend
    // and which transaction served it: statements between two Syncs share an implicit
    // transaction, so one transaction start time per batch.
    const int64_t uid = users[static_cast<std::size_t>(i) % users.size()];
    auto u = r.find_user(uid);
    auto res = pg_repo(r).link().exec(
        "SELECT pg_backend_pid()::bigint, transaction_timestamp()::text", Params());
    std::lock_guard lock(mu);
    EXPECT_TRUE(u && u->id == uid) << i;
    pids.insert(res.i64(0, 0));
    transactions.insert(res.bytes(0, 1));
  });
  for (int i = 0; i < kJobs; ++i) EXPECT_EQ(outcome[static_cast<std::size_t>(i)], "") << i;
  EXPECT_EQ(pids.size(), 1u) << "the reads of one thread used several connections";
  std::set<std::string> distinct(transactions.begin(), transactions.end());
  EXPECT_LT(distinct.size(), static_cast<std::size_t>(kJobs / 2))
      << "reads started together were not batched";
}

TEST_P(LoopTest, AFailingReadFailsAloneAndTheRestOfItsBatchIsAnswered) {
  constexpr int kJobs = 120;
  int64_t uid = make_user("alice");
  auto outcome = run_many(*st_, kJobs, Access::read, [&](int i, Repository& r) {
    if (i % 10 == 3) {
      pg_repo(r).link().exec("SELECT 1 / ($1::bigint - $1::bigint)", Params().i(i));  // 22012
      return;
    }
    ReadBatch b;
    b.want = {.user_id = uid, .user = true, .handbook = true, .links = true};
    r.read_batch(b);
    if (!b.user || b.user->id != uid) throw std::logic_error("wrong rows");
  });
  for (int i = 0; i < kJobs; ++i) {
    const auto& o = outcome[static_cast<std::size_t>(i)];
    if (i % 10 == 3)
      EXPECT_NE(o.find("error: postgresql: 22012"), std::string::npos) << i << ": " << o;
    else
      EXPECT_EQ(o, "") << i;
  }
  EXPECT_TRUE(r([&](Repository& r) { return r.find_user(uid); }));  // and it goes on
}

TEST_P(LoopTest, AWriteTransactionKeepsItsConnectionAndTheThreadServesOthers) {
  // A write job holds a transaction open across a slow statement; meanwhile the same thread
  // answers reads (which do not see the uncommitted row) and fires a timer on time.
  std::atomic<bool> committed{false};
  std::promise<void> writer_done;
  boost::asio::co_spawn(
      net_->io(),
      [&]() -> Task<void> {
        co_await st_->run(Access::write, [&](Repository& r) {
          auto& c = pg_repo(r).conn();
          postgres::Tx tx(c);
          r.create_user("pending", "pending", "pending@x", "h", 1);
          c.exec("SELECT pg_sleep(1)", Params());
          tx.commit();
          committed = true;
        });
      },
      [&](std::exception_ptr e) {
        if (e)
          writer_done.set_exception(e);
        else
          writer_done.set_value();
      });
  {  // until the writer's fiber is waiting for pg_sleep
    RawPg c(url_);
    auto until = Clock::now() + std::chrono::seconds(5);
    while (c.rows("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'").empty() &&
           Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(committed);
  std::promise<Clock::duration> timer_took;
  boost::asio::co_spawn(
      net_->io(),
      [&]() -> Task<void> {
        boost::asio::steady_timer t(net_->io());
        auto t0 = Clock::now();
        t.expires_after(std::chrono::milliseconds(50));
        co_await t.async_wait(boost::asio::use_awaitable);
        timer_took.set_value(Clock::now() - t0);
      },
      boost::asio::detached);
  auto seen = run_many(*st_, 30, Access::read, [&](int, Repository& r) {
    if (r.find_user_by_login("pending")) throw std::logic_error("saw an uncommitted row");
    if (committed) throw std::logic_error("answered only after the writer committed");
  });
  for (const auto& o : seen) EXPECT_EQ(o, "");
  EXPECT_LT(timer_took.get_future().get(), std::chrono::milliseconds(500));
  writer_done.get_future().get();
  EXPECT_TRUE(r([](Repository& r) { return r.find_user_by_login("pending"); }));
}

TEST_P(LoopTest, WritesUnderReadAccessAreRefused) {
  int64_t uid = make_user("u");
  try {
    r([&](Repository& r) { r.create_user("x", "x", "x@x", "h", 1); });
    ADD_FAILURE() << "a write ran on the shared read connection";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("25006"), std::string::npos) << e.what();
  }
  EXPECT_THROW(r([&](Repository& r) { r.add_link(uid, "p", "u", 1, 50); }), std::logic_error);
  EXPECT_FALSE(r([](Repository& r) { return r.find_user_by_login("x"); }));
  EXPECT_TRUE(r([&](Repository& r) { return r.list_links(uid); }).empty());
  EXPECT_TRUE(w([&](Repository& r) { return r.add_link(uid, "p", "u", 1, 50); }));
}

TEST_P(LoopTest, StatementTimeoutFailsOnlyItsJob) {
  auto st = open(4, 300);
  int64_t uid = make_user("u");
  auto t0 = Clock::now();
  auto outcome = run_many(*st, 20, Access::read, [&](int i, Repository& r) {
    if (i == 5)
      pg_repo(r).link().exec("SELECT pg_sleep(3)", Params());
    else if (!r.find_user(uid))
      throw std::logic_error("wrong rows");
  });
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  for (int i = 0; i < 20; ++i) {
    const auto& o = outcome[static_cast<std::size_t>(i)];
    if (i == 5)
      EXPECT_NE(o.find("unavailable: postgresql: 57014"), std::string::npos) << o;
    else
      EXPECT_EQ(o, "") << i;
  }
  st->close();
}

TEST_P(LoopTest, KilledConnectionsAreReplaced) {
  int64_t uid = make_user("u");
  // Idle: the loop notices the server closing its read connection and opens another for the
  // next request; no request fails.
  int64_t pid = r([](Repository& r) { return backend_pid(r); });
  terminate_backend(url_, pid);
  for (int i = 0; i < 5; ++i)
    EXPECT_NO_THROW(r([&](Repository& r) { EXPECT_TRUE(r.find_user(uid)); })) << i;
  EXPECT_NE(r([](Repository& r) { return backend_pid(r); }), pid);

  // Mid-request: that request gets a 503 at once, the next ones are served.
  pid = r([](Repository& r) { return backend_pid(r); });
  std::thread killer([&] {
    RawPg c(url_);
    for (auto until = Clock::now() + std::chrono::seconds(5); Clock::now() < until;) {
      auto w = c.rows("SELECT wait_event FROM pg_stat_activity WHERE pid = " + std::to_string(pid));
      if (!w.empty() && w[0][0] == "PgSleep") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    terminate_backend(url_, pid);
  });
  auto t0 = Clock::now();
  EXPECT_THROW(r([](Repository& r) { pg_repo(r).link().exec("SELECT pg_sleep(5)", Params()); }),
               sr::UnavailableError);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
  killer.join();
  EXPECT_NO_THROW(r([&](Repository& r) { EXPECT_TRUE(r.find_user(uid)); }));

  // A write connection killed while idle is replaced before use, too.
  EXPECT_TRUE(w([&](Repository& r) { return r.add_link(uid, "p", "u", 1, 50); }));
  pid = w([](Repository& r) { return backend_pid(r); });
  terminate_backend(url_, pid);
  EXPECT_TRUE(w([&](Repository& r) { return r.add_link(uid, "p", "u", 2, 50); }));
}

// A backend that stops answering (SIGSTOP, as a black-holed network looks): the request fails at
// the client deadline (statement timeout + 2 s), never hangs, and the loop reconnects.
TEST_P(LoopTest, StoppedBackendFailsWithinTheDeadline) {
  constexpr int kTimeoutMs = 300;
  auto st = open(4, kTimeoutMs);
  auto read_on = [&](Storage& s, const std::function<void(Repository&)>& f) {
    net_->run(s, Access::read, f);
  };
  std::unique_ptr<StoppedBackend> stopped;
  stop_read_backend(*net_, *st, stopped);
  if (!stopped) return;
  auto t0 = Clock::now();
  EXPECT_THROW(read_on(*st, [](Repository& r) { r.ping(); }), sr::UnavailableError);
  auto took = Clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(kTimeoutMs + 2000 - 100));
  EXPECT_LT(took, std::chrono::milliseconds(kTimeoutMs + 2000 + 1500));
  EXPECT_NO_THROW(read_on(*st, [](Repository& r) { r.ping(); }));
  st->close();
}

TEST_P(LoopTest, OutageFailsFastAndRecoversByItself) {
  if (!PgOutage::possible()) {
    if (pg_may_skip()) GTEST_SKIP() << "needs PGTEST_DIR and PGTEST_PORT";
    FAIL() << "needs PGTEST_DIR and PGTEST_PORT (exported from scripts/pg-test.sh's env file); "
              "SR_TEST_ALLOW_NO_PG=1 skips this";
  }
  int64_t uid = make_user("u");
  EXPECT_TRUE(w([&](Repository& r) { return r.add_link(uid, "p", "u", 1, 50); }));
  PgOutage outage;
  ASSERT_TRUE(outage.stop());

  for (int i = 0; i < 10; ++i) {
    auto t0 = Clock::now();
    EXPECT_THROW(r([&](Repository& r) { r.find_user(uid); }), sr::UnavailableError) << i;
    EXPECT_THROW(w([&](Repository& r) { r.add_link(uid, "p", "u", 1, 50); }), sr::UnavailableError)
        << i;
    EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(2200)) << i;  // two requests
  }
  // Many at once: each fails within the connect timeout, none waits behind the others.
  auto t0 = Clock::now();
  auto outcome = run_many(*st_, 50, Access::read, [&](int, Repository& r) { r.find_user(uid); });
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(1100));
  for (const auto& o : outcome) EXPECT_EQ(o.rfind("unavailable: ", 0), 0u) << o;

  ASSERT_TRUE(outage.start());
  auto until = Clock::now() + std::chrono::seconds(5);
  int ok_in_a_row = 0;
  while (ok_in_a_row < 10 && Clock::now() < until) {
    try {
      r([&](Repository& r) { r.find_user(uid); });
      w([&](Repository& r) { r.add_link(uid, "p", "u", 1, 50); });
      ++ok_in_a_row;
    } catch (const sr::UnavailableError&) {
      ok_in_a_row = 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_EQ(ok_in_a_row, 10);
}

// db_pool_size is the total of the network threads' connections: one read connection each and
// an equal share of the rest for writes.
TEST_P(LoopTest, ConnectionsStayWithinThePoolSize) {
  constexpr int kPool = 6;
  st_->close();  // only the storage under test holds connections
  auto st = open(kPool);
  NetThread other;
  int64_t uid = 0;
  net_->run(*st, Access::write,
            [&](Repository& r) { uid = r.create_user("u", "u", "u@x", "h", 1); });
  std::atomic<int> done{0};
  auto load = [&](NetThread& t) {
    std::vector<std::thread> callers;
    for (int k = 0; k < 8; ++k)
      callers.emplace_back([&, k] {
        for (int i = 0; i < 10; ++i) {
          t.run(*st, k % 2 ? Access::write : Access::read, [&](Repository& r) {
            if (r.find_user(uid)) pg_repo(r).link().exec("SELECT pg_sleep(0.01)", Params());
          });
          ++done;
        }
      });
    return callers;
  };
  auto a = load(*net_), b = load(other);
  int64_t most = 0;
  while (done < 160) {
    most = std::max(most, strongroom_connections(url_));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& t : a) t.join();
  for (auto& t : b) t.join();
  most = std::max(most, strongroom_connections(url_));
  EXPECT_LE(most, kPool);
  EXPECT_GE(most, 4) << "two threads, each with a read and a write connection";
  st->close();
  st_.reset();
}

TEST_P(LoopTest, CloseEndsTheConnectionsAndLaterRequests) {
  st_->close();
  auto st = open(4);
  int64_t uid = 0;
  net_->run(*st, Access::write,
            [&](Repository& r) { uid = r.create_user("c", "c", "c@x", "h", 1); });
  net_->run(*st, Access::read, [&](Repository& r) { EXPECT_TRUE(r.find_user(uid)); });
  EXPECT_GE(strongroom_connections(url_), 2);
  st->close();
  EXPECT_THROW(net_->run(*st, Access::read, [](Repository& r) { r.ping(); }), sr::UnavailableError);
  // The loop closes its connections on its own thread, which keeps running.
  auto until = Clock::now() + std::chrono::seconds(5);
  while (strongroom_connections(url_) > 0 && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(strongroom_connections(url_), 0);
  st_.reset();
}

TEST_P(LoopTest, RunSyncInsideAJobUsesTheJobsRepository) {
  auto st = open(1);  // one connection: a second one for the nested call would never come
  int64_t uid = 0;
  net_->run(*st, Access::write, [&](Repository& outer) {
    uid = outer.create_user("n", "n", "n@x", "h", 1);
    st->run_sync(Access::write, [&](Repository& inner) {
      EXPECT_EQ(&inner, &outer);
      EXPECT_TRUE(inner.find_user(uid));
    });
  });
  net_->run(*st, Access::read, [&](Repository& outer) {
    st->run_sync(Access::read, [&](Repository& inner) { EXPECT_EQ(&inner, &outer); });
  });
  st->close();
}

// An authenticated request's read (Storage::read) goes into its loop's pipeline without a job or a
// fiber: beside jobs, each gets its own rows; a stalled backend fails it at the client deadline; a
// closed storage refuses it.
TEST_P(LoopTest, ReadsWithoutAJobGetTheirOwnRowsBesideJobs) {
  constexpr int kEach = 100;
  std::vector<int64_t> users;
  for (int i = 0; i < 20; ++i) {
    users.push_back(make_user("u" + std::to_string(i)));
    w([&](Repository& r) {
      Handbook h;
      h.full_name = "Name " + std::to_string(i);
      h.updated_at = 1;
      r.put_handbook(users.back(), h);
    });
  }
  std::vector<ReadBatch> reads(kEach);
  std::vector<std::string> jobs(kEach);
  std::promise<void> all;
  std::atomic<int> left{2 * kEach};
  auto done = [&] {
    if (--left == 0) all.set_value();
  };
  for (int i = 0; i < kEach; ++i) {
    const int64_t uid = users[static_cast<std::size_t>(i) % users.size()];
    ReadBatch* b = &reads[static_cast<std::size_t>(i)];
    b->want = {.user_id = uid, .user = true, .handbook = true};
    boost::asio::co_spawn(
        net_->io(), [this, b]() -> Task<void> { co_await st_->read(*b); },
        [&, i](std::exception_ptr e) {
          if (e) jobs[static_cast<std::size_t>(i)] = "the read failed";
          done();
        });
    boost::asio::co_spawn(
        net_->io(),
        [&, uid]() -> Task<void> {
          co_await st_->run(Access::read, [&, uid](Repository& r) {
            auto u = r.find_user(uid);
            if (!u || u->id != uid) throw std::logic_error("wrong rows");
          });
        },
        [&, i](std::exception_ptr e) {
          if (e) jobs[static_cast<std::size_t>(i)] += " the job failed";
          done();
        });
  }
  all.get_future().get();
  for (int i = 0; i < kEach; ++i) {
    const auto k = static_cast<std::size_t>(i);
    EXPECT_EQ(jobs[k], "") << i;
    const ReadBatch& b = reads[k];
    ASSERT_TRUE(b.user && b.handbook) << i;
    EXPECT_EQ(b.user->id, users[k % users.size()]) << i;
    EXPECT_EQ(b.handbook->full_name, "Name " + std::to_string(k % users.size())) << i;
  }
}

TEST_P(LoopTest, ReadWithoutAJobFailsWithinTheDeadlineOnAStoppedBackend) {
  constexpr int kTimeoutMs = 300;
  auto st = open(4, kTimeoutMs);
  int64_t uid = make_user("s");
  std::unique_ptr<StoppedBackend> stopped;
  stop_read_backend(*net_, *st, stopped);
  if (!stopped) return;
  ReadBatch b = user_read(uid);
  auto t0 = Clock::now();
  EXPECT_THROW(net_->read(*st, b), sr::UnavailableError);
  auto took = Clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(kTimeoutMs + 2000 - 100));
  EXPECT_LT(took, std::chrono::milliseconds(kTimeoutMs + 2000 + 1500));
  ReadBatch again = user_read(uid);
  EXPECT_NO_THROW(net_->read(*st, again));  // on a new connection
  EXPECT_TRUE(again.user && again.user->id == uid);
  st->close();
}

TEST_P(LoopTest, ReadWithoutAJobAfterCloseIsUnavailable) {
  int64_t uid = make_user("c");
  ReadBatch b = user_read(uid);
  net_->read(*st_, b);
  EXPECT_TRUE(b.user);
  st_->close();
  ReadBatch after = user_read(uid);
  EXPECT_THROW(net_->read(*st_, after), sr::UnavailableError);
  EXPECT_FALSE(after.user);
  st_.reset();
}

// close() with a read in flight on a backend that does not answer: the read fails at its
// deadline like a job's (the closed loop's watchdog still runs), it does not hang.
TEST_P(LoopTest, ReadWithoutAJobInFlightAtCloseFailsAtItsDeadline) {
  constexpr int kTimeoutMs = 300;
  auto st = open(4, kTimeoutMs);
  int64_t uid = make_user("f");
  std::unique_ptr<StoppedBackend> stopped;
  stop_read_backend(*net_, *st, stopped);
  if (!stopped) return;
  ReadBatch b = user_read(uid);
  std::promise<std::string> outcome;
  boost::asio::co_spawn(
      net_->io(), [&]() -> Task<void> { co_await st->read(b); },
      [&](std::exception_ptr e) {
        std::string o = "answered";
        try {
          if (e) std::rethrow_exception(e);
        } catch (const sr::UnavailableError&) {
          o = "unavailable";
        } catch (...) {
          o = "another error";
        }
        outcome.set_value(o);
      });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // sent, unanswered
  st->close();
  auto f = outcome.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::milliseconds(kTimeoutMs + 2000 + 1500)),
            std::future_status::ready)
      << "a read in flight at close() hung";
  EXPECT_EQ(f.get(), "unavailable");
  EXPECT_FALSE(b.user);
}

// The io_context goes while a read waits (a server stopped past its grace period): the read and
// its caller's coroutine are deleted with it, never answered (under the sanitizers: no leak).
TEST_P(LoopTest, ReadWithoutAJobPendingWhenItsIoContextGoesIsDeletedWithIt) {
  auto st = open(4);
  int64_t uid = make_user("g");
  auto thread = std::make_unique<NetThread>();
  std::unique_ptr<StoppedBackend> stopped;
  stop_read_backend(*thread, *st, stopped);
  if (!stopped) return;
  ReadBatch b = user_read(uid);
  std::atomic<bool> answered{false};
  boost::asio::co_spawn(
      thread->io(), [&]() -> Task<void> { co_await st->read(b); },
      [&](std::exception_ptr) { answered = true; });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // sent, unanswered
  thread.reset();
  EXPECT_FALSE(answered);
  EXPECT_FALSE(b.user);
  st->close();
}

INSTANTIATE_TEST_SUITE_P(Backends, LoopTest, ::testing::Values(Backend::postgresql), backend_name);

// A loop's handlers run one at a time: on an io_context made for one thread (concurrency hint 1,
// as the server's network threads are) through its own executor; on any other through a strand,
// as such an io_context may be run by several threads (concurrency_test runs one on two).
TEST(PgLoopExecutor, AOneThreadIoContextServesItsLoopDirectlyAnyOtherThroughAStrand) {
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  boost::asio::io_context one(1), two(2), unhinted;
  auto shared = std::make_shared<postgres::Shared>(~uint64_t{0}, postgres::ConnOptions{}, 4);
  auto a = std::make_shared<postgres::PgLoop>(one.get_executor(), shared);
  auto b = std::make_shared<postgres::PgLoop>(two.get_executor(), shared);
  auto c = std::make_shared<postgres::PgLoop>(unhinted.get_executor(), shared);
  EXPECT_EQ(a->executor().target<Strand>(), nullptr);
  EXPECT_NE(a->executor().target<boost::asio::io_context::executor_type>(), nullptr);
  EXPECT_NE(b->executor().target<Strand>(), nullptr);
  EXPECT_NE(c->executor().target<Strand>(), nullptr);
  EXPECT_EQ(shared->loops.load(), 3);
}

}  // namespace
}  // namespace sr::storage::test
