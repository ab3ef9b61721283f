// One libpq connection, driven in non-blocking mode with a deadline, so that neither a dead server
// nor a black-holed network can hang anyone: connecting is bounded by the connect timeout, every
// statement by statement_timeout (server side) plus a client-side margin. It waits for its socket
// with poll() (run_sync, the connector threads), or through a SocketWaiter that suspends the
// calling fiber (a network thread's loop, pg_loop.hpp).
// Parameters and results use the binary format: int8 as 8 big-endian bytes, bytea as raw bytes,
// text as its UTF-8 bytes (the connection's client_encoding is always UTF8).
#pragma once
#include "storage/postgres/libpq.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace sr::storage::postgres {

// A statement's parameters, stored in place (no allocation: every request builds some).
class Params {
 public:
  static constexpr int kMax = 16;  // more is a programming error (constant SQL): logic_error

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

  int size() const { return n_; }
  const Oid* types() const { return types_; }
  const char* const* values() const { return values_; }
  const int* lengths() const { return lengths_; }
  const int* formats() const { return formats_; }

 private:
  void add(Oid type, const char* data, std::size_t len);
  int n_ = 0;
  Oid types_[kMax];
  const char* values_[kMax];
  int lengths_[kMax];
  int formats_[kMax];
  uint64_t ints_[kMax];  // encoded integers (big-endian), pointed to by values_
};

// The NULL-aware accessors of a row source (Result, Records): nullopt for NULL, else the value.
template <class Rows>
class OptionalAccessors {
 public:
  std::optional<int64_t> opt_i64(int row, int col) const {
    const auto& r = static_cast<const Rows&>(*this);
    if (r.is_null(row, col)) return std::nullopt;
    return r.i64(row, col);
  }
  std::optional<std::string> opt_bytes(int row, int col) const {
    const auto& r = static_cast<const Rows&>(*this);
    if (r.is_null(row, col)) return std::nullopt;
    return r.bytes(row, col);
  }
};

class Result : public OptionalAccessors<Result> {
 public:
  explicit Result(PGresult* r) : r_(r, libpq().PQclear) {}
  int rows() const { return libpq().PQntuples(r_.get()); }
  bool is_null(int row, int col) const { return libpq().PQgetisnull(r_.get(), row, col); }
  int64_t i64(int row, int col) const;          // int2/int4/int8 binary
  std::string bytes(int row, int col) const;    // bytea or text: the value's bytes
  int64_t affected() const;                     // PQcmdTuples
  PGresult* release() { return r_.release(); }  // the caller PQclear()s it
  // The value's bytes in place (valid as long as the Result), its length (-1: NULL).
  const char* value(int row, int col) const { return libpq().PQgetvalue(r_.get(), row, col); }
  int length(int row, int col) const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

// A binary integer value (int2, int4 or int8: 2, 4 or 8 big-endian bytes) as int64; any other
// length is a std::runtime_error.
int64_t decode_int(const char* p, int len);

// The rows of a statement whose one column is a record (`SELECT ROW(a, b, ...) FROM ...`), read
// with the accessors of Result: field c of row i. One column per row instead of one per value
// spares libpq a column description per value and execution (it parses a RowDescription and
// allocates every time: docs/benchmarks.md, seventh round).
//
// The records are the server's binary output (record_send: a field count, then per field its
// type OID, its length or -1 for NULL, its bytes) and are checked as untrusted input: a NULL
// record, a field count other than `fields`, or a length that is negative (other than -1) or runs
// past the value is a std::runtime_error, before anything is read (fuzz/fuzz_pg_record.cpp).
// Holds pointers into `r`, which must outlive it.
class Records : public OptionalAccessors<Records> {
 public:
  Records(const Result& r, int fields);
  Records(Result&&, int) = delete;  // it would point into a freed result
  // Parses one record value (p, len) into `out` (`fields` entries): the part the fuzzer drives.
  struct Field {
    const char* p;
    int len;  // -1: NULL
  };
  static void parse(const char* p, int len, int fields, Field* out);

