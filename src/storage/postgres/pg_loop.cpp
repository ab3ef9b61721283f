#include "storage/postgres/pg_loop.hpp"

#include <poll.h>

#include <algorithm>
#include <cstring>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <string>
#include <unordered_map>
#include <utility>

#include "storage/postgres/pg_repository.hpp"
#include "util/error.hpp"

namespace sr::storage::postgres {

namespace {

constexpr auto kTick = std::chrono::milliseconds(100);  // the watchdog's resolution
constexpr int kClientMarginMs = 2000;  // beyond statement_timeout before a connection is given up
constexpr int kMaxRuns = 4096;         // jobs alive on one loop; beyond: 503 at once
constexpr std::size_t kMaxLeaseWaiters = 1024;
constexpr std::size_t kKeepStacks = 256;
constexpr int kBatchesInFlight = 2;  // per read connection (Pipe::flush)

std::exception_ptr unavailable(const std::string& what) {
  return std::make_exception_ptr(sr::UnavailableError(what));
}

Run* current_run() {
  return static_cast<Run*>(Fiber::current());  // every fiber of a loop is a Run
}

// Asio watches sockets edge-triggered: a wait completes on news, not on a state. libpq reads
// once per PQconsumeInput, so what is left in the socket (the rest of a large answer, the end of
// the stream after the server's goodbye) would never wake a wait. So every wait first asks the
// socket, without blocking, whether it is ready already.
bool ready_now(int fd, int events) {
  pollfd p{fd, static_cast<short>(events), 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (events | POLLERR | POLLHUP)) != 0;
}

// The loop's handlers must run one at a time. Concurrency hint 1 says, in the words of Asio's
// overview, that "the io_context will be run from a single thread" (the server's network threads
// are made so): then the io_context's own executor serialises them, without a strand's lock and
// queue on every hand-off (docs/storage.md, "Threads"). Any other executor gets a strand.
boost::asio::any_io_executor serial(const boost::asio::any_io_executor& ex) {
  // The context's scheduler (an io_context's implementation) holds the hint; a context without
  // one is not asked to create it.
  using Scheduler = boost::asio::detail::scheduler;
  auto& ctx = boost::asio::query(ex, boost::asio::execution::context);
  if (boost::asio::has_service<Scheduler>(ctx) &&
      boost::asio::use_service<Scheduler>(ctx).concurrency_hint() == 1)
    return ex;
  return boost::asio::make_strand(ex);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Connector

bool Connector::submit(std::function<void()> job) {
  std::lock_guard lock(mu_);
  if (stopped_) return false;
  jobs_.push_back(std::move(job));
  if (idle_ == 0 && static_cast<int>(threads_.size()) < max_)
    threads_.emplace_back([this] { work(); });
  else
    cv_.notify_one();
  return true;
}

void Connector::work() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lock, [&] { return stopped_ || !jobs_.empty(); });
    --idle_;
    if (jobs_.empty()) return;  // stopped and drained
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;
    lock.lock();
  }
}

void Connector::stop() {
  std::vector<std::thread> ts;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    cv_.notify_all();
    ts.swap(threads_);
  }
  for (auto& t : ts)
    if (t.joinable()) t.join();
}

// ---------------------------------------------------------------------------------------------
// A write connection: a Conn whose waits suspend the fiber that leased it.

class WriteConn final : public SocketWaiter, public std::enable_shared_from_this<WriteConn> {
  using Clock = PgLoop::Clock;
  using Socket = PgLoop::Socket;

 public:
  WriteConn(std::shared_ptr<PgLoop> loop, std::unique_ptr<Conn> c)
      : loop_(std::move(loop)), conn_(std::move(c)) {
    conn_->set_waiter(this);
  }
  ~WriteConn() override {
    loop_->unwatch(this);
    conn_->reset();  // closing() releases the socket from the reactor first
  }
  Conn& conn() { return *conn_; }

