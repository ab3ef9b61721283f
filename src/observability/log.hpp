// JSON-lines logging (spdlog underneath: async, stdout and an optional rotating file 10 MB x 10).
// Every line is one JSON object: {"ts":"...","level":"info","event":"<name>", ...fields}.
// Field values are escaped with json::escape_into, so user-supplied strings cannot forge lines.
// Never pass a password, token, cookie value, Authorization header or vault field here.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace sr::obs {

enum class Level { debug, info, warn, error };

struct Field {
  std::string_view key;
  std::variant<std::string_view, int64_t, double, bool> value;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, unsigned v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, long long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, unsigned long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
};

struct LogOptions {
  bool to_stdout = true;
  std::string file;  // empty: no file
  Level min_level = Level::info;
};

// Call once at start (before threads). Safe to call log() before: it then writes to stdout.
void init_logging(const LogOptions& opts);
void flush_logs();
void shutdown_logging();

void log(Level level, std::string_view event, std::initializer_list<Field> fields = {});
// Like log() but whatever log_level says: for the few lines operators and tools depend on
// (the "listening" event that reports the chosen port).
void log_always(Level level, std::string_view event, std::initializer_list<Field> fields = {});

// The exact line (no trailing newline) that log() writes; exposed for tests and tools.
std::string format_line(Level level, std::string_view event, std::initializer_list<Field> fields);

// The access line of SPEC 9, one per request: {"ts","level":"info","event":"access",
// "request_id","method","route","status","latency_ms","user_id"? (when non-zero),"ip"}. Written
// straight into the calling thread's batch: no intermediate line, no field list.
struct AccessRecord {
  std::string_view request_id, method, route;
  int status = 0;
  int64_t latency_ns = 0;
  int64_t user_id = 0;
  std::string_view ip;
};
void access_log(const AccessRecord& r);

// Security events (SPEC 9): logged at warn (failures) or info (success) with "security":true.
void security_event(std::string_view event, std::string_view request_id, std::string_view ip,
                    std::initializer_list<Field> extra = {}, Level level = Level::warn);

}  // namespace sr::obs
