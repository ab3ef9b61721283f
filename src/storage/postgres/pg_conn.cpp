#include "storage/postgres/pg_conn.hpp"

#include <endian.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "util/error.hpp"

namespace sr::storage::postgres {

namespace {

constexpr Oid kInt8 = 20, kText = 25, kBytea = 17;
constexpr int kClientMarginMs = 2000;  // beyond statement_timeout before we give up on the socket

std::string first_line(const char* s) {
  std::string m = s ? s : "";
  auto nl = m.find('\n');
  if (nl != std::string::npos) m.resize(nl);
  return m;
}

[[noreturn]] void throw_result_error(PGresult* r) {
  std::rethrow_exception(result_error(r));
}

}  // namespace

std::exception_ptr result_error(PGresult* r) {
  const char* st = libpq().PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string state = st ? st : "";
  std::string msg = first_line(libpq().PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
  libpq().PQclear(r);
  if (state == "23505") return std::make_exception_ptr(sr::ConflictError("already exists"));
  if (state == "23503")
    return std::make_exception_ptr(sr::ConflictError("the referenced row does not exist"));
  if (state.rfind("08", 0) == 0 || state == "57014" || state == "57P01" || state == "57P02" ||
      state == "57P03" || state == "53300" || state == "40001" || state == "40P01" ||
      state == "25P03" || state.empty())
    return std::make_exception_ptr(sr::UnavailableError("postgresql: " + state + " " + msg));
  return std::make_exception_ptr(std::runtime_error("postgresql: " + state + " " + msg));
}

void Params::add(Oid type, const char* data, std::size_t len) {
  if (n_ == kMax) throw std::logic_error("postgresql: too many parameters for Params");
  types_[n_] = type;
  values_[n_] = data;
  lengths_[n_] = static_cast<int>(len);
  formats_[n_] = 1;
  ++n_;
}

Params& Params::i(int64_t v) {
  if (n_ == kMax) throw std::logic_error("postgresql: too many parameters for Params");
  ints_[n_] = htobe64(static_cast<uint64_t>(v));
  add(kInt8, reinterpret_cast<const char*>(&ints_[n_]), 8);
  return *this;
}

Params& Params::b(const std::string& bytes) {
  if (bytes.size() > 0x7fffffffu) throw std::length_error("postgresql: parameter too large");
  add(kBytea, bytes.data(), bytes.size());
  return *this;
}

Params& Params::t(const std::string& text) {
  if (text.size() > 0x7fffffffu) throw std::length_error("postgresql: parameter too large");
  add(kText, text.data(), text.size());
  return *this;
}

Params& Params::ot(const std::optional<std::string>& v) {
  if (v) return t(*v);
  add(kText, nullptr, 0);
  return *this;
}

Params& Params::oi(const std::optional<int64_t>& v) {
  if (v) return i(*v);
  add(kInt8, nullptr, 0);
  return *this;
}

int64_t Result::i64(int row, int col) const {
  return decode_int(value(row, col), length(row, col));
}

int Result::length(int row, int col) const {
  return is_null(row, col) ? -1 : libpq().PQgetlength(r_.get(), row, col);
}

int64_t decode_int(const char* p, int len) {
  switch (len) {
    case 8: {
      uint64_t v;
      std::memcpy(&v, p, 8);
      return static_cast<int64_t>(be64toh(v));
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, p, 4);
      return static_cast<int32_t>(be32toh(v));
    }
    case 2: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return static_cast<int16_t>(be16toh(v));
    }
    default:
      throw std::runtime_error("postgresql: unexpected integer width");
  }
}

std::string Result::bytes(int row, int col) const {
  return std::string(libpq().PQgetvalue(r_.get(), row, col),
                     static_cast<std::size_t>(libpq().PQgetlength(r_.get(), row, col)));
}

Records::Records(const Result& r, int fields) : rows_(r.rows()), fields_(fields) {
  if (fields < 0) throw std::logic_error("postgresql: a record of a negative number of fields");
  f_.resize(static_cast<std::size_t>(rows_) * static_cast<std::size_t>(fields));
  for (int i = 0; i < rows_; ++i)  // data() + offset: no element to index when fields is 0
    parse(r.value(i, 0), r.length(i, 0), fields,
          f_.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(fields));
}

