#include "observability/log.hpp"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <thread>
#include <vector>

#include "json/json.hpp"

namespace sr::obs {
namespace {

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;  // stdout gone: drop rather than block or crash
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

// stdout, buffered: spdlog's stdout sink flushes after every line (a syscall per request).
// Lines are written when 32 KiB accumulate, at every warn/error line, and on flush (the flusher
// thread below flushes every 100 ms).
class StdoutJsonSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ~StdoutJsonSink() override {
    if (!buf_.empty()) write_all(STDOUT_FILENO, buf_.data(), buf_.size());
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    buf_.append(msg.payload.data(), msg.payload.size());
    buf_.push_back('\n');
    if (buf_.size() >= 32 * 1024 || msg.level >= spdlog::level::warn) flush_();
  }
  void flush_() override {
    if (buf_.empty()) return;
    write_all(STDOUT_FILENO, buf_.data(), buf_.size());
    buf_.clear();
  }

 private:
  std::string buf_;
};

// Slots of the async logger's queue. Each one is preallocated (about 400 bytes: 8192 slots were
// 3.3 MB resident from the start) and each carries a whole batch of lines, so a few hundred
// are plenty; a full queue blocks the handing thread (never drops a line).
constexpr std::size_t kQueueSlots = 256;

struct State {
  std::shared_ptr<spdlog::details::thread_pool> pool;
  std::shared_ptr<spdlog::async_logger> logger;
  std::thread flusher;
  std::mutex flusher_mu;
  std::condition_variable flusher_cv;
  bool flusher_stop = false;
};
State& state() {
  static State* s = new State;  // never destroyed: log() may run during static destruction
  return *s;
}
std::atomic<spdlog::async_logger*> g_logger{nullptr};
std::atomic<int> g_min_level{static_cast<int>(Level::info)};
std::mutex g_fallback_mu;

spdlog::level::level_enum to_spd(Level l) {
  switch (l) {
    case Level::debug:
      return spdlog::level::debug;
    case Level::info:
      return spdlog::level::info;
    case Level::warn:
      return spdlog::level::warn;
    case Level::error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

const char* level_name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

// "2026-11-23T04:05:06.789Z", the seconds part cached per thread.
void append_timestamp(std::string& out) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms_total = duration_cast<milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms_total / 1000);
  const int ms = static_cast<int>(ms_total % 1000);
  thread_local std::time_t cached = -1;
  thread_local char prefix[32];
  thread_local std::size_t prefix_len = 0;
  if (secs != cached) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    prefix_len = std::strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%S", &tm);
    cached = secs;
  }
  out.append(prefix, prefix_len);
  char frac[6] = {'.',
                  static_cast<char>('0' + ms / 100),
                  static_cast<char>('0' + ms / 10 % 10),
                  static_cast<char>('0' + ms % 10),
                  'Z',
                  0};
  out.append(frac, 5);
}

void append_field(std::string& out, const Field& f) {
  out += ",\"";
  json::escape_log_into(out, f.key);
  out += "\":";
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          out += '"';
          json::escape_log_into(out, v);
          out += '"';
        } else if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          char buf[24];
          auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
          (void)ec;
          out.append(buf, p);
        } else {
          if (!std::isfinite(v)) {
            out += "null";
            return;
          }
          char buf[32];
          auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
          (void)ec;
          out.append(buf, p);
        }
      },
      f.value);
}

void begin_line(std::string& out, Level level, std::string_view event) {
  out += "{\"ts\":\"";
  append_timestamp(out);
  out += "\",\"level\":\"";
  out += level_name(level);
  out += "\",\"event\":\"";
  json::escape_log_into(out, event);
  out += '"';
}