  bool wait(int fd, int events, Clock::time_point until) override {
    Run* me = current_run();
    if (!me) throw std::logic_error("postgresql: a loop connection used outside its fiber");
    if (ready_now(fd, events)) return true;
    if (!sock_) {
      sock_.emplace(loop_->executor());
      sock_->assign(fd);
    }
    waiting_ = me;
    until_ = until;
    timed_out_ = false;
    const uint64_t gen = ++gen_;
    // Either readiness will do (PQflush wants both: read what the server sends while we wait
    // to write); the first completion resumes the fiber, a later one of the same wait is stale.
    auto wake = [self = shared_from_this(), gen](const boost::system::error_code&) {
      if (gen != self->gen_ || !self->waiting_) return;
      Run* r = std::exchange(self->waiting_, nullptr);
      self->loop_->unwatch(self.get());
      self->loop_->resume(r);
    };
    const bool both = (events & POLLIN) && (events & POLLOUT);
    if (events & POLLIN) sock_->async_wait(Socket::wait_read, wake);
    if (events & POLLOUT) sock_->async_wait(Socket::wait_write, wake);
    loop_->watch(this);
    me->suspend();
    if (both && sock_) sock_->cancel();  // the other wait, if it is still pending
    return !timed_out_;
  }

  void closing(int) noexcept override {
    if (!sock_) return;
    sock_->release();  // pending waits complete with operation_aborted; the fd is libpq's
    sock_.reset();
  }

  // The watchdog: a wait past its deadline is cancelled, and its fiber sees the timeout.
  void expire(Clock::time_point now) {
    if (!waiting_ || now < until_) return;
    timed_out_ = true;
    if (sock_) sock_->cancel();
  }

 private:
  std::shared_ptr<PgLoop> loop_;  // outlives its connections (pending waits hold them)
  std::unique_ptr<Conn> conn_;
  std::optional<Socket> sock_;
  Run* waiting_ = nullptr;
  uint64_t gen_ = 0;
  bool timed_out_ = false;
  Clock::time_point until_;
};

// ---------------------------------------------------------------------------------------------
// The shared read connection in pipeline mode.

class Pipe {
 public:
  explicit Pipe(PgLoop& loop) : loop_(loop) {}
  ~Pipe() {
    delete_waiting_reads();  // a closed loop's reads still in flight when its io_context went
    drop();
  }

  // From a read job's fiber: the statements go out with the next batch; returns their results
  // or throws what the first failing one means.
  std::vector<Result> run(const Batch* batch, const char* sql, const Params* params) {
    Req q{batch, sql, params, current_run()};
    if (!q.run) throw std::logic_error("postgresql: the pipe used outside a loop's fiber");
    if (closing_) throw sr::UnavailableError("storage is closed");
    queued_.push_back(&q);
    schedule_flush();
    q.run->suspend();  // until q.done
    if (q.error) std::rethrow_exception(q.error);
    return std::move(q.results);
  }

  // From the loop, without a fiber (PgLoop::read): b goes out with the next batch; w is answered
  // from wake_all.
  void submit(const Batch& b, std::unique_ptr<ReadWaiter> w) {
    auto* q = new Req{&b, nullptr, nullptr, nullptr};
    q->waiter = std::move(w);
    if (closing_) {
      finish(q, unavailable("storage is closed"));
      return schedule_wake();
    }
    queued_.push_back(q);
    schedule_flush();
  }

  bool busy() const { return !sent_.empty(); }

  void expire(PgLoop::Clock::time_point now) {
    if (!sent_.empty() && now >= deadline_) {
      lost("statement timed out (no answer from the server)");
      wake_all();
    }
  }

  void close() {
    closing_ = true;
    fail_queued(unavailable("storage is closed"));
    if (sent_.empty()) drop();
    wake_all();
  }

  // Fibers are abandoned as they are; the requests without one are this pipe's to delete.
  void abandon() noexcept {
    delete_waiting_reads();
    queued_.clear();
    sent_.clear();
    retry_.clear();
    wake_.clear();
    drop();
  }