  int rows() const { return rows_; }
  bool is_null(int row, int col) const { return at(row, col).len < 0; }
  int64_t i64(int row, int col) const;
  std::string bytes(int row, int col) const;

 private:
  const Field& at(int row, int col) const;
  int rows_ = 0, fields_ = 0;
  std::vector<Field> f_;  // rows_ x fields_
};

// The statements of one pipeline (Conn::pipeline), in order. add() returns the statement's
// Params, filled in place: `b.add(kFindUser).i(id);`. Like Params, a Batch holds pointers to the
// strings passed to b(): they must outlive the pipeline call.
class Batch {
 public:
  Params& add(const char* sql) {
    Item& it = n_ < kInline ? inline_[n_] : *more_.emplace_back(std::make_unique<Item>());
    ++n_;
    it.sql = sql;
    return it.params;
  }
  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  const char* sql(std::size_t i) const { return item(i).sql; }
  const Params& params(std::size_t i) const { return item(i).params; }

 private:
  struct Item {
    const char* sql = nullptr;
    Params params;
  };
  // The first items in place (most batches are a few statements), the rest on the heap; either
  // way an item never moves (its Params point into themselves).
  static constexpr std::size_t kInline = 4;
  const Item& item(std::size_t i) const { return i < kInline ? inline_[i] : *more_[i - kInline]; }
  std::array<Item, kInline> inline_;
  std::vector<std::unique_ptr<Item>> more_;
  std::size_t n_ = 0;
};

struct ConnOptions {
  std::string conninfo;
  int connect_timeout_ms = 1000;
  int statement_timeout_ms = 5000;
  // default_transaction_read_only: a write on this connection fails loudly (the shared read
  // connection of a loop, where another request's failure could roll an unnoticed write back).
  bool read_only = false;
};

// Where a repository runs its statements: a connection of its own (Conn), or its share of a
// network thread's pipelined read connection (pg_loop.cpp). Same results, same error mapping.
class Link {
 public:
  virtual ~Link() = default;
  // A constant statement, prepared once per connection (keyed by the literal's address).
  virtual Result exec(const char* sql, const Params& p) = 0;
  // The statements of b in one round trip (see Conn::pipeline).
  virtual std::vector<Result> pipeline(const Batch& b) = 0;
};

// How a Conn waits for its socket when it is not to block its thread in poll().
class SocketWaiter {
 public:
  virtual ~SocketWaiter() = default;
  // Returns when fd is ready for one of `events` (POLLIN, POLLOUT), false once `until` passed.
  virtual bool wait(int fd, int events, std::chrono::steady_clock::time_point until) = 0;
  // The connection is about to close fd.
  virtual void closing(int fd) noexcept = 0;
};

// The exception a failed result stands for: 23505/23503 ConflictError; class 08, 57014, 57P0x,
// 53300, 40001, 40P01, 25P03 UnavailableError; anything else std::runtime_error. Clears r.
std::exception_ptr result_error(PGresult* r);

class Conn final : public Link {
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
  Result exec(const char* sql, const Params& p) override;
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
  std::vector<Result> pipeline(const Batch& b) override;

  // Waits through w instead of poll() (nullptr: poll() again).
  void set_waiter(SocketWaiter* w) { waiter_ = w; }

  // For a caller that drives libpq on this connection itself (the loop's pipelined connection):
  // the statement names this connection has prepared (keyed like exec()), a fresh name, and the
  // drop of a broken connection with UnavailableError.
  const std::string* prepared(const char* sql) const;
  std::string new_statement_name() { return "sr" + std::to_string(++next_name_); }
  void remember(const char* sql, const std::string& name) { prepared_.emplace(sql, name); }
  [[noreturn]] void lost(const char* what);

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline() const;
  void wait(int events, Clock::time_point deadline);
  void flush(Clock::time_point deadline);
  // Collects every result of the command in flight; throws the first error after draining.
  PGresult* collect(Clock::time_point deadline);

  ConnOptions opts_;
  PGconn* c_ = nullptr;
  SocketWaiter* waiter_ = nullptr;
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
