// The Redis GCRA limiter: one Lua script per check, run atomically by Redis with Redis's own clock
// (TIME), so every instance sharing the server enforces one limit together.
//
// Threading: hiredis is blocking, so all Redis I/O happens on one dedicated worker thread that owns
// the connection (reused for every check, 100 ms connect and command timeouts). check() queues a
// job and suspends; the worker pipelines whatever is queued (up to kBatch checks per round trip)
// and posts each result back to the awaiting coroutine's executor. Network threads never block.
//
// Failure: when Redis cannot be reached, times out or answers with an error, the affected checks
// are answered by the fallback (local memory) limiter: limits stay enforced, per instance, never
// fail open. While the connection is down check() goes straight to the fallback without touching
// the worker, and the worker retries the connection at most once per second. Each failure is
// reported through on_warning, at most once per 10 s (suppressed reports are counted).
#include <hiredis/hiredis.h>

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ratelimit/gcra.hpp"
#include "ratelimit/key.hpp"
#include "ratelimit/limiter.hpp"

namespace sr::ratelimit {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kKeyPrefix = "sr:rl:";
constexpr std::size_t kBatch = 256;       // checks per pipelined round trip
constexpr std::size_t kMaxQueue = 16384;  // beyond this, checks go to the fallback
constexpr int64_t kUsPerSecond = 1'000'000;
constexpr timeval kTimeout{0, 100'000};  // connect and command timeout: 100 ms
constexpr auto kReconnectEvery = std::chrono::seconds(1);
constexpr auto kWarnEvery = std::chrono::seconds(10);

// KEYS[1] = key, ARGV[1] = count, ARGV[2] = period in microseconds. Times are in microseconds so
// that they stay exact in Lua's doubles (< 2^53). Returns {allowed, max(TAT, now) - now}; the
// caller derives remaining/reset/retry_after from that with the same arithmetic (gcra.hpp).
// A denied check writes nothing. The key expires (PX) when its TAT passes, which is exactly when
// its state becomes equivalent to none.
constexpr const char* kScript = R"lua(
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local count = tonumber(ARGV[1])
local interval = math.max(1, math.floor(tonumber(ARGV[2]) / count))
local burst = interval * count
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or now
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now <= burst then
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX',
             math.floor((new_tat - now) / 1000) + 1)
  return {1, tat - now}
end
return {0, tat - now}
)lua";

struct RedisUrl {
  std::string host;
  int port = 6379;
  std::string user;
  std::optional<std::string> password;
  int db = 0;
};

std::string percent_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    const int hi = i + 2 < s.size() ? hex(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hex(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) throw std::invalid_argument("redis url: bad percent-encoding");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

int parse_int(std::string_view s, int lo, int hi, const char* what) {
  if (s.empty() || s.size() > 9) throw std::invalid_argument(std::string("redis url: bad ") + what);
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') throw std::invalid_argument(std::string("redis url: bad ") + what);
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi) throw std::invalid_argument(std::string("redis url: bad ") + what);
  return v;
}

// redis://[[user]:password@]host[:port][/db]
RedisUrl parse_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, scheme.size()) != scheme) {
    throw std::invalid_argument("redis url: only redis:// is supported");
  }
  std::string_view rest = url.substr(scheme.size());
  RedisUrl out;
  std::string_view path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      out.user = percent_decode(userinfo.substr(0, colon));
      out.password = percent_decode(userinfo.substr(colon + 1));
    } else {
      out.password = percent_decode(userinfo);  // redis://password@host, as redis-cli reads it
    }
  }
  std::string_view host = rest, port;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("redis url: bad host");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') throw std::invalid_argument("redis url: bad host");
      port = after.substr(1);
      if (port.empty()) throw std::invalid_argument("redis url: bad port");
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) throw std::invalid_argument("redis url: bad port");
  }
  if (host.empty()) throw std::invalid_argument("redis url: missing host");
  out.host = std::string(host);
  if (!port.empty()) out.port = parse_int(port, 1, 65535, "port");
  if (!path.empty()) out.db = parse_int(path, 0, 1'000'000, "database");
  return out;
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// One queued check. complete() is called exactly once, on the worker thread or the caller's.
struct Job {
  Job(std::string k, Limit l) : key(std::move(k)), limit(l) {}
  virtual ~Job() = default;
  virtual void complete(const Decision& d) = 0;
  std::string key;  // as the caller gave it
  Limit limit;
};

// Resumes an awaiting coroutine on its own executor, holding that executor's work meanwhile so that
// its io_context does not run out of work while the check is in flight.
template <class Handler>
struct AsyncJob final : Job {
  AsyncJob(Handler h, std::string k, Limit l)
      : Job(std::move(k), l),
        handler(std::move(h)),
        work(boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                 boost::asio::execution::outstanding_work.tracked)) {}
  void complete(const Decision& d) override {
    boost::asio::post(work, [h = std::move(handler), d]() mutable { std::move(h)(d); });
  }
  Handler handler;
  decltype(boost::asio::prefer(boost::asio::get_associated_executor(std::declval<Handler&>()),
                               boost::asio::execution::outstanding_work.tracked)) work;
};