 private:
  struct Req {
    const Batch* batch;  // pipeline(): these statements
    const char* sql;     // exec(): this one
    const Params* params;
    Run* run;                             // a job's fiber, on whose stack this lives, or
    std::unique_ptr<ReadWaiter> waiter = {};  // (run null) the waiter of a submit(), on the heap
    std::vector<Result> results;
    std::exception_ptr error;
    bool done = false;
    std::size_t size() const { return batch ? batch->size() : 1; }
    const char* sql_at(std::size_t i) const { return batch ? batch->sql(i) : sql; }
    const Params& params_at(std::size_t i) const { return batch ? batch->params(i) : *params; }
  };
  // What the server will answer, in order.
  struct Slot {
    enum Kind : uint8_t { prepare, query, sync } kind;
    Req* req;          // prepare, query: the request it belongs to (null once that is done)
    const char* sql;   // prepare
    std::string name;  // prepare
  };

  // Deletes the requests without a fiber that are still anywhere in the pipe, with their waiters
  // (the awaiting coroutine goes with its io_context, like any pending handler), and forgets them.
  void delete_waiting_reads() noexcept {
    std::vector<Req*> own;
    auto mine = [&own](Req* q) {
      if (q && q->waiter && std::find(own.begin(), own.end(), q) == own.end()) own.push_back(q);
    };
    for (Req* q : queued_) mine(q);
    for (auto& s : sent_) mine(s.req);
    for (Req* q : retry_) mine(q);
    for (Req* q : wake_) mine(q);
    std::erase_if(queued_, [](Req* q) { return q->waiter != nullptr; });
    for (auto& s : sent_)
      if (s.req && s.req->waiter) s.req = nullptr;
    std::erase_if(retry_, [](Req* q) { return q->waiter != nullptr; });
    std::erase_if(wake_, [](Req* q) { return q->waiter != nullptr; });
    for (Req* q : own) delete q;
  }

  PGconn* pg() const { return conn_->handle(); }
  PgLoop::Clock::time_point window() const {
    return PgLoop::Clock::now() +
           std::chrono::milliseconds(loop_.shared().opts.statement_timeout_ms + kClientMarginMs);
  }

  // wake_all from a handler of its own (an answer found outside the pipe's handlers).
  void schedule_wake() {
    boost::asio::post(loop_.executor(), [self = loop_.shared_from_this(), this] { wake_all(); });
  }

  void schedule_flush() {
    if (flush_posted_) return;
    flush_posted_ = true;
    boost::asio::post(loop_.executor(), [self = loop_.shared_from_this(), this] {
      flush_posted_ = false;
      flush();
      wake_all();
    });
  }

  // Everything queued goes out as one batch with one Sync.
  void flush() {
    if (queued_.empty()) return;
    if (closing_) return fail_queued(unavailable("storage is closed"));
    // Nothing was asked, so an idle connection with something to say is being closed by the
    // server (a restart, pg_terminate_backend, an idle timeout; we never LISTEN): replace it
    // before a request goes out on it.
    if (conn_ && sent_.empty() && ready_now(libpq().PQsocket(pg()), POLLIN)) drop();
    if (!conn_) return connect();
    // A batch goes out only when fewer than kBatchesInFlight are unanswered: what arrives
    // meanwhile waits and joins the next batch. The server always has the next batch queued
    // behind the one it works on, and batches grow with the load instead of following the
    // server's output buffer (it sends answers in 8 KiB pieces, each of which would otherwise
    // wake a few requests that go out on their own).
    if (in_flight_ >= kBatchesInFlight) return;
    const bool was_idle = sent_.empty();
    std::unordered_map<const char*, std::string> preparing;  // first use on this connection
    while (!queued_.empty()) {
      Req* q = queued_.front();
      queued_.pop_front();
      for (std::size_t i = 0; i < q->size(); ++i) {
        const char* sql = q->sql_at(i);
        const Params& p = q->params_at(i);
        const std::string* name = conn_->prepared(sql);
        if (!name) {
          auto it = preparing.find(sql);
          if (it == preparing.end()) {
            it = preparing.emplace(sql, conn_->new_statement_name()).first;
            sent_.push_back({Slot::prepare, q, sql, it->second});
            if (!libpq().PQsendPrepare(pg(), it->second.c_str(), sql, p.size(), p.types()))
              return lost("send failed");
          }
          name = &it->second;
        }
        sent_.push_back({Slot::query, q, nullptr, {}});
        if (!libpq().PQsendQueryPrepared(pg(), name->c_str(), p.size(), p.values(), p.lengths(),
                                         p.formats(), 1))
          return lost("send failed");
      }
    }
    sent_.push_back({Slot::sync, nullptr, nullptr, {}});
    ++in_flight_;
    if (!libpq().PQpipelineSync(pg())) return lost("send failed");
    if (was_idle) deadline_ = window();
    write();
    read();
    loop_.arm_watchdog();
  }

