// PostgreSQL on the network threads. Each io_context that calls Storage::run() gets a PgLoop (an
// Asio service keeps one per io_context and storage): the job's work function runs on a fiber of
// that thread, and where the repository waits for the database only the fiber is suspended --
// libpq is non-blocking and its sockets are watched by the same io_context. Nothing hops threads.
//
// Connections of a loop (docs/storage.md, "Threads"):
//  - one shared read connection, read-only, permanently in pipeline mode: the statements of every
//    read job of the thread that arrive in one turn of the event loop go out together with one
//    Sync (auto-batching); a request whose statements were skipped because another one in the
//    batch failed is sent again; a connection lost mid-batch fails what was in flight;
//  - write connections, each leased by one write job for its whole duration (its transactions
//    span round trips and client work), opened on demand up to the loop's share of db_pool_size.
// Connecting happens on connector threads (host name lookup, TLS and SCRAM may block or burn
// milliseconds); the fiber waits for it like for any other answer.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/detail/jobs.hpp"
#include "storage/postgres/fiber.hpp"
#include "storage/postgres/pg_conn.hpp"
#include "storage/repository.hpp"

namespace sr::storage::postgres {

class PgLoop;
class PgRepository;

// Runs connection attempts away from the network threads. Threads start on demand, up to max.
class Connector {
 public:
  explicit Connector(int max_threads) : max_(max_threads) {}
  ~Connector() { stop(); }
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;
  bool submit(std::function<void()> job);  // false once stopped
  void stop();                             // runs what is queued, then joins

 private:
  void work();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  int idle_ = 0;
  int max_;
  bool stopped_ = false;
};

// What the loops of one PgStorage share (they may outlive it).
struct Shared {
  using Clock = std::chrono::steady_clock;
  static constexpr auto kRetryAfter = std::chrono::milliseconds(500);

  Shared(uint64_t id, ConnOptions opts, int pool_size)
      : id(id), opts(std::move(opts)), pool_size(pool_size), connector(pool_size) {}

  // After a failed connect everyone fails at once for kRetryAfter instead of queueing connect
  // attempts: 503s stay fast during an outage, and the first request after the window tries again.
  bool retry_later() const { return Clock::now().time_since_epoch().count() < retry_at.load(); }
  void connect_failed() { retry_at.store((Clock::now() + kRetryAfter).time_since_epoch().count()); }
  // Write connections per loop: an equal share of what the read connections leave, at least one.
  int write_share() const {
    const int n = std::max(1, loops.load());
    return std::max(1, (pool_size - n) / n);
  }

  const uint64_t id;
  const ConnOptions opts;
  const int pool_size;
  std::atomic<bool> closed{false};
  std::atomic<Clock::rep> retry_at{0};
  std::atomic<int> loops{0};
  Connector connector;
  std::mutex mu;                                // guards `registry`
  std::vector<std::weak_ptr<PgLoop>> registry;  // every loop, for close()
};

// A job on its fiber.
struct Run : Fiber {
  Run(Access a, detail::JobPtr j) : access(a), job(std::move(j)) {}
  Access access;
  detail::JobPtr job;
  PgRepository* repo = nullptr;  // while the work runs: what a nested run_sync uses
  const Shared* owner = nullptr;
  // The outcome of what it waited for, set by whoever resumes it.
  std::exception_ptr failed;
  std::unique_ptr<Conn> connected;
  std::shared_ptr<class WriteConn> handed;
};

// A pipeline sent from a coroutine of the loop's thread without a job or a fiber (PgStorage::read,
// an authenticated request's one read): told its results, or what failed, once, on the loop.
struct ReadWaiter {
  virtual ~ReadWaiter() = default;
  virtual void answered(std::vector<Result> results, std::exception_ptr failed) = 0;
};

class PgLoop : public std::enable_shared_from_this<PgLoop> {
 public:
  using Clock = std::chrono::steady_clock;
  // Where the loop's handlers run, one at a time: the io_context's own executor when one thread
  // runs it (created with concurrency hint 1: the server's network threads), else a strand of it.
  using Executor = boost::asio::any_io_executor;
  using Socket = boost::asio::posix::basic_stream_descriptor<Executor>;