namespace {
[[noreturn]] void bad_record(const char* why) {
  throw std::runtime_error(std::string("postgresql: malformed record from the server: ") + why);
}
// 4 big-endian bytes at p (the caller checked they are there).
int32_t be32_at(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return static_cast<int32_t>(be32toh(v));
}
}  // namespace

void Records::parse(const char* p, int len, int fields, Field* out) {
  if (len < 0) bad_record("NULL record");
  const char* end = p + len;
  if (end - p < 4) bad_record("no field count");
  if (be32_at(p) != fields) bad_record("unexpected field count");
  p += 4;
  for (int c = 0; c < fields; ++c) {
    if (end - p < 8) bad_record("field header past the end");
    const int32_t n = be32_at(p + 4);  // p: the field's type OID, not needed (the SQL is ours)
    p += 8;
    if (n == -1) {
      out[c] = {nullptr, -1};
      continue;
    }
    if (n < 0 || n > end - p) bad_record("field length out of range");
    out[c] = {p, n};
    p += n;
  }
  if (p != end) bad_record("bytes after the last field");
}

const Records::Field& Records::at(int row, int col) const {
  if (row < 0 || row >= rows_ || col < 0 || col >= fields_)
    throw std::logic_error("postgresql: record field out of range");
  return f_[static_cast<std::size_t>(row) * fields_ + col];
}

int64_t Records::i64(int row, int col) const {
  const Field& f = at(row, col);
  return decode_int(f.p, f.len);
}

std::string Records::bytes(int row, int col) const {
  const Field& f = at(row, col);
  return f.len > 0 ? std::string(f.p, static_cast<std::size_t>(f.len)) : std::string();
}

int64_t Result::affected() const {
  const char* n = libpq().PQcmdTuples(r_.get());
  return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
}

void Conn::reset() {
  if (c_ && waiter_) waiter_->closing(libpq().PQsocket(c_));
  if (c_) libpq().PQfinish(c_);
  c_ = nullptr;
  prepared_.clear();
}

void Conn::lost(const char* what) {
  std::string msg = std::string("postgresql: ") + what;
  if (c_) {
    auto m = first_line(libpq().PQerrorMessage(c_));
    if (!m.empty()) msg += ": " + m;
  }
  reset();
  throw sr::UnavailableError(msg);
}

void Conn::connect() {
  reset();
  auto until = Clock::now() + std::chrono::milliseconds(opts_.connect_timeout_ms);
  // Our defaults first; anything the URL says wins (expand_dbname parses the URL in place), except
  // the client encoding: every string we send and read is UTF-8, so it comes after the URL.
  std::string timeout_s = std::to_string(std::max(1, (opts_.connect_timeout_ms + 999) / 1000));
  const char* keys[] = {"connect_timeout", "application_name", "dbname", "client_encoding",
                        nullptr};
  const char* vals[] = {timeout_s.c_str(), "strongroom", opts_.conninfo.c_str(), "UTF8", nullptr};
  c_ = libpq().PQconnectStartParams(keys, vals, 1);
  if (!c_) throw sr::UnavailableError("postgresql: out of memory");
  if (libpq().PQstatus(c_) == CONNECTION_BAD) lost("cannot connect");
  // libpq's own connect_timeout has a 2 s floor; the loop below enforces ours.
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) lost("cannot connect");
    int events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) lost("connect timed out");
    pollfd p{libpq().PQsocket(c_), static_cast<short>(events), 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno != EINTR) lost("poll failed");
    if (rc == 0) lost("connect timed out");
    st = libpq().PQconnectPoll(c_);
  }
  if (libpq().PQsetnonblocking(c_, 1) != 0) lost("cannot enter non-blocking mode");
  // libpq prints notices (and the server's goodbye on shutdown) to stderr by default; errors
  // reach us as results and exceptions instead.
  libpq().PQsetNoticeProcessor(
      c_, [](void*, const char*) {}, nullptr);
  // Per-connection limits, parameterized like everything else.
  std::string timeout = std::to_string(opts_.statement_timeout_ms);
  std::string idle = std::to_string(std::max(60000, opts_.statement_timeout_ms * 4));
  exec(
      "SELECT set_config('statement_timeout', $1, false), "
      "set_config('idle_in_transaction_session_timeout', $2, false), "
      "set_config('default_transaction_read_only', $3, false)",
      Params().t(timeout).t(idle).t(opts_.read_only ? "on" : "off"));
}