  void write() {
    if (!conn_ || writing_) return;
    const int r = libpq().PQflush(pg());
    if (r < 0) return lost("send failed");
    if (r == 0) return;
    writing_ = true;
    sock_->async_wait(
        PgLoop::Socket::wait_write,
        [self = loop_.shared_from_this(), this, gen = gen_](const boost::system::error_code& ec) {
          if (gen != gen_) return;
          writing_ = false;
          if (ec)
            lost("poll failed");
          else
            write();
          wake_all();
        });
  }

  // A read is pending while something is in flight, and only then: an idle loop leaves its
  // io_context nothing to wait for (io_context::run() returns when the caller's work is done).
  void read() {
    if (!conn_ || reading_ || sent_.empty()) return;
    reading_ = true;
    sock_->async_wait(PgLoop::Socket::wait_read, [self = loop_.shared_from_this(), this,
                                                  gen = gen_](const boost::system::error_code& ec) {
      if (gen != gen_) return;
      reading_ = false;
      if (ec) {
        lost("poll failed");
      } else {
        consume();
        if (closing_ && sent_.empty()) drop();
        read();
      }
      loop_.disarm_if_idle();
      wake_all();
    });
  }

  // Reads and hands out what is complete, again while an answer is incomplete and the socket
  // already holds more (see ready_now).
  void consume() {
    do {
      if (!libpq().PQconsumeInput(pg())) return lost("connection lost");
      drain();
    } while (conn_ && !sent_.empty() && libpq().PQisBusy(pg()) &&
             ready_now(libpq().PQsocket(pg()), POLLIN));
  }

