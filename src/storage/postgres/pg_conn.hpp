// One libpq connection, driven in non-blocking mode with poll() and a deadline, so that neither a
// dead server nor a black-holed network can hang a worker: connecting is bounded by the connect
// timeout, every statement by statement_timeout (server side) plus a client-side margin.
// Parameters and results use the binary format: int8 as 8 big-endian bytes, bytea as raw bytes,
// text as its UTF-8 bytes (the connection's client_encoding is always UTF8).
#pragma once
#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace sr::storage::postgres {

class Params {
 public:
  Params() = default;
  // values() points into ints_ (and into the caller's strings): a copy would dangle.
  Params(const Params&) = delete;
  Params& operator=(const Params&) = delete;

  Params& i(int64_t v);
  Params& b(const std::string& bytes);  // bytea (binary-safe)
  // text: the server refuses a NUL byte or invalid UTF-8 in it (a std::runtime_error, 22021)
  Params& t(const std::string& text);
  Params& ot(const std::optional<std::string>& v);
  Params& oi(const std::optional<int64_t>& v);

  int size() const { return static_cast<int>(values_.size()); }
  const Oid* types() const { return types_.data(); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void add(Oid type, const char* data, std::size_t len);
  std::vector<Oid> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::deque<std::string> ints_;  // stable storage for encoded integers
};

class Result {
 public:
  explicit Result(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col); }
  int64_t i64(int row, int col) const;        // int2/int4/int8 binary
  std::string bytes(int row, int col) const;  // bytea or text: the value's bytes
  std::optional<int64_t> opt_i64(int row, int col) const;
  std::optional<std::string> opt_bytes(int row, int col) const;
  int64_t affected() const;                     // PQcmdTuples
  PGresult* release() { return r_.release(); }  // the caller PQclear()s it

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

// The statements of one pipeline (Conn::pipeline), in order. add() returns the statement's
// Params, filled in place: `b.add(kFindUser).i(id);`. Like Params, a Batch holds pointers to the
// strings passed to b(): they must outlive the pipeline call.
class Batch {
 public:
  Params& add(const char* sql) { return items_.emplace_back(sql).params; }
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

 private:
  friend class Conn;
  struct Item {
    explicit Item(const char* s) : sql(s) {}
    const char* sql;
    Params params;
  };
  std::deque<Item> items_;  // deque: add() hands out references that stay valid
};

struct ConnOptions {
  std::string conninfo;
  int connect_timeout_ms = 1000;
  int statement_timeout_ms = 5000;
};

class Conn {
 public:
  explicit Conn(ConnOptions opts) : opts_(std::move(opts)) {}
  ~Conn() { reset(); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Connects (throws UnavailableError within the connect timeout when it cannot).
  void connect();
  // True when connected and the server has not closed the connection while it sat idle.
  bool healthy();
  void reset();  // closes; prepared statements are forgotten
  bool connected() const { return c_ != nullptr; }
  PGconn* handle() const { return c_; }

  // Executes a constant statement (prepared once per connection, keyed by the literal's address).
  Result exec(const char* sql, const Params& p);
  // Simple-protocol execution of constant SQL text without parameters (BEGIN, migrations).
  void exec_script(const char* sql);

  // Pipeline mode: sends every statement of `b` (preparing those this connection has not
  // prepared yet) followed by one Sync, then reads the results: one round trip for the batch.
  // Returns one Result per statement, in order. Statements up to the Sync run in one implicit
  // transaction unless the batch has its own BEGIN/COMMIT.
  // Errors: the first failing statement aborts the rest of the batch (the server skips them and
  // rolls back the implicit transaction); the results are drained up to the Sync, a transaction
  // left aborted by the batch is rolled back, so the connection is idle and usable, and the first
  // error is thrown, mapped as exec() maps it. A lost connection or a missed deadline (the
  // statement timeout plus a margin, renewed as each statement's result arrives) resets the
  // connection and throws UnavailableError.
  std::vector<Result> pipeline(const Batch& b);

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline() const;
  void wait(int events, Clock::time_point deadline);
  void flush(Clock::time_point deadline);
  // Collects every result of the command in flight; throws the first error after draining.
  PGresult* collect(Clock::time_point deadline);
  [[noreturn]] void lost(const char* what);

  ConnOptions opts_;
  PGconn* c_ = nullptr;
  std::unordered_map<const char*, std::string> prepared_;
  uint64_t next_name_ = 0;  // statement names are never reused, even after a failed prepare
};

// BEGIN ... COMMIT, rolled back unless committed. Tx(c, Tx::adopt) takes over a transaction the
// caller already opened (e.g. with BEGIN at the head of a pipeline).
class Tx {
 public:
  struct Adopt {};
  static constexpr Adopt adopt{};
  explicit Tx(Conn& c) : c_(c) { c_.exec_script("BEGIN"); }
  Tx(Conn& c, Adopt) : c_(c) {}
  ~Tx();
  void commit() {
    c_.exec_script("COMMIT");
    done_ = true;
  }
  void committed() { done_ = true; }  // the caller sent COMMIT itself (e.g. in a pipeline)

 private:
  Conn& c_;
  bool done_ = false;
};

}  // namespace sr::storage::postgres