const std::string* Conn::prepared(const char* sql) const {
  auto it = prepared_.find(sql);
  return it == prepared_.end() ? nullptr : &it->second;
}

bool Conn::healthy() {
  if (!c_ || libpq().PQstatus(c_) != CONNECTION_OK) return false;
  // We never LISTEN, so an idle connection has nothing to say: if its socket is readable, the
  // server is closing it (restart, admin shutdown, idle timeout). Replace it now rather than fail
  // the next statement with it.
  pollfd p{libpq().PQsocket(c_), POLLIN, 0};
  if (::poll(&p, 1, 0) != 0) return false;
  return libpq().PQtransactionStatus(c_) == PQTRANS_IDLE;
}

Conn::Clock::time_point Conn::deadline() const {
  return Clock::now() + std::chrono::milliseconds(opts_.statement_timeout_ms + kClientMarginMs);
}

void Conn::wait(int events, Clock::time_point until) {
  if (waiter_) {
    if (!waiter_->wait(libpq().PQsocket(c_), events, until))
      lost("statement timed out (no answer from the server)");
    return;
  }
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) lost("statement timed out (no answer from the server)");
    pollfd p{libpq().PQsocket(c_), static_cast<short>(events), 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc > 0) return;
    if (rc < 0 && errno != EINTR) lost("poll failed");
  }
}

void Conn::flush(Clock::time_point until) {
  for (;;) {
    int r = libpq().PQflush(c_);
    if (r == 0) return;
    if (r < 0) lost("send failed");
    wait(POLLIN | POLLOUT, until);
    if (!libpq().PQconsumeInput(c_)) lost("connection lost");
  }
}

PGresult* Conn::collect(Clock::time_point until) {
  PGresult* keep = nullptr;
  PGresult* error = nullptr;
  for (;;) {
    while (libpq().PQisBusy(c_)) {
      wait(POLLIN, until);
      if (!libpq().PQconsumeInput(c_)) {
        libpq().PQclear(keep);
        libpq().PQclear(error);
        lost("connection lost");
      }
    }
    PGresult* r = libpq().PQgetResult(c_);
    if (!r) break;
    auto st = libpq().PQresultStatus(r);
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
      if (!error)
        error = r;
      else
        libpq().PQclear(r);
    } else {
      libpq().PQclear(keep);
      keep = r;
    }
  }
  if (error) {
    libpq().PQclear(keep);
    if (libpq().PQstatus(c_) != CONNECTION_OK) {
      libpq().PQclear(error);
      lost("connection lost");
    }
    throw_result_error(error);
  }
  if (!keep) {
    if (libpq().PQstatus(c_) != CONNECTION_OK) lost("connection lost");
    throw std::runtime_error("postgresql: no result");
  }
  return keep;
}

Result Conn::exec(const char* sql, const Params& p) {
  if (!c_) throw sr::UnavailableError("postgresql: not connected");
  auto until = deadline();
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = new_statement_name();
    if (!libpq().PQsendPrepare(c_, name.c_str(), sql, p.size(), p.types())) lost("send failed");
    flush(until);
    libpq().PQclear(collect(until));
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  if (!libpq().PQsendQueryPrepared(c_, it->second.c_str(), p.size(), p.values(), p.lengths(),
                                   p.formats(), 1))
    lost("send failed");
  flush(until);
  return Result(collect(until));
}

void Conn::exec_script(const char* sql) {
  if (!c_) throw sr::UnavailableError("postgresql: not connected");
  auto until = deadline();
  if (!libpq().PQsendQuery(c_, sql)) lost("send failed");
  flush(until);
  libpq().PQclear(collect(until));
}