  void drain() {
    while (conn_ && !sent_.empty() && !libpq().PQisBusy(pg())) {
      PGresult* r = libpq().PQgetResult(pg());
      Slot& s = sent_.front();
      if (!r) {  // the end of one statement's results
        if (s.kind == Slot::sync) return lost("pipeline out of step");
        sent_.pop_front();
        continue;
      }
      deadline_ = window();  // progress: the next statement has its own window
      const auto st = libpq().PQresultStatus(r);
      if (st == PGRES_PIPELINE_SYNC) {
        libpq().PQclear(r);
        if (s.kind != Slot::sync) return lost("pipeline out of step");
        sent_.pop_front();
        --in_flight_;
        // Skipped because another request of the batch failed: they go out again, in order.
        for (auto it = retry_.rbegin(); it != retry_.rend(); ++it) queued_.push_front(*it);
        retry_.clear();
        if (!queued_.empty()) schedule_flush();
        continue;
      }
      if (s.kind == Slot::sync) {
        libpq().PQclear(r);
        return lost("pipeline out of step");
      }
      Req* q = s.req;
      if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
        if (libpq().PQstatus(pg()) != CONNECTION_OK) {
          libpq().PQclear(r);
          return lost("connection lost");
        }
        // FATAL: the server ends the session after this (a terminated backend, a shutdown).
        const char* sev = libpq().PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
        const bool fatal =
            sev && (std::strcmp(sev, "FATAL") == 0 || std::strcmp(sev, "PANIC") == 0);
        if (q)
          finish(q, result_error(r));
        else
          libpq().PQclear(r);
        if (fatal) return lost("connection lost");
      } else if (st == PGRES_PIPELINE_ABORTED) {
        libpq().PQclear(r);
        if (q && !q->done) {
          q->results.clear();
          retry_.push_back(q);
          orphan(q);
        }
      } else if (s.kind == Slot::prepare) {
        libpq().PQclear(r);
        conn_->remember(s.sql, s.name);
      } else if (q) {
        q->results.emplace_back(r);
        if (q->results.size() == q->size()) finish(q, nullptr);
      } else {
        libpq().PQclear(r);
      }
    }
  }

  // q is answered: no slot may point at it any more (it lives on its fiber's stack).
  void finish(Req* q, std::exception_ptr error) {
    q->done = true;
    q->error = std::move(error);
    orphan(q);
    wake_.push_back(q);
  }
  void orphan(Req* q) {
    for (auto& s : sent_)
      if (s.req == q) s.req = nullptr;
  }

  void fail_queued(std::exception_ptr e) {
    for (Req* q : queued_) finish(q, e);
    queued_.clear();
  }

  // The connection is gone: what was sent fails (it may or may not have run), what was never
  // sent waits for the next connection.
  void lost(const char* what) {
    std::string msg = std::string("postgresql: ") + what;
    if (conn_) {
      std::string m = libpq().PQerrorMessage(pg());
      if (auto nl = m.find('\n'); nl != std::string::npos) m.resize(nl);
      if (!m.empty()) msg += ": " + m;
    }
    auto e = unavailable(msg);
    for (auto& s : sent_)
      if (s.req) finish(s.req, e);
    for (Req* q : retry_) finish(q, e);
    sent_.clear();
    in_flight_ = 0;
    retry_.clear();
    drop();
    if (!queued_.empty()) schedule_flush();
  }

  void drop() {
    if (sock_) {
      sock_->release();
      sock_.reset();
    }
    conn_.reset();
    ++gen_;
    reading_ = writing_ = false;
  }

  void connect() {
    if (connecting_) return;
    if (loop_.shared().retry_later())
      return fail_queued(unavailable("postgresql: database unavailable (retrying shortly)"));
    connecting_ = true;
    const bool queued = loop_.open_connection(
        true,
        [self = loop_.shared_from_this(), this](std::unique_ptr<Conn> c, std::exception_ptr err) {
          connected(std::move(c), err);
          wake_all();
        });
    if (!queued) {
      connecting_ = false;
      fail_queued(unavailable("storage is closed"));
    }
  }

  void connected(std::unique_ptr<Conn> c, std::exception_ptr err) {
    connecting_ = false;
    if (err) return fail_queued(err);
    if (closing_) return fail_queued(unavailable("storage is closed"));
    conn_ = std::move(c);
    ++gen_;
    if (!libpq().PQenterPipelineMode(pg())) return lost("cannot enter pipeline mode");
    sock_.emplace(loop_.executor());
    sock_->assign(libpq().PQsocket(pg()));
    flush();
  }

  void wake_all() {
    auto wake = std::move(wake_);
    wake_.clear();
    for (std::size_t i = 0; i < wake.size(); ++i) {
      try {
        wake_one(wake[i]);
      } catch (...) {
        // Whatever the resumed caller let escape goes on up; the others are still woken.
        wake_.insert(wake_.begin(), wake.begin() + static_cast<std::ptrdiff_t>(i) + 1, wake.end());
        if (!wake_.empty()) schedule_wake();
        throw;
      }
    }
  }

  void wake_one(Req* q) {
    if (q->run) return loop_.resume(q->run);  // q lived on its stack: gone now
    // The waiter may go on with its caller's request (inline, on this thread): the pipe is
    // consistent here and q is no longer anywhere in it.
    std::unique_ptr<Req> own(q);
    std::unique_ptr<ReadWaiter> w = std::move(q->waiter);
    std::vector<Result> results = std::move(q->results);
    std::exception_ptr error = q->error;
    own.reset();
    loop_.read_done();
    w->answered(std::move(results), error);
  }

  PgLoop& loop_;
  std::unique_ptr<Conn> conn_;
  std::optional<PgLoop::Socket> sock_;
  uint64_t gen_ = 0;  // bumped per connection: handlers of an older one do nothing
  bool connecting_ = false, flush_posted_ = false, reading_ = false, writing_ = false;
  bool closing_ = false;
  std::deque<Req*> queued_;  // not sent yet
  std::deque<Slot> sent_;    // sent, not fully answered
  int in_flight_ = 0;        // batches sent and not answered up to their Sync
  std::vector<Req*> retry_;  // skipped in the current batch: sent again after its Sync
  std::vector<Req*> wake_;   // answered, resumed once the handler is done with the pipe
  PgLoop::Clock::time_point deadline_;
};