  PgLoop(const boost::asio::any_io_executor& ex, std::shared_ptr<Shared> shared);
  ~PgLoop();
  PgLoop(const PgLoop&) = delete;
  PgLoop& operator=(const PgLoop&) = delete;

  // Runs job on a fiber of this loop (the job completes its caller itself). Any thread.
  void start(Access a, detail::JobPtr job);
  // Sends b on the loop's read connection, like a read job's pipeline but without the job: w is
  // answered once, on the loop (or destroyed unanswered if the io_context goes first). b must
  // live until then. Any thread.
  void read(const Batch& b, std::unique_ptr<ReadWaiter> w);
  // The storage is closing: what waits fails, connections close once idle. Any thread.
  void close();
  // The io_context is being destroyed: drop the connections, resume nothing (a suspended fiber
  // is abandoned, never unwound from outside). Only from PgService::shutdown.
  void abandon() noexcept;

  // --- for the parts of the loop (pg_loop.cpp)
  Executor& executor() { return *exec_; }
  Shared& shared() { return *shared_; }
  // Continues r (from the loop's own handlers, never from inside another fiber).
  void resume(Run* r);
  // Resumes r later, from a handler: for callers that run on a fiber.
  void resume_later(Run* r);
  // Posts fn to the loop from another thread (a connector), unless the loop was abandoned.
  void post_from_outside(std::function<void()> fn);
  // Opens a connection on a connector thread, then calls done on the loop (not at all when the
  // loop was abandoned meanwhile). False when the storage is closed.
  using Connected = std::function<void(std::unique_ptr<Conn>, std::exception_ptr)>;
  bool open_connection(bool read_only, Connected done);
  // The same, for the current fiber, which waits for it.
  std::unique_ptr<Conn> connect(Run* me, bool read_only);
  void watch(class WriteConn* w);
  void unwatch(class WriteConn* w);
  void arm_watchdog();
  void disarm_if_idle();

 private:
  friend class Pipe;
  void start_here(Access a, detail::JobPtr job);
  void read_here(const Batch& b, std::unique_ptr<ReadWaiter> w);
  void read_done();  // a read() answered (Pipe)
  void body(Run* r);
  std::shared_ptr<WriteConn> lease(Run* me);
  void release(std::shared_ptr<WriteConn> w, bool reusable);
  void close_here();
  void tick();
  bool idle() const;

  std::shared_ptr<Shared> shared_;
  // Reset by abandon(), while the io_context's services still exist: a loop kept alive by a
  // connector's job past its io_context must not touch the strand service in its destructor.
  std::optional<Executor> exec_;
  StackPool stacks_;
  std::unique_ptr<class Pipe> pipe_;
  std::optional<boost::asio::basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>, Executor>>
      timer_;
  bool ticking_ = false;
  uint64_t tick_gen_ = 0;
  std::vector<WriteConn*> watched_;
  std::vector<std::shared_ptr<WriteConn>> idle_;  // write connections not leased
  int writers_ = 0;                               // leased + idle + being opened
  std::deque<Run*> lease_waiters_;
  int runs_ = 0;
  bool closing_ = false;
  std::mutex alive_mu_;  // post_from_outside against abandon
  bool alive_ = true;
};

// One PgLoop per (io_context, storage), destroyed with the io_context.
class PgService : public boost::asio::execution_context::service {
 public:
  static inline boost::asio::execution_context::id id;
  explicit PgService(boost::asio::execution_context& ctx) : service(ctx) {}
  std::shared_ptr<PgLoop> loop(const boost::asio::any_io_executor& ex,
                               const std::shared_ptr<Shared>& shared);
  void erase(uint64_t storage_id);

 private:
  void shutdown() override;
  std::mutex mu_;
  std::unordered_map<uint64_t, std::shared_ptr<PgLoop>> loops_;
};

}  // namespace sr::storage::postgres