// Lines are batched per thread and handed to the async logger as one multi-line message when
// 16 KiB accumulate, at every warn/error line, and every 100 ms (flusher thread): one queue push
// and one wake-up of the logger thread per batch instead of per request. Each buffer has its own
// mutex, taken by its thread and by the flusher only.
struct ThreadBuf {
  std::mutex mu;
  std::string buf;
};
// Never destroyed, like state(): a line may be logged, and the flusher may run, while the
// process exits.
struct Bufs {
  std::mutex mu;
  std::vector<std::shared_ptr<ThreadBuf>> all;
};
Bufs& bufs() {
  static Bufs* b = new Bufs;
  return *b;
}

ThreadBuf& local_buf() {
  thread_local std::shared_ptr<ThreadBuf> tb = [] {
    auto p = std::make_shared<ThreadBuf>();
    Bufs& b = bufs();
    std::lock_guard lock(b.mu);
    b.all.push_back(p);
    return p;
  }();
  return *tb;
}

// Caller holds tb.mu. The buffer ends with '\n'; the "%v" pattern adds the last one back.
void hand_over(spdlog::async_logger* lg, ThreadBuf& tb, Level level) {
  if (tb.buf.empty()) return;
  lg->log(to_spd(level), spdlog::string_view_t(tb.buf.data(), tb.buf.size() - 1));
  tb.buf.clear();
  if (tb.buf.capacity() > 256 * 1024) std::string().swap(tb.buf);
}

// Hands every thread's pending lines to the logger; forgets buffers of finished threads.
void hand_over_all(spdlog::async_logger* lg) {
  Bufs& b = bufs();
  std::lock_guard lock(b.mu);
  for (auto& tb : b.all) {
    std::lock_guard l(tb->mu);
    if (lg) hand_over(lg, *tb, Level::info);
  }
  std::erase_if(b.all, [](const auto& p) { return p.use_count() == 1 && p->buf.empty(); });
}

void emit(Level level, const std::string& line) {
  if (auto* lg = g_logger.load(std::memory_order_acquire)) {
    ThreadBuf& tb = local_buf();
    std::lock_guard lock(tb.mu);
    tb.buf += line;
    tb.buf += '\n';
    if (tb.buf.size() >= 16 * 1024 || level >= Level::warn) hand_over(lg, tb, level);
    return;
  }
  std::lock_guard lock(g_fallback_mu);
  std::string l = line;
  l.push_back('\n');
  write_all(STDOUT_FILENO, l.data(), l.size());
}

bool enabled(Level level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, p);
}

// Nanoseconds as milliseconds to the microsecond, as the shortest decimal (what to_chars makes of
// the double us / 1000: "1.2", "0.035", "17"), in integers: to_chars(double) costs ~600
// instructions a line.
void append_millis(std::string& out, int64_t ns) {
  const int64_t us = (std::max<int64_t>(ns, 0) + 500) / 1000;
  append_int(out, us / 1000);
  int frac = static_cast<int>(us % 1000);
  if (frac == 0) return;
  char digits[4] = {'.', static_cast<char>('0' + frac / 100),
                    static_cast<char>('0' + frac / 10 % 10), static_cast<char>('0' + frac % 10)};
  std::size_t n = 4;
  while (digits[n - 1] == '0') --n;
  out.append(digits, n);
}

void append_string_field(std::string& out, std::string_view key_prefix, std::string_view v) {
  out += key_prefix;  // ,"key":"
  json::escape_log_into(out, v);
  out += '"';
}

// The same line format_line() would make for these fields, without building a field list.
void append_access(std::string& out, const AccessRecord& r) {
  begin_line(out, Level::info, "access");
  append_string_field(out, ",\"request_id\":\"", r.request_id);
  append_string_field(out, ",\"method\":\"", r.method);
  append_string_field(out, ",\"route\":\"", r.route);
  out += ",\"status\":";
  append_int(out, r.status);
  out += ",\"latency_ms\":";
  append_millis(out, r.latency_ns);
  if (r.user_id != 0) {
    out += ",\"user_id\":";
    append_int(out, r.user_id);
  }
  append_string_field(out, ",\"ip\":\"", r.ip);
  out += '}';
}

}  // namespace