// A read job's link: its statements travel on the pipe.
class PipeLink final : public Link {
 public:
  explicit PipeLink(Pipe& p) : pipe_(p) {}
  Result exec(const char* sql, const Params& p) override {
    auto r = pipe_.run(nullptr, sql, &p);
    return std::move(r.front());
  }
  std::vector<Result> pipeline(const Batch& b) override {
    if (b.empty()) return {};
    return pipe_.run(&b, nullptr, nullptr);
  }

 private:
  Pipe& pipe_;
};

// ---------------------------------------------------------------------------------------------
// PgLoop

PgLoop::PgLoop(const boost::asio::any_io_executor& ex, std::shared_ptr<Shared> shared)
    : shared_(std::move(shared)),
      exec_(serial(ex)),
      stacks_(kKeepStacks),
      pipe_(std::make_unique<Pipe>(*this)) {
  timer_.emplace(*exec_);
  ++shared_->loops;
}

PgLoop::~PgLoop() {
  --shared_->loops;
}

void PgLoop::start(Access a, detail::JobPtr job) {
  boost::asio::dispatch(*exec_, [self = shared_from_this(), a, job = std::move(job)]() mutable {
    self->start_here(a, std::move(job));
  });
}

void PgLoop::start_here(Access a, detail::JobPtr job) {
  if (closing_ || shared_->closed) return job->execute(nullptr, unavailable("storage is closed"));
  if (runs_ >= kMaxRuns)
    return job->execute(nullptr, unavailable("postgresql: too many requests waiting"));
  auto* r = new Run(a, std::move(job));
  r->owner = shared_.get();
  ++runs_;
  r->start(stacks_, [this, r] { body(r); });
  if (r->finished()) {
    delete r;
    --runs_;
  }
}

void PgLoop::read(const Batch& b, std::unique_ptr<ReadWaiter> w) {
  if (b.empty()) throw std::logic_error("postgresql: a read of no statements");  // never answered
  boost::asio::dispatch(*exec_, [self = shared_from_this(), &b, w = std::move(w)]() mutable {
    self->read_here(b, std::move(w));
  });
}

void PgLoop::read_here(const Batch& b, std::unique_ptr<ReadWaiter> w) {
  // Counted with the jobs: a read without a fiber still holds its caller's request in memory.
  const char* refused = closing_ || shared_->closed ? "storage is closed"
                        : runs_ >= kMaxRuns         ? "postgresql: too many requests waiting"
                                                    : nullptr;
  if (refused) {
    // Answered from a handler of its own: never inside the caller's initiation.
    boost::asio::post(*exec_, [w = std::move(w), e = unavailable(refused)]() mutable {
      w->answered({}, e);
    });
    return;
  }
  pipe_->submit(b, std::move(w));  // it answers from a later handler, never from here
  ++runs_;
}

void PgLoop::read_done() {
  --runs_;
}

void PgLoop::resume(Run* r) {
  r->resume();
  if (r->finished()) {
    delete r;
    --runs_;
  }
}