struct PromiseJob final : Job {
  using Job::Job;
  void complete(const Decision& d) override { promise.set_value(d); }
  std::promise<Decision> promise;
};

class RedisLimiter final : public Limiter {
 public:
  RedisLimiter(RedisUrl url, std::shared_ptr<Limiter> fallback,
               std::function<void(std::string_view)> on_warning)
      : url_(std::move(url)), fallback_(std::move(fallback)), on_warning_(std::move(on_warning)) {
    if (!fallback_) fallback_ = make_memory_limiter();
    connect();  // at start, synchronously (<= 100 ms), so the first checks already go to Redis
    worker_ = std::thread([this] { run(); });
  }

  ~RedisLimiter() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    worker_.join();
    if (ctx_) redisFree(ctx_);
  }

  Task<Decision> check(std::string key, Limit limit) override {
    if (detail::unlimited(limit)) co_return detail::unlimited_decision();
    if (!up_.load(std::memory_order_acquire)) co_return fallback_->check_now(key, limit);
    co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                   void(Decision)>(
        [this](auto handler, std::string k, Limit l) {
          submit(
              std::make_unique<AsyncJob<decltype(handler)>>(std::move(handler), std::move(k), l));
        },
        boost::asio::use_awaitable, std::move(key), limit);
  }

  // Blocks the calling thread for up to one Redis round trip (tests, tools; not network threads).
  Decision check_now(std::string_view key, Limit limit) override {
    if (detail::unlimited(limit)) return detail::unlimited_decision();
    if (!up_.load(std::memory_order_acquire)) return fallback_->check_now(key, limit);
    auto job = std::make_unique<PromiseJob>(std::string(key), limit);
    auto result = job->promise.get_future();
    submit(std::move(job));
    return result.get();
  }

  // Keys held locally: those of the fallback limiter.
  std::size_t size() const override { return fallback_->size(); }

 private:
  void submit(std::unique_ptr<Job> job) {
    {
      std::lock_guard lock(mu_);
      if (queue_.size() < kMaxQueue) {
        queue_.push_back(std::move(job));
        cv_.notify_one();
        return;
      }
    }
    warn("redis rate limiter: Redis cannot keep up (queue full); using the local fallback limiter");
    use_fallback(*job);
  }

  void use_fallback(Job& job) { job.complete(fallback_->check_now(job.key, job.limit)); }

  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      auto ready = [&] { return stop_ || !queue_.empty(); };
      if (!ctx_ && !stop_) {
        cv_.wait_until(lock, next_attempt_, ready);
      } else {
        cv_.wait(lock, ready);
      }
      if (stop_ && queue_.empty()) return;
      std::vector<std::unique_ptr<Job>> batch;
      while (!queue_.empty() && batch.size() < kBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      const bool stopping = stop_;
      lock.unlock();
      if (!ctx_ && !stopping && SteadyClock::now() >= next_attempt_) connect();
      if (ctx_) {
        run_batch(batch, true);
      } else {
        for (auto& job : batch) use_fallback(*job);
      }
      batch.clear();
      lock.lock();
    }
  }

  // Sends the whole batch pipelined, then reads the replies in order.
  void run_batch(std::vector<std::unique_ptr<Job>>& batch, bool may_reload) {
    std::size_t sent = 0;
    std::string rkey, buf;
    for (auto& job : batch) {
      rkey.assign(kKeyPrefix);
      rkey.append(detail::storage_key(job->key, buf));
      const auto count = static_cast<long long>(job->limit.count);
      const auto period_us = static_cast<long long>(
          std::min(job->limit.period, detail::kMaxPeriodSeconds) * kUsPerSecond);
      if (redisAppendCommand(ctx_, "EVALSHA %s 1 %b %lld %lld", sha_.c_str(), rkey.data(),
                             rkey.size(), count, period_us) != REDIS_OK) {
        break;
      }
      ++sent;
    }
    std::vector<std::unique_ptr<Job>> noscript;
    std::size_t done = 0;
    for (; done < sent; ++done) {
      void* raw = nullptr;
      if (redisGetReply(ctx_, &raw) != REDIS_OK) {
        lost_connection(ctx_->errstr);
        break;
      }
      Reply reply(static_cast<redisReply*>(raw));
      Job& job = *batch[done];
      if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
          reply->element[0]->type == REDIS_REPLY_INTEGER &&
          reply->element[1]->type == REDIS_REPLY_INTEGER) {
        const int64_t delta = reply->element[1]->integer;
        job.complete(detail::gcra_step(job.limit, 0, delta, kUsPerSecond).decision);
      } else if (reply->type == REDIS_REPLY_ERROR &&
                 std::string_view(reply->str, reply->len).starts_with("NOSCRIPT")) {
        noscript.push_back(std::move(batch[done]));  // not run: safe to run again
      } else {
        warn("redis rate limiter: unexpected reply: " + describe(*reply) +
             "; using the local fallback limiter");
        use_fallback(job);
      }
    }
    if (sent < batch.size() && ctx_) lost_connection(ctx_->errstr);
    for (std::size_t i = done; i < batch.size(); ++i) use_fallback(*batch[i]);
    if (!noscript.empty()) {
      if (may_reload && ctx_ && load_script()) {
        run_batch(noscript, false);
      } else {
        for (auto& job : noscript) use_fallback(*job);
      }
    }
  }

  static std::string describe(const redisReply& r) {
    if (r.type == REDIS_REPLY_ERROR || r.type == REDIS_REPLY_STATUS) {
      return std::string(r.str, std::min<std::size_t>(r.len, 200));
    }
    return "reply of type " + std::to_string(r.type);
  }

  Reply command(std::initializer_list<std::string_view> args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (auto a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return Reply(static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
  }

  bool load_script() {
    Reply r = command({"SCRIPT", "LOAD", kScript});
    if (!r) {
      lost_connection(ctx_->errstr);
      return false;
    }
    if (r->type != REDIS_REPLY_STRING) {
      warn("redis rate limiter: SCRIPT LOAD failed: " + describe(*r));
      drop_connection();
      return false;
    }
    sha_.assign(r->str, r->len);
    return true;
  }

  // Called on the worker thread (or by the constructor before the worker exists).
  void connect() {
    next_attempt_ = SteadyClock::now() + kReconnectEvery;
    const std::string where = url_.host + ":" + std::to_string(url_.port);
    ctx_ = redisConnectWithTimeout(url_.host.c_str(), url_.port, kTimeout);
    if (!ctx_ || ctx_->err) {
      warn("redis rate limiter: cannot connect to " + where + ": " +
           (ctx_ ? ctx_->errstr : "out of memory") + "; using the local fallback limiter");
      drop_connection();
      return;
    }
    redisSetTimeout(ctx_, kTimeout);
    auto setup = [&](std::initializer_list<std::string_view> args, const char* what) {
      Reply r = command(args);
      if (r && r->type != REDIS_REPLY_ERROR) return true;
      warn("redis rate limiter: " + std::string(what) + " failed on " + where + ": " +
           (r ? describe(*r) : std::string(ctx_->errstr)) + "; using the local fallback limiter");
      drop_connection();
      return false;
    };
    if (url_.password) {
      const bool ok = url_.user.empty() ? setup({"AUTH", *url_.password}, "AUTH")
                                        : setup({"AUTH", url_.user, *url_.password}, "AUTH");
      if (!ok) return;
    }
    if (url_.db != 0) {
      const std::string db = std::to_string(url_.db);
      if (!setup({"SELECT", db}, "SELECT")) return;
    }
    if (!load_script()) return;
    if (was_up_ && !up_.load()) warn("redis rate limiter: reconnected to " + where);
    was_up_ = true;
    up_.store(true, std::memory_order_release);
  }

  void lost_connection(const char* why) {
    warn(std::string("redis rate limiter: connection lost: ") + why +
         "; using the local fallback limiter");
    drop_connection();
  }

  void drop_connection() {
    up_.store(false, std::memory_order_release);
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
    next_attempt_ = std::max(next_attempt_, SteadyClock::now() + kReconnectEvery);
  }

  void warn(const std::string& message) {
    if (!on_warning_) return;
    std::unique_lock lock(warn_mu_);
    const auto now = SteadyClock::now();
    if (warned_ && now - last_warning_ < kWarnEvery) {
      ++suppressed_;
      return;
    }
    std::string text = message;
    if (suppressed_ > 0) {
      text += " (" + std::to_string(suppressed_) + " similar warnings suppressed)";
    }
    warned_ = true;
    last_warning_ = now;
    suppressed_ = 0;
    lock.unlock();
    on_warning_(text);
  }

  const RedisUrl url_;
  std::shared_ptr<Limiter> fallback_;
  const std::function<void(std::string_view)> on_warning_;

  // Worker-owned (and the constructor's, before the worker starts).
  redisContext* ctx_ = nullptr;
  std::string sha_;
  SteadyClock::time_point next_attempt_{};
  bool was_up_ = false;

  std::atomic<bool> up_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stop_ = false;

  std::mutex warn_mu_;
  bool warned_ = false;
  SteadyClock::time_point last_warning_{};
  uint64_t suppressed_ = 0;

  std::thread worker_;
};

}  // namespace

std::unique_ptr<Limiter> make_redis_limiter(const std::string& url,
                                            std::shared_ptr<Limiter> fallback,
                                            std::function<void(std::string_view)> on_warning) {
  return std::make_unique<RedisLimiter>(parse_url(url), std::move(fallback), std::move(on_warning));
}

}  // namespace sr::ratelimit
