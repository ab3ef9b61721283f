// Races the contract promises to win: the refresh CAS, the per-user caps, and run() from many
// coroutines on an io_context (resumed on the caller's executor, exceptions delivered).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>

#include "fixture.hpp"
#include "util/error.hpp"

namespace sr::storage::test {
namespace {

template <class F>
void in_threads(int n, F f) {
  std::vector<std::thread> ts;
  std::atomic<bool> go{false};
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&, i] {
      while (!go) std::this_thread::yield();
      f(i);
    });
  go = true;
  for (auto& t : ts) t.join();
}

TEST_P(StorageTest, RotateRefreshCasUnderConcurrency) {
  int64_t uid = make_user("u");
  make_session(uid, "s");
  std::string current = "jti-s";
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> wins{0};
    in_threads(8, [&](int t) {
      bool ok = false;
      st_->run_sync(Access::write, [&](Repository& r) {
        ok = r.rotate_refresh("s", current, "r" + std::to_string(round) + "-" + std::to_string(t),
                              99999, 1000 + round);
      });
      if (ok) ++wins;
    });
    ASSERT_EQ(wins.load(), 1) << "round " << round;
    current = r([](Repository& r) { return r.find_session("s"); })->refresh_jti;
  }
}

TEST_P(StorageTest, LinkCapNeverExceededUnderConcurrentInserts) {
  int64_t uid = make_user("u");
  constexpr int kCap = 7;
  std::atomic<int> added{0};
  in_threads(12, [&](int t) {
    for (int i = 0; i < 4; ++i) {
      bool ok = false;
      st_->run_sync(Access::write, [&](Repository& r) {
        ok = r.add_link(uid, "p" + std::to_string(t), "u" + std::to_string(i), 1, kCap).has_value();
      });
      if (ok) ++added;
    }
  });
  EXPECT_EQ(added.load(), kCap);
  EXPECT_EQ(r([&](Repository& r) { return r.list_links(uid); }).size(), static_cast<size_t>(kCap));
}

TEST_P(StorageTest, VaultCapNeverExceededUnderConcurrentInsertsViaRun) {
  int64_t uid = make_user("u");
  constexpr int kCap = 9;
  std::atomic<int> added{0}, refused{0}, errors{0};
  boost::asio::io_context io(2);
  for (int i = 0; i < 40; ++i) {
    boost::asio::co_spawn(
        io,
        [&]() -> Task<void> {
          bool ok = false;
          co_await st_->run(Access::write, [&](Repository& r) {
            ok = r.add_vault_entry(uid, 1, kCap, [](int64_t id) {
                    return std::to_string(id);
                  }).has_value();
          });
          ++(ok ? added : refused);
        },
        [&](std::exception_ptr e) {
          if (e) ++errors;
        });
  }
  std::thread t2([&] { io.run(); });
  io.run();
  t2.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(added.load(), kCap);
  EXPECT_EQ(refused.load(), 40 - kCap);
  EXPECT_EQ(r([&](Repository& r) { return r.list_vault_entries(uid); }).size(),
            static_cast<size_t>(kCap));
}

TEST_P(StorageTest, RunResumesOnCallerExecutorAndPropagatesExceptions) {
  boost::asio::io_context io(1);
  std::atomic<int> done{0};
  std::atomic<bool> wrong_thread{false};
  bool caught_write = false, caught_read = false;
  std::thread::id io_thread;
  boost::asio::co_spawn(
      io,
      [&]() -> Task<void> {
        int64_t id = 0;
        co_await st_->run(Access::write, [&](Repository& r) {
          id = r.create_user("co", "co", "co@example.com", "h", 1);
        });
        if (std::this_thread::get_id() != io_thread) wrong_thread = true;
        std::optional<User> u;
        co_await st_->run(Access::read, [&](Repository& r) { u = r.find_user(id); });
        if (std::this_thread::get_id() != io_thread) wrong_thread = true;
        EXPECT_TRUE(u);
        try {
          co_await st_->run(Access::write, [](Repository& r) {
            r.create_user("co", "co", "x@example.com", "h", 1);  // conflict
          });
        } catch (const sr::ConflictError&) {
          caught_write = true;
        }
        if (std::this_thread::get_id() != io_thread) wrong_thread = true;
        try {
          co_await st_->run(Access::read, [](Repository&) { throw std::out_of_range("r"); });
        } catch (const std::out_of_range&) {
          caught_read = true;
        }
        ++done;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io_thread = std::this_thread::get_id();
  io.run();  // returns only when the coroutine is finished: the job kept the context busy
  EXPECT_EQ(done.load(), 1);
  EXPECT_FALSE(wrong_thread.load());
  EXPECT_TRUE(caught_write);
  EXPECT_TRUE(caught_read);
}

TEST_P(StorageTest, ManyConcurrentReadersAndWriters) {
  int64_t uid = make_user("u");
  std::atomic<int> failures{0};
  in_threads(8, [&](int t) {
    for (int i = 0; i < 50; ++i) {
      try {
        if (t % 2) {
          st_->run_sync(Access::write, [&](Repository& r) {
            r.block_token("t" + std::to_string(t) + "-" + std::to_string(i), "s", uid, 99999);
          });
        } else {
          st_->run_sync(Access::read, [&](Repository& r) {
            if (!r.find_user(uid)) ++failures;
          });
        }
      } catch (...) {
        ++failures;
      }
    }
  });
  EXPECT_EQ(failures.load(), 0);
  r([&](Repository& r) {
    for (int t = 1; t < 8; t += 2)
      for (int i = 0; i < 50; ++i)
        EXPECT_TRUE(r.is_token_blocked("t" + std::to_string(t) + "-" + std::to_string(i)));
  });
}

}  // namespace
}  // namespace sr::storage::test