void PgLoop::resume_later(Run* r) {
  boost::asio::post(*exec_, [self = shared_from_this(), r] { self->resume(r); });
}

void PgLoop::post_from_outside(std::function<void()> fn) {
  std::lock_guard lock(alive_mu_);
  if (alive_) boost::asio::post(*exec_, std::move(fn));
}

void PgLoop::body(Run* r) {
  if (r->access == Access::read) {
    PipeLink link(*pipe_);
    PgRepository repo(link, nullptr);
    r->repo = &repo;
    r->job->execute(&repo, nullptr);
    r->repo = nullptr;
    return;
  }
  std::shared_ptr<WriteConn> w;
  try {
    w = lease(r);
  } catch (...) {
    r->job->execute(nullptr, std::current_exception());
    return;
  }
  {
    PgRepository repo(w->conn(), &w->conn());
    r->repo = &repo;
    r->job->execute(&repo, nullptr);
    r->repo = nullptr;
  }
  // Never hand on a connection left inside a transaction.
  const bool reusable =
      w->conn().connected() && libpq().PQtransactionStatus(w->conn().handle()) == PQTRANS_IDLE;
  release(std::move(w), reusable);
}

bool PgLoop::open_connection(bool read_only, Connected done) {
  auto self = shared_from_this();
  return shared_->connector.submit([self, read_only, done = std::move(done)] {
    auto opts = self->shared_->opts;
    opts.read_only = read_only;
    // In a box: the handler must be copyable, and a dropped one still closes the connection.
    auto c = std::make_shared<std::unique_ptr<Conn>>(std::make_unique<Conn>(opts));
    std::exception_ptr err;
    try {
      (*c)->connect();
    } catch (...) {
      err = std::current_exception();
      self->shared_->connect_failed();
    }
    if (err) c->reset();
    self->post_from_outside([c, err, done] { done(std::move(*c), err); });
  });
}

std::unique_ptr<Conn> PgLoop::connect(Run* me, bool read_only) {
  if (shared_->retry_later())
    throw sr::UnavailableError("postgresql: database unavailable (retrying shortly)");
  const bool queued = open_connection(
      read_only, [self = shared_from_this(), me](std::unique_ptr<Conn> c, std::exception_ptr err) {
        me->failed = err;
        me->connected = std::move(c);
        self->resume(me);
      });
  if (!queued) throw sr::UnavailableError("storage is closed");
  me->suspend();
  if (me->failed) std::rethrow_exception(std::exchange(me->failed, nullptr));
  return std::move(me->connected);
}

std::shared_ptr<WriteConn> PgLoop::lease(Run* me) {
  for (;;) {
    if (closing_ || shared_->closed) throw sr::UnavailableError("storage is closed");
    while (!idle_.empty()) {
      auto w = std::move(idle_.back());
      idle_.pop_back();
      if (w->conn().healthy()) return w;
      --writers_;  // found closed while idle: replaced below
    }
    if (writers_ < shared_->write_share()) {
      ++writers_;
      try {
        return std::make_shared<WriteConn>(shared_from_this(), connect(me, false));
      } catch (...) {
        --writers_;
        if (!lease_waiters_.empty()) {  // room for one of them to try
          resume_later(lease_waiters_.front());
          lease_waiters_.pop_front();
        }
        throw;
      }
    }
    if (lease_waiters_.size() >= kMaxLeaseWaiters)
      throw sr::UnavailableError("postgresql: too many writes waiting");
    lease_waiters_.push_back(me);
    me->suspend();
    if (me->failed) std::rethrow_exception(std::exchange(me->failed, nullptr));
    if (me->handed) return std::move(me->handed);
    // else woken to try again: a connection went away and there is room to open one
  }
}