std::vector<Result> Conn::pipeline(const Batch& b) {
  if (!c_) throw sr::UnavailableError("postgresql: not connected");
  if (b.empty()) return {};
  auto until = deadline();
  if (!libpq().PQenterPipelineMode(c_)) lost("cannot enter pipeline mode");

  // What the server will answer, in order: one slot per PQsendPrepare and per query. A statement
  // used twice in the batch is prepared once; a name becomes known only when its prepare
  // succeeded (an aborted prepare created nothing on the server).
  struct Slot {
    int item;          // index of the query in b, or -1 for a prepare
    const char* sql;   // prepare: the statement it prepares
    std::string name;  // prepare: the statement name
  };
  std::vector<Slot> slots;
  slots.reserve(b.size() * 2);
  std::unordered_map<const char*, std::string> pending;
  int n = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const char* sql = b.sql(i);
    const Params& p = b.params(i);
    const std::string* name;
    if (auto known = prepared_.find(sql); known != prepared_.end()) {
      name = &known->second;
    } else if (auto q = pending.find(sql); q != pending.end()) {
      name = &q->second;
    } else {
      auto& fresh = pending.emplace(sql, new_statement_name()).first->second;
      if (!libpq().PQsendPrepare(c_, fresh.c_str(), sql, p.size(), p.types())) lost("send failed");
      slots.push_back({-1, sql, fresh});
      name = &fresh;
    }
    if (!libpq().PQsendQueryPrepared(c_, name->c_str(), p.size(), p.values(), p.lengths(),
                                     p.formats(), 1))
      lost("send failed");
    slots.push_back({n++, nullptr, {}});
  }
  if (!libpq().PQpipelineSync(c_)) lost("send failed");
  flush(until);

  std::vector<std::optional<Result>> got(b.size());
  std::optional<Result> error;  // the first error; the statements after it come back aborted
  std::size_t slot = 0;
  for (;;) {
    while (libpq().PQisBusy(c_)) {
      wait(POLLIN, until);
      if (!libpq().PQconsumeInput(c_)) lost("connection lost");
    }
    PGresult* r = libpq().PQgetResult(c_);
    if (!r) {  // the end of one statement's results
      if (libpq().PQstatus(c_) != CONNECTION_OK) lost("connection lost");
      if (++slot > slots.size()) lost("pipeline out of step");  // never loop on NULLs
      until = deadline();  // the server made progress: the next statement has its own window
      continue;
    }
    Result res(r);
    auto st = libpq().PQresultStatus(r);
    if (st == PGRES_PIPELINE_SYNC) {
      if (slot != slots.size()) lost("pipeline out of step");
      break;
    }
    if (slot >= slots.size()) lost("pipeline out of step");
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
      if (libpq().PQstatus(c_) != CONNECTION_OK) lost("connection lost");
      if (!error) error.emplace(std::move(res));
    } else if (st == PGRES_PIPELINE_ABORTED) {
      // skipped because an earlier statement failed
    } else if (slots[slot].item < 0) {
      prepared_.emplace(slots[slot].sql, slots[slot].name);
    } else {
      got[static_cast<std::size_t>(slots[slot].item)].emplace(std::move(res));
    }
  }
  if (!libpq().PQexitPipelineMode(c_)) lost("cannot leave pipeline mode");

  if (error) {
    // A batch with its own BEGIN (or run inside the caller's transaction) leaves the session in
    // an aborted transaction: end it here, so the connection is idle whatever the caller does
    // next (a Tx guard then has nothing left to roll back).
    if (libpq().PQtransactionStatus(c_) == PQTRANS_INERROR) exec_script("ROLLBACK");
    throw_result_error(error->release());
  }
  std::vector<Result> out;
  out.reserve(b.size());
  for (auto& g : got) {
    if (!g) throw std::runtime_error("postgresql: no result");
    out.push_back(std::move(*g));
  }
  return out;
}

Tx::~Tx() {
  // Nothing to roll back when the transaction already ended (e.g. a failed pipeline did it).
  if (done_ || !c_.connected() || libpq().PQtransactionStatus(c_.handle()) == PQTRANS_IDLE) return;
  try {
    c_.exec_script("ROLLBACK");
  } catch (...) {
    c_.reset();  // the worker reconnects on the next job
  }
}

}  // namespace sr::storage::postgres
