#include "auth/hash_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "util/error.hpp"

namespace sr::auth {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

TEST(HashPool, ConcurrencyNeverExceedsWorkers) {
  constexpr int kWorkers = 3, kJobs = 40;
  HashPool pool(kWorkers, 100);
  asio::io_context io;
  std::atomic<int> now{0}, peak{0}, done{0}, over{0};
  for (int i = 0; i < kJobs; ++i) {
    asio::co_spawn(
        io,
        [&]() -> Task<void> {
          co_await pool.run([&] {
            const int n = ++now;
            int p = peak.load();
            while (n > p && !peak.compare_exchange_weak(p, n)) {
            }
            if (static_cast<std::size_t>(n) > 3) ++over;
            std::this_thread::sleep_for(2ms);
            --now;
          });
          ++done;
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(done.load(), kJobs);
  EXPECT_EQ(peak.load(), kWorkers);  // reached, never exceeded
  EXPECT_EQ(over.load(), 0);
  EXPECT_EQ(pool.running(), 0u);
  EXPECT_EQ(pool.queued(), 0u);
  EXPECT_EQ(pool.workers(), kWorkers);
}

TEST(HashPool, QueueFullIsUnavailable) {
  HashPool pool(1, 2);
  asio::io_context io;
  std::atomic<bool> release{false};
  std::atomic<int> started{0}, ok{0}, busy{0};
  auto blocker = [&] {
    ++started;
    while (!release) std::this_thread::sleep_for(1ms);
  };
  auto submit = [&] {
    asio::co_spawn(
        io,
        [&]() -> Task<void> {
          try {
            co_await pool.run(blocker);
            ++ok;
          } catch (const ApiError& e) {
            EXPECT_EQ(e.code(), ErrorCode::unavailable);
            EXPECT_EQ(e.retry_after, 1);
            EXPECT_STREQ(e.what(), "Server busy, retry shortly");
            ++busy;
          }
        },
        asio::detached);
  };
  // One running (wait until the worker has it), then 2 queued fill the pool; the 4th and 5th
  // submissions are refused at once.
  submit();
  while (started < 1) io.poll();
  for (int i = 0; i < 4; ++i) submit();
  // Run until the refusals are in, then release the workers.
  while (busy < 2) io.run_one();
  EXPECT_EQ(pool.running(), 1u);
  EXPECT_EQ(pool.queued(), 2u);
  release = true;
  io.run();
  EXPECT_EQ(ok.load(), 3);
  EXPECT_EQ(busy.load(), 2);
}

TEST(HashPool, ExceptionsPropagate) {
  HashPool pool(2, 10);
  asio::io_context io;
  std::string caught;
  bool api = false;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        try {
          co_await pool.run([] { throw std::runtime_error("boom"); });
        } catch (const std::runtime_error& e) {
          caught = e.what();
        }
        try {
          co_await pool.run([] { throw ApiError(ErrorCode::internal, "typed"); });
        } catch (const ApiError& e) {
          api = e.code() == ErrorCode::internal;
        }
      },
      asio::detached);
  io.run();
  EXPECT_EQ(caught, "boom");
  EXPECT_TRUE(api);
}

TEST(HashPool, ResumesOnCallersExecutor) {
  HashPool pool(2, 10);
  asio::io_context io;
  std::thread::id io_thread, job_thread, after;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        io_thread = std::this_thread::get_id();
        co_await pool.run([&] { job_thread = std::this_thread::get_id(); });
        after = std::this_thread::get_id();
        EXPECT_TRUE(io.get_executor().running_in_this_thread());
      },
      asio::detached);
  io.run();  // returns only when the coroutine finished: the pool kept io's work count up
  EXPECT_NE(job_thread, std::thread::id{});
  EXPECT_NE(job_thread, io_thread);
  EXPECT_EQ(after, io_thread);
}

TEST(HashPool, NetworkThreadKeepsRunningWhileHashing) {
  HashPool pool(1, 10);
  asio::io_context io;
  std::atomic<bool> job_done{false};
  int ticks_during_job = 0;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        co_await pool.run([&] {
          std::this_thread::sleep_for(50ms);
          job_done = true;
        });
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        while (!job_done) {
          t.expires_after(1ms);
          co_await t.async_wait(asio::use_awaitable);
          if (!job_done) ++ticks_during_job;
        }
      },
      asio::detached);
  io.run();
  EXPECT_GT(ticks_during_job, 5);
}

TEST(HashPool, DestructorFailsQueuedAndJoins) {
  asio::io_context io;
  std::atomic<int> ran{0}, dropped{0};
  {
    HashPool pool(1, 10);
    std::atomic<bool> started{false};
    for (int i = 0; i < 4; ++i) {
      asio::co_spawn(
          io,
          [&]() -> Task<void> {
            try {
              co_await pool.run([&] {
                started = true;
                // Hold the only worker until the destructor has taken the queue (it then waits
                // for this job in join), so no queued job can start however the threads are
                // scheduled. The pool's members live until the join returns.
                while (pool.queued() != 0) std::this_thread::sleep_for(1ms);
                ++ran;
              });
            } catch (const ApiError& e) {
              if (e.code() == ErrorCode::unavailable) ++dropped;
            }
          },
          asio::detached);
    }
    while (!started || pool.queued() != 3) io.poll();  // the first running, three queued
  }  // destroy: the running job finishes, three queued ones are failed
  io.run();
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(dropped.load(), 3);
}

TEST(HashPool, InvalidWorkers) {
  EXPECT_THROW(HashPool(0, 1), std::invalid_argument);
}

}  // namespace
}  // namespace sr::auth