void PgLoop::release(std::shared_ptr<WriteConn> w, bool reusable) {
  if (!reusable || closing_ || writers_ > shared_->write_share()) {
    w.reset();
    --writers_;
    if (!lease_waiters_.empty()) {
      resume_later(lease_waiters_.front());
      lease_waiters_.pop_front();
    }
    return;
  }
  if (!lease_waiters_.empty()) {
    Run* r = lease_waiters_.front();
    lease_waiters_.pop_front();
    r->handed = std::move(w);
    resume_later(r);
    return;
  }
  idle_.push_back(std::move(w));
}

void PgLoop::close() {
  // Through the same guard as a connector: an abandoned loop (its io_context gone) has no executor.
  post_from_outside([self = shared_from_this()] { self->close_here(); });
}

void PgLoop::close_here() {
  closing_ = true;
  pipe_->close();
  writers_ -= static_cast<int>(idle_.size());
  idle_.clear();
  auto waiters = std::move(lease_waiters_);
  lease_waiters_.clear();
  for (Run* r : waiters) {
    r->failed = unavailable("storage is closed");
    resume(r);
  }
  auto& svc = boost::asio::use_service<PgService>(
      boost::asio::query(*exec_, boost::asio::execution::context));
  svc.erase(shared_->id);
}

void PgLoop::abandon() noexcept {
  {
    std::lock_guard lock(alive_mu_);
    alive_ = false;
  }
  closing_ = true;
  pipe_->abandon();
  idle_.clear();
  lease_waiters_.clear();
  watched_.clear();
  ticking_ = false;  // a connection destroyed later (its last wait dropped) must not cancel it
  ++tick_gen_;
  timer_.reset();
  exec_.reset();  // a strand's service goes with the io_context; the loop itself may live on
}

void PgLoop::watch(WriteConn* w) {
  watched_.push_back(w);
  arm_watchdog();
}

void PgLoop::unwatch(WriteConn* w) {
  std::erase(watched_, w);
  disarm_if_idle();
}

bool PgLoop::idle() const {
  return watched_.empty() && !pipe_->busy();
}

void PgLoop::arm_watchdog() {
  if (ticking_ || !timer_ || idle()) return;
  ticking_ = true;
  timer_->expires_after(kTick);
  timer_->async_wait(
      [self = shared_from_this(), gen = ++tick_gen_](const boost::system::error_code& ec) {
        if (gen != self->tick_gen_) return;  // disarmed meanwhile
        self->ticking_ = false;
        if (!ec) self->tick();
      });
}

// An armed timer is work for the io_context: an idle loop must not keep io_context::run() from
// returning for up to a tick.
void PgLoop::disarm_if_idle() {
  if (!ticking_ || !timer_ || !idle()) return;
  ticking_ = false;
  ++tick_gen_;
  timer_->cancel();
}

void PgLoop::tick() {
  const auto now = Clock::now();
  pipe_->expire(now);
  for (WriteConn* w : std::vector<WriteConn*>(watched_)) w->expire(now);
  arm_watchdog();
}

// ---------------------------------------------------------------------------------------------
// PgService

std::shared_ptr<PgLoop> PgService::loop(const boost::asio::any_io_executor& ex,
                                        const std::shared_ptr<Shared>& shared) {
  std::lock_guard lock(mu_);
  auto& l = loops_[shared->id];
  if (!l) {
    l = std::make_shared<PgLoop>(ex, shared);
    std::lock_guard reg(shared->mu);
    std::erase_if(shared->registry, [](const auto& w) { return w.expired(); });
    shared->registry.push_back(l);
  }
  return l;
}

void PgService::erase(uint64_t storage_id) {
  std::shared_ptr<PgLoop> gone;  // destroyed outside the lock
  std::lock_guard lock(mu_);
  auto it = loops_.find(storage_id);
  if (it == loops_.end()) return;
  gone = std::move(it->second);
  loops_.erase(it);
}

void PgService::shutdown() {
  std::unordered_map<uint64_t, std::shared_ptr<PgLoop>> loops;
  {
    std::lock_guard lock(mu_);
    loops.swap(loops_);
  }
  for (auto& [id, l] : loops) l->abandon();
}

}  // namespace sr::storage::postgres