std::string format_line(Level level, std::string_view event, std::initializer_list<Field> fields) {
  std::string out;
  out.reserve(256);
  begin_line(out, level, event);
  for (const auto& f : fields) append_field(out, f);
  out += '}';
  return out;
}

void init_logging(const LogOptions& opts) {
  shutdown_logging();
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout pipe must not kill the server
  State& s = state();
  std::vector<spdlog::sink_ptr> sinks;
  if (opts.to_stdout) sinks.push_back(std::make_shared<StdoutJsonSink>());
  if (!opts.file.empty())
    sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        opts.file, 10 * 1024 * 1024, 10));  // throws spdlog_ex when the file cannot be opened
  s.pool = std::make_shared<spdlog::details::thread_pool>(kQueueSlots, 1);
  s.logger = std::make_shared<spdlog::async_logger>("strongroom", sinks.begin(), sinks.end(),
                                                    s.pool, spdlog::async_overflow_policy::block);
  s.logger->set_pattern("%v");
  s.logger->set_level(spdlog::level::trace);
  s.logger->flush_on(spdlog::level::warn);
  g_min_level.store(static_cast<int>(opts.min_level));
  g_logger.store(s.logger.get(), std::memory_order_release);
  s.flusher_stop = false;
  s.flusher = std::thread([&s] {
    std::unique_lock lock(s.flusher_mu);
    while (!s.flusher_stop) {
      s.flusher_cv.wait_for(lock, std::chrono::milliseconds(100));
      if (auto* lg = g_logger.load(std::memory_order_acquire)) {
        hand_over_all(lg);
        lg->flush();
      }
    }
  });
}

void flush_logs() {
  if (auto* lg = g_logger.load(std::memory_order_acquire)) {
    hand_over_all(lg);
    lg->flush();
  }
}

void shutdown_logging() {
  State& s = state();
  if (!s.logger) return;
  {
    std::lock_guard lock(s.flusher_mu);
    s.flusher_stop = true;
  }
  s.flusher_cv.notify_all();
  if (s.flusher.joinable()) s.flusher.join();
  hand_over_all(s.logger.get());
  g_logger.store(nullptr, std::memory_order_release);
  hand_over_all(s.logger.get());  // lines that raced with the switch
  s.logger->flush();
  s.logger.reset();
  s.pool.reset();  // joins the worker after it drained the queue (and the sinks wrote out)
}

void log(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  log_always(level, event, fields);
}

void log_always(Level level, std::string_view event, std::initializer_list<Field> fields) {
  thread_local std::string line;
  line.clear();
  begin_line(line, level, event);
  for (const auto& f : fields) append_field(line, f);
  line += '}';
  emit(level, line);
  if (line.capacity() > 64 * 1024) std::string().swap(line);
}

void access_log(const AccessRecord& r) {
  if (!enabled(Level::info)) return;
  if (auto* lg = g_logger.load(std::memory_order_acquire)) {
    ThreadBuf& tb = local_buf();
    std::lock_guard lock(tb.mu);
    append_access(tb.buf, r);
    tb.buf += '\n';
    if (tb.buf.size() >= 16 * 1024) hand_over(lg, tb, Level::info);
    return;
  }
  std::string line;
  append_access(line, r);
  emit(Level::info, line);
}

void security_event(std::string_view event, std::string_view request_id, std::string_view ip,
                    std::initializer_list<Field> extra, Level level) {
  if (!enabled(level)) return;
  thread_local std::string line;
  line.clear();
  begin_line(line, level, event);
  line += ",\"security\":true";
  append_field(line, Field("request_id", request_id));
  append_field(line, Field("ip", ip));
  for (const auto& f : extra) append_field(line, f);
  line += '}';
  emit(level, line);
  if (line.capacity() > 64 * 1024) std::string().swap(line);
}

}  // namespace sr::obs
