// The only translation unit of the program that includes Beast.
#include "http/server.hpp"

#include "http/framing.hpp"

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "http/conn_limit.hpp"
#include "http/dispatch.hpp"
#include "http/errors.hpp"
#include "http/head.hpp"
#include "http/redirect.hpp"
#include "http/tls.hpp"
#include "http/wipe.hpp"
#include "observability/log.hpp"
#include "util/clock.hpp"
#include "util/recycled.hpp"
#include "util/secret.hpp"

namespace sr::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Up to this size a body is copied behind the head and goes in one write; beyond it, it is sent
// from its own buffer.
constexpr std::size_t kInlineBody = 16 * 1024;
// The buffer an idle connection waits with (read_first): room for a short request (a health
// check, a Bearer GET) in one read; a longer one reads on from the worker's scratch space.
constexpr std::size_t kFirstRead = 512;
// Every buffer that holds request bytes zeroes itself when given back (http/wipe.hpp).
using Body = bhttp::basic_string_body<char, std::char_traits<char>, WipingAllocator<char>>;
using Fields = bhttp::basic_fields<WipingAllocator<char>>;
using BeastRequest = bhttp::request<Body, Fields>;
using RequestParser = bhttp::request_parser<Body, WipingAllocator<char>>;
using ReadBuffer = beast::basic_flat_buffer<WipingAllocator<char>>;
using TlsStream = beast::ssl_stream<tcp::socket>;

// One request's state in serve_requests, held in a recycled block (util/recycled.hpp).
struct Exchange {
  QuickHead quick;
  std::optional<RequestParser> parser;  // made only for a head the quick reader does not take
  Request req;
  std::string cookie_lines;  // several Cookie lines joined (wiped by serve_requests)
  std::optional<Response> answer;
  // Set instead of serving the request: the error answered, the method and the client's
  // X-Request-ID for the answer and the access line.
  std::optional<Response> refusal;
  Method refusal_method = Method::OTHER;
  std::string_view refusal_client_id;

  void refuse(Response r, Method m, std::string_view client_id) {
    refusal.emplace(std::move(r));
    refusal_method = m;
    refusal_client_id = client_id;
  }
};

Response version_not_supported() {
  Response r = error_response(ErrorCode::validation_failed, "HTTP version not supported");
  r.status = 505;
  return r;
}

bool is_disconnect(const beast::error_code& ec) noexcept {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted || ec == asio::error::broken_pipe ||
         ec == asio::error::bad_descriptor || ec == asio::error::not_connected ||
         ec == ssl::error::stream_truncated;
}

// CLOCK_MONOTONIC_COARSE: a few ns in the vDSO, precise to a tick (a few ms): enough for
// timeouts of seconds, which are armed several times per request.
int64_t coarse_now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

asio::ip::address unmapped(asio::ip::address a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

PerAddressCount::Key key_of(const asio::ip::address& a) {
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return PerAddressCount::key_of(b.data(), b.size());
  }
  auto b = a.to_v6().to_bytes();
  return PerAddressCount::key_of(b.data(), b.size());
}

// Zeroes what the read buffer held (the requests just answered), keeping unread pipelined bytes.
void wipe_read(ReadBuffer& buf) {
  if (buf.capacity() == 0) return;
  WipingString pending(static_cast<const char*>(buf.data().data()), buf.size());
  buf.clear();
  auto all = buf.prepare(buf.capacity());  // the whole storage, nothing reallocated
  sodium_memzero(all.data(), all.size());
  if (!pending.empty()) {
    asio::buffer_copy(buf.prepare(pending.size()), asio::buffer(pending.data(), pending.size()));
    buf.commit(pending.size());
  }
}

// Parses a request header from what the buffer already holds, without an asynchronous read (a
// completion posted to the scheduler) when it is all there: the usual case of a request read in
// one piece. need_more: read on.
beast::error_code parse_buffered_header(RequestParser& parser, ReadBuffer& buf) {
  beast::error_code ec;
  while (!parser.is_header_done()) {
    if (buf.size() == 0) return bhttp::error::need_more;
    const std::size_t n = parser.put(buf.data(), ec);
    buf.consume(n);
    if (ec) return ec;
    if (n == 0) return bhttp::error::need_more;
  }
  return {};
}

// Several Cookie lines as one list, joined with "; " (RFC 9113 8.2.3). for_each(each) calls
// each(value) for every Cookie line. Sized first: a buffer outgrown while appending would be
// freed unwiped.
template <class ForEach>
void join_cookie_lines(std::string& out, ForEach for_each) {
  std::size_t total = 0;
  for_each([&total](std::string_view v) { total += v.size() + 2; });
  out.reserve(total);
  for_each([&out](std::string_view v) { out.append(out.empty() ? "" : "; ").append(v); });
}

void wipe(WipingString& s) {
  sodium_memzero(s.data(), s.size());
  s.clear();
}

// "GET / HTTP/2.0\r\n": a well-formed request line of a version we do not speak (505, not 400).
bool other_http_version(const ReadBuffer& buf) noexcept {
  std::string_view data(static_cast<const char*>(buf.data().data()), buf.size());
  auto eol = data.find("\r\n");
  if (eol == std::string_view::npos || eol < 10) return false;
  std::string_view line = data.substr(0, eol);
  std::string_view v = line.substr(line.size() - 9);  // " HTTP/x.y"
  return v.substr(0, 6) == " HTTP/" && std::isdigit(static_cast<unsigned char>(v[6])) &&
         v[7] == '.' && std::isdigit(static_cast<unsigned char>(v[8])) &&
         std::count(line.begin(), line.end(), ' ') == 2;
}

using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

}  // namespace

struct Server::Impl {
  struct Worker;
  // A live connection, linked into its worker's list (touched only on the worker's thread). Its
  // timeouts are deadlines checked by the worker's sweep (below): setting one is a store, not a
  // timer operation per read and write.
  struct Conn {
    Worker* w = nullptr;
    tcp::socket* sock = nullptr;  // its TCP socket, whatever is stacked on it
    int64_t deadline = 0;         // coarse monotonic ns; 0: none
    bool idle = true;             // waiting for a request (stop() may close it)
    Conn* prev = nullptr;
    Conn* next = nullptr;
  };
  struct Worker {
    Conn head;  // sentinel of the connection list; declared before ioc (outlives the frames)
    int conns = 0;
    asio::io_context ioc{1};
    std::optional<tcp::acceptor> acceptor;           // the server's own listener
    std::optional<tcp::acceptor> redirect_acceptor;  // listen_redirect (with TLS only)
    // Where a connection's first bytes land before it gets a buffer of its own (read_first).
    std::array<char, 16 * 1024> scratch;
    Worker() { head.prev = head.next = &head; }
  };
  enum class Kind { plain, tls, redirect };
  // How serving requests stopped: the connection is idle again (keep-alive, nothing unread),
  // must be dropped (error, timeout, reset), must be closed after an answer the client must
  // still be able to read (Connection: close, a refusal), or was closed by the client.
  enum class End { idle, drop, answered, peer_closed };

  Impl(ServerOptions o, const Router& r, obs::Metrics& m)
      : opts(std::move(o)), router(r), metrics(m), cors(opts.cors_origins) {}

  ServerOptions opts;
  const Router& router;
  obs::Metrics& metrics;
  CorsPolicy cors;
  std::shared_ptr<std::atomic<int>> open = std::make_shared<std::atomic<int>>(0);
  int max_conns = opts.max_connections;  // lowered by start() to what the file limit holds
  PerAddressCount per_ip{opts.max_connections_per_ip};
  std::atomic<bool> stopping{false};
  bool started = false;
  uint16_t port = 0, redirect_port = 0;
  std::mutex mu;  // start/run/stop bookkeeping
  std::mutex tls_mu;
  std::shared_ptr<TlsIdentity> tls;              // the pair new handshakes use (tls_mu)
  std::vector<std::unique_ptr<Worker>> workers;  // last: destroyed first

  ~Impl() {
    for (auto& w : workers) {
      beast::error_code ec;
      if (w->acceptor) w->acceptor->close(ec);
      if (w->redirect_acceptor) w->redirect_acceptor->close(ec);
      w->ioc.stop();
    }
    workers.clear();  // io_context destructors destroy pending coroutine frames
  }

  std::shared_ptr<TlsIdentity> current_tls() {
    std::lock_guard lock(tls_mu);
    return tls;
  }
  std::shared_ptr<TlsIdentity> load_tls() {
    auto id = load_tls_identity(opts.tls_cert, opts.tls_key);
    if (!opts.redirect_host.empty() && id->names.empty())
      throw TlsError("tls_cert " + opts.tls_cert +
                     " names no host (no subjectAltName, no CN): listen_redirect has nowhere to "
                     "send clients");
    return id;
  }

  static void arm(Conn& c, std::chrono::steady_clock::duration d) {
    c.deadline = coarse_now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  }
  static void disarm(Conn& c) { c.deadline = 0; }

  asio::awaitable<void> accept_loop(Worker& w, tcp::acceptor& acceptor, Kind kind);
  asio::awaitable<void> sweep(Worker& w);
  // A connection's identity for the caps: its address, and whether it counts against it.
  struct Peer {
    std::string ip;
    PerAddressCount::Key key;
    bool counted = false;
  };
  bool admit(tcp::socket& sock, Peer& peer);
  asio::awaitable<void> session(Worker& w, tcp::socket sock, Kind kind, Peer peer);
  asio::awaitable<void> tls_session(Conn& conn, tcp::socket& sock, const std::string& peer);
  template <class Stream>
  asio::awaitable<void> run_connection(Conn& conn, Stream& stream, const std::string& peer,
                                       Kind kind);
  template <class Stream>
  asio::awaitable<End> serve_requests(Conn& conn, Stream& stream, const std::string& peer,
                                      Kind kind, ReadBuffer& buf);
  template <class Stream>
  asio::awaitable<void> reject(Conn& conn, Stream& stream, std::string_view peer,
                               const Response& res, Method method, std::string_view client_id,
                               int64_t t0);
  Response redirect_answer(std::string_view host, Request& req);
  template <class Stream>
  asio::awaitable<beast::error_code> send(Conn& conn, Stream& stream, const WipingString& head,
                                          std::string_view body);
  template <class Stream>
  asio::awaitable<beast::error_code> send_pieces(Conn& conn, Stream& stream,
                                                 const WipingString& head, Response& res,
                                                 bool chunked, std::string_view request_id);
  asio::awaitable<void> drain(Worker& w);
  static asio::awaitable<bool> wait_readable(tcp::socket& sock);
  static asio::awaitable<End> read_first(Conn& conn, tcp::socket& sock, ReadBuffer& buf);
  static asio::awaitable<End> read_first(Conn& conn, TlsStream& stream, ReadBuffer& buf);
  static asio::awaitable<void> linger_close(Conn& conn, tcp::socket& sock);
  static asio::awaitable<void> close_gracefully(Conn& conn, tcp::socket& sock, End end);
  static asio::awaitable<void> close_gracefully(Conn& conn, TlsStream& stream, End end);
  void record(const Request& req, int status, int64_t t0);
};

void Server::Impl::record(const Request& req, int status, int64_t t0) {
  const int64_t dt = mono_ns() - t0;
  const std::string_view route = req.route.empty() ? std::string_view("unmatched") : req.route;
  const std::string_view method = method_name(req.method);
  metrics.observe_request(route, method, status, dt);
  // Behind a trusted proxy the client is the one X-Forwarded-For names, not the proxy.
  std::string forwarded;
  if (opts.client_ip) {
    if (const std::string_view xff = req.header("X-Forwarded-For"); !xff.empty())
      forwarded = opts.client_ip(req.peer_ip, xff);
  }
  obs::access_log({.request_id = req.request_id,
                   .method = method,
                   .route = route,
                   .status = status,
                   .latency_ns = dt,
                   .user_id = req.user_id,
                   .ip = forwarded.empty() ? std::string_view(req.peer_ip) : forwarded});
}

asio::awaitable<void> Server::Impl::accept_loop(Worker& w, tcp::acceptor& acceptor, Kind kind) {
  for (;;) {
    auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
    if (ec) {
      if (stopping.load(std::memory_order_relaxed) || ec == asio::error::operation_aborted ||
          !acceptor.is_open())
        co_return;
      // Out of descriptors or buffers: back off instead of spinning.
      asio::steady_timer t(w.ioc, std::chrono::milliseconds(50));
      co_await t.async_wait(use_tuple);
      continue;
    }
    Peer peer;
    if (!admit(sock, peer)) {
      beast::error_code ignored;
      sock.close(ignored);
      continue;
    }
    beast::error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(w.ioc, session(w, std::move(sock), kind, std::move(peer)), asio::detached);
  }
}

// Closes the connections whose deadline has passed (a pending read or write then completes with
// an error and the connection ends). Every connection has at most one deadline, armed around
// each socket operation; the sweep looks four times a second, so a timeout fires within 250 ms
// of its time.
asio::awaitable<void> Server::Impl::sweep(Worker& w) {
  asio::steady_timer t(w.ioc);
  for (;;) {
    t.expires_after(std::chrono::milliseconds(250));
    auto [ec] = co_await t.async_wait(use_tuple);
    if (ec || stopping.load(std::memory_order_relaxed)) co_return;
    const int64_t now = coarse_now_ns();
    for (Conn* c = w.head.next; c != &w.head; c = c->next) {
      if (c->deadline != 0 && now >= c->deadline && c->sock) {
        c->deadline = 0;
        beast::error_code ignored;
        c->sock->close(ignored);
      }
    }
  }
}

// The global cap, then the per-address cap (an address over it is refused unless exempt: a
// trusted proxy carries many clients). Counts the connection when admitted.
bool Server::Impl::admit(tcp::socket& sock, Peer& peer) {
  beast::error_code ec;
  const auto ep = sock.remote_endpoint(ec);
  if (ec) return false;  // already gone
  const asio::ip::address addr = unmapped(ep.address());
  peer.ip = addr.to_string();
  if (open->fetch_add(1, std::memory_order_relaxed) >= max_conns) {
    open->fetch_sub(1, std::memory_order_relaxed);
    metrics.inc("http_connections_rejected_total", "reason=\"max_connections\"");
    return false;
  }
  if (opts.max_connections_per_ip > 0) {
    peer.key = key_of(addr);
    peer.counted = per_ip.acquire(peer.key);
    if (!peer.counted && !(opts.per_ip_exempt && opts.per_ip_exempt(peer.ip))) {
      open->fetch_sub(1, std::memory_order_relaxed);
      metrics.inc("http_connections_rejected_total", "reason=\"max_connections_per_ip\"");
      return false;
    }
  }
  return true;
}

// Waits until the socket has bytes to read (or the client closed it), for the TLS sniff. The check
// before waiting matters: the reactor is edge-triggered and a wait op ignores bytes that arrived
// while nothing waited.
asio::awaitable<bool> Server::Impl::wait_readable(tcp::socket& sock) {
  beast::error_code ec;
  if (sock.available(ec) > 0) co_return true;
  if (ec) co_return false;
  auto [wec] = co_await sock.async_wait(tcp::socket::wait_read, use_tuple);
  co_return !wec;
}

// The first bytes of a request, into a buffer allocated only once they are there: an idle
// connection holds no read buffer, only this wait's small one. An asynchronous read is what keeps
// the wait cheap: Asio's epoll reactor tries the recv at once, and when an earlier read came back
// short (the socket drained) it skips that recv and just queues, with no epoll_ctl -- where
// async_wait re-arms the descriptor with an epoll_ctl on every call (a syscall per keep-alive
// request). A request longer than the small buffer gets the rest read from the worker's scratch
// space in the same turn (the socket is non-blocking: no data, no wait). Returns End::idle with
// bytes in buf, else how the connection ended.
asio::awaitable<Server::Impl::End> Server::Impl::read_first(Conn& conn, tcp::socket& sock,
                                                            ReadBuffer& buf) {
  std::array<char, kFirstRead> first;
  auto [ec, n] = co_await sock.async_read_some(asio::buffer(first), use_tuple);
  if (ec == asio::error::eof) co_return End::peer_closed;
  if (ec) co_return End::drop;
  buf.reserve(1000);  // glibc's thread cache serves up to 1032 bytes
  asio::buffer_copy(buf.prepare(n), asio::buffer(first.data(), n));
  buf.commit(n);
  sodium_memzero(first.data(), n);  // request bytes: passwords, tokens
  if (n < first.size()) co_return End::idle;
  // Used only between two suspensions: other connections of this thread cannot interleave.
  auto& scratch = conn.w->scratch;
  beast::error_code rec;
  const std::size_t more = sock.read_some(asio::buffer(scratch), rec);
  if (!rec && more > 0) {  // else: nothing yet, or an end that the next read reports again
    asio::buffer_copy(buf.prepare(more), asio::buffer(scratch.data(), more));
    buf.commit(more);
    sodium_memzero(scratch.data(), more);
  }
  co_return End::idle;
}

// TLS: decrypted bytes may already wait inside OpenSSL, which the socket cannot tell; read one
// byte instead (the record it comes from is read and decrypted whole anyway).
asio::awaitable<Server::Impl::End> Server::Impl::read_first(Conn&, TlsStream& stream,
                                                            ReadBuffer& buf) {
  char first = 0;
  auto [ec, n] = co_await stream.async_read_some(asio::buffer(&first, 1), use_tuple);
  if (ec == asio::error::eof) co_return End::peer_closed;
  if (ec || n != 1) co_return End::drop;
  buf.reserve(1000);
  *static_cast<char*>(buf.prepare(1).data()) = first;
  buf.commit(1);
  co_return End::idle;
}

asio::awaitable<void> Server::Impl::linger_close(Conn& conn, tcp::socket& sock) {
  // Half-close, then read and discard what the client still sends (bounded) so that closing a
  // socket with unread data does not reset the connection before the client read our answer.
  beast::error_code ec;
  sock.shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    arm(conn, std::chrono::seconds(2));
    char sink[4096];
    std::size_t total = 0;
    while (total < (1u << 20)) {
      auto [rec, n] = co_await sock.async_read_some(asio::buffer(sink), use_tuple);
      if (rec) break;
      total += n;
    }
    disarm(conn);
  }
  sock.close(ec);
}

asio::awaitable<void> Server::Impl::close_gracefully(Conn& conn, tcp::socket& sock, End end) {
  if (end == End::answered) co_await linger_close(conn, sock);
}

asio::awaitable<void> Server::Impl::close_gracefully(Conn& conn, TlsStream& stream, End end) {
  // Our close_notify (bounded wait for the client's), then, after an answer, the same TCP linger
  // as plain HTTP. A TLS session is resumable only when it was shut down this way: OpenSSL drops
  // it from the cache otherwise.
  arm(conn, std::chrono::seconds(2));
  co_await stream.async_shutdown(use_tuple);
  disarm(conn);
  if (end == End::answered) co_await linger_close(conn, beast::get_lowest_layer(stream));
}

template <class Stream>
asio::awaitable<void> Server::Impl::reject(Conn& conn, Stream& stream, std::string_view peer,
                                           const Response& res, Method method,
                                           std::string_view client_id, int64_t t0) {
  Request req;
  req.method = method;
  req.peer_ip = std::string(peer);
  req.request_id = request_id_for(client_id);
  std::string out;
  serialize_response(out, res,
                     {.version = 11,
                      .keep_alive = false,
                      .head = false,
                      .hsts = opts.hsts,
                      .request_id = req.request_id});
  const int status = res.status;  // res is not read after the suspension (a caller's temporary)
  arm(conn, opts.body_timeout);
  co_await asio::async_write(stream, asio::buffer(out), use_tuple);
  disarm(conn);
  record(req, status, t0);
}

Response Server::Impl::redirect_answer(std::string_view host, Request& req) {
  req.route = "redirect";
  std::shared_ptr<TlsIdentity> id = current_tls();
  std::string location = id ? https_redirect_location(host, req.target, id->names, port) : "";
  if (location.empty()) return error_response(ErrorCode::validation_failed, "malformed request");
  Response res;
  res.status = 308;
  res.content_type = {};
  res.headers.emplace_back("Location", std::move(location));
  return res;
}

asio::awaitable<void> Server::Impl::session(Worker& w, tcp::socket sock, Kind kind, Peer who) {
  struct Guard {
    Impl& impl;
    Worker& w;
    Conn& c;
    const Peer& who;
    ~Guard() {
      c.prev->next = c.next;
      c.next->prev = c.prev;
      --w.conns;
      if (who.counted) impl.per_ip.release(who.key);
      impl.open->fetch_sub(1, std::memory_order_relaxed);
    }
  };
  Conn conn;
  conn.w = &w;
  conn.sock = &sock;
  conn.prev = w.head.prev;
  conn.next = &w.head;
  w.head.prev->next = &conn;
  w.head.prev = &conn;
  ++w.conns;
  Guard guard{*this, w, conn, who};

  if (kind == Kind::tls) {
    co_await tls_session(conn, sock, who.ip);
  } else {
    beast::error_code ec;
    sock.non_blocking(true, ec);  // read_first's recv must not block the thread
    co_await run_connection(conn, sock, who.ip, kind);
  }
  conn.sock = nullptr;
  beast::error_code ec;
  sock.close(ec);
}

asio::awaitable<void> Server::Impl::tls_session(Conn& conn, tcp::socket& sock,
                                                const std::string& peer) {
  // The first byte decides: a TLS connection opens with a handshake record (0x16); anything else
  // is most likely plain HTTP sent to the HTTPS port, which gets a readable refusal instead of a
  // TLS alert it cannot show. The byte is only peeked at: the handshake reads it again.
  arm(conn, opts.header_timeout);
  unsigned char first = 0;
  beast::error_code ec;
  if (!co_await wait_readable(sock) ||
      sock.receive(asio::buffer(&first, 1), tcp::socket::message_peek, ec) != 1 || ec)
    co_return;
  if (first != 0x16) {
    conn.idle = false;
    // A named local, not a temporary in the co_await expression (g++ 12 coroutine caveat).
    const Response https_only = error_response(ErrorCode::validation_failed,
                                               "this port speaks HTTPS only: use an https:// URL");
    co_await reject(conn, sock, peer, https_only, Method::OTHER, {}, mono_ns());
    conn.idle = true;
    try {
      co_await linger_close(conn, sock);
    } catch (...) {
    }
    co_return;
  }
  std::shared_ptr<TlsIdentity> id = current_tls();  // held for the connection's life
  TlsStream stream(std::move(sock), id->ctx);
  conn.sock = &beast::get_lowest_layer(stream);
  // The handshake counts as part of reading the first request's header: same deadline.
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
  disarm(conn);
  if (hec) {
    metrics.inc("http_tls_handshake_failures_total");
  } else {
    co_await run_connection(conn, stream, peer, Kind::tls);
  }
  // The stream (and its socket) goes with this frame: the sweep must not see it any more.
  beast::get_lowest_layer(stream).close(ec);
  conn.sock = &sock;  // the moved-from socket of the session: closing it is harmless
}

// The connection's life, the same for plain HTTP, HTTPS and the redirect listener: idle (nothing
// allocated, a deadline armed) until a request begins, then serve_requests until nothing unread
// is left, and again; then close as the end requires.
template <class Stream>
asio::awaitable<void> Server::Impl::run_connection(Conn& conn, Stream& stream,
                                                   const std::string& peer, Kind kind) {
  End end = End::drop;
  bool first = true;
  try {
    for (;;) {
      if (stopping.load(std::memory_order_relaxed)) {
        end = first ? End::drop : End::answered;
        break;
      }
      // A fresh connection gets the header timeout, a kept-alive one the idle timeout; stop()
      // closes connections waiting here.
      conn.idle = true;
      arm(conn, first ? opts.header_timeout : opts.idle_timeout);
      ReadBuffer buf;
      end = co_await read_first(conn, stream, buf);
      disarm(conn);
      if (end != End::idle) break;
      conn.idle = false;
      first = false;
      end = co_await serve_requests(conn, stream, peer, kind, buf);
      if (end != End::idle) break;
    }
  } catch (const std::exception& e) {
    obs::log(obs::Level::error, "http.connection.error", {{"detail", e.what()}, {"ip", peer}});
    end = End::drop;
  }
  conn.idle = true;  // lingering: stop() may cut it short
  disarm(conn);
  if ((end == End::answered || end == End::peer_closed) &&
      beast::get_lowest_layer(stream).is_open()) {
    try {
      co_await close_gracefully(conn, stream, end);
    } catch (...) {
    }
  }
}

// Reads and answers requests while bytes are waiting: read the header (limits set on the parser
// first), check framing, read the body, answer, repeat while pipelined bytes remain. The buffers
// live only here, so they exist only while a request is being served; the read buffer grows from
// 1 KiB as a request needs.
template <class Stream>
asio::awaitable<Server::Impl::End> Server::Impl::serve_requests(Conn& conn, Stream& stream,
                                                                const std::string& peer, Kind kind,
                                                                ReadBuffer& buf) {
  WipingString out;
  for (;;) {
    // This request's state lives in a recycled block (util/recycled.hpp), not in this frame:
    // the frame stays within the allocator's thread cache, and a refusal is answered at one
    // place below (each co_await's temporaries take frame space of their own).
    Recycled<Exchange> held;
    Exchange& x = *held;
    const int64_t t0 = mono_ns();

    // The common request, complete and without a body in what was read, is read in place
    // (http/head.hpp); anything else goes through Beast's parser from its first byte.
    QuickHead& qh = x.quick;
    const bool quick =
        buf.size() > 0 &&
        parse_quick_head(std::string_view(static_cast<const char*>(buf.data().data()), buf.size()),
                         opts.header_limit, qh);
    unsigned version = 11;
    Method method = Method::OTHER;
    if (quick) {
      version = qh.version;
      method = qh.method;
    } else {
      // Counted: clients whose every request takes this path (a head over TLS's first read, a
      // body, an unusual field) show here (docs/operations.md).
      metrics.inc("http_heads_full_parser_total");
      RequestParser& parser = x.parser.emplace();
      parser.header_limit(static_cast<std::uint32_t>(opts.header_limit));
      parser.body_limit(opts.body_limit);
      BeastRequest& msg = parser.get();
      // A header already in the buffer is parsed here; reading more goes through the async read.
      beast::error_code hec = parse_buffered_header(parser, buf);
      if (hec == bhttp::error::need_more) {
        arm(conn, opts.header_timeout);
        auto [rec, rn] = co_await bhttp::async_read_header(stream, buf, parser, use_tuple);
        disarm(conn);
        (void)rn;
        hec = rec;
      }
      version = msg.version();
      method = to_method(msg.method());
      if (hec) {
        if ((hec == bhttp::error::end_of_stream || hec == asio::error::eof) && buf.size() == 0)
          co_return End::peer_closed;
        if (hec == bhttp::error::header_limit || hec == bhttp::error::buffer_overflow)
          x.refuse(error_response(ErrorCode::header_too_large, "request header too large"),
                   Method::OTHER, {});
        else if (hec == bhttp::error::bad_version && other_http_version(buf))
          x.refuse(version_not_supported(), Method::OTHER, {});
        else if (hec == bhttp::error::body_limit)
          x.refuse(error_response(ErrorCode::payload_too_large, "request body too large"), method,
                   msg["X-Request-ID"]);
        else if (is_disconnect(hec))
          co_return End::drop;
        else
          x.refuse(error_response(ErrorCode::validation_failed, "malformed request"), Method::OTHER,
                   {});
      } else if (version != 10 && version != 11) {
        x.refuse(version_not_supported(), method, msg["X-Request-ID"]);
      } else if (!framing_ok(msg, version)) {
        x.refuse(error_response(ErrorCode::validation_failed, "malformed request"), method,
                 msg["X-Request-ID"]);
      } else if (!parser.is_done()) {
        if (version == 11 && beast::iequals(msg[bhttp::field::expect], "100-continue")) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          arm(conn, opts.body_timeout);
          auto [cec, cn] = co_await asio::async_write(
              stream, asio::buffer(kContinue.data(), kContinue.size()), use_tuple);
          disarm(conn);
          (void)cn;
          if (cec) co_return End::drop;
        }
        arm(conn, opts.body_timeout);
        auto [bec, bn] = co_await bhttp::async_read(stream, buf, parser, use_tuple);
        disarm(conn);
        (void)bn;
        if (bec) {
          if (bec == bhttp::error::body_limit)
            x.refuse(error_response(ErrorCode::payload_too_large, "request body too large"), method,
                     msg["X-Request-ID"]);
          else if (is_disconnect(bec))
            co_return End::drop;
          else
            x.refuse(error_response(ErrorCode::validation_failed, "malformed request"), method,
                     msg["X-Request-ID"]);
        }
      }
      if (x.refusal) {
        co_await reject(conn, stream, peer, *x.refusal, x.refusal_method, x.refusal_client_id, t0);
        co_return End::answered;
      }
    }

    Request& req = x.req;
    req.method = method;
    req.peer_ip = peer;
    // Several Cookie lines are one list (RFC 9113 8.2.3 joins them with "; "): joined, so that a
    // cookie name repeated across lines is seen (SPEC 14) instead of one line being dropped. The
    // copy holds credentials: wiped when the request is done.
    std::string& cookie_lines = x.cookie_lines;
    const WipeOnExit wipe_cookie_lines(cookie_lines);
    // Any other repeated field yields its last line: that is the one a proxy in front of us
    // appended (X-Forwarded-For), never a client-supplied earlier copy.
    bool keep_requested = false;
    std::string_view host;
    if (quick) {
      // The views point into the read buffer, which keeps these bytes until the answer is sent
      // (consume only moves its read position; wipe_read and the next read come after).
      buf.consume(qh.size);
      req.target = qh.target;
      req.body = {};
      req.request_id = request_id_for(qh.first("X-Request-ID"));  // as msg[] below: the first
      if (qh.count("Cookie") > 1)
        join_cookie_lines(cookie_lines, [&qh](auto&& each) {
          for (std::size_t i = 0; i < qh.nfields; ++i)
            if (beast::iequals(qh.fields[i].first, "Cookie")) each(qh.fields[i].second);
        });
      req.header_fn = [&qh, &cookie_lines](std::string_view name) -> std::string_view {
        if (!cookie_lines.empty() && beast::iequals(name, "Cookie")) return cookie_lines;
        return qh.last(name);
      };
      keep_requested = qh.keep_alive;
      if (kind == Kind::redirect) host = qh.first("Host");  // as msg[] below (one Host anyway)
    } else {
      BeastRequest& msg = x.parser->get();
      req.target = msg.target();
      req.body = std::string_view(msg.body().data(), msg.body().size());
      req.request_id = request_id_for(msg["X-Request-ID"]);
      if (msg.count(bhttp::field::cookie) > 1)
        join_cookie_lines(cookie_lines, [&msg](auto&& each) {
          for (auto [it, end] = msg.equal_range(bhttp::field::cookie); it != end; ++it)
            each(it->value());
        });
      req.header_fn = [&msg, &cookie_lines](std::string_view name) -> std::string_view {
        if (!cookie_lines.empty() && beast::iequals(name, "Cookie")) return cookie_lines;
        std::string_view last;
        for (auto [it, end] = msg.equal_range(name); it != end; ++it) last = it->value();
        return last;
      };
      keep_requested = msg.keep_alive();
      if (kind == Kind::redirect) host = msg[bhttp::field::host];
    }
    req.path = req.target.substr(0, req.target.find('?'));

    // (Not one conditional expression: GCC 12 mishandles a co_await inside one.)
    std::optional<Response>& answer = x.answer;
    if (kind == Kind::redirect)
      answer.emplace(redirect_answer(host, req));
    else
      answer.emplace(co_await dispatch(router, cors, req));
    Response& res = *answer;

    // The redirect listener answers once per connection: the client goes to HTTPS anyway. A body
    // in pieces on HTTP/1.0 ends where the connection does.
    const bool pieces = static_cast<bool>(res.more);
    const bool keep = keep_requested && kind != Kind::redirect &&
                      !stopping.load(std::memory_order_relaxed) && !(pieces && version == 10);
    const SerializeOptions so{.version = static_cast<int>(version),
                              .keep_alive = keep,
                              .head = method == Method::HEAD,
                              .hsts = opts.hsts,
                              .request_id = req.request_id};
    const bool body = has_body(res, so);
    // A small body is copied behind the head (one write, one TLS record); a large one is sent
    // from where it is (SPEC 14: no second copy of a body).
    const bool inline_body = body && !pieces && res.body.size() <= kInlineBody;
    if (out.capacity() < 1000) out.reserve(1000);
    serialize_head(out, res, so);
    if (inline_body) out += res.body;
    beast::error_code wec;
    if (pieces && body)
      wec = co_await send_pieces(conn, stream, out, res, version != 10, req.request_id);
    else
      wec = co_await send(conn, stream, out,
                          body && !inline_body ? std::string_view(res.body) : std::string_view{});
    record(req, res.status, t0);
    // The request's bytes and the answer's are zeroed now, not whenever memory is reused (the
    // buffers zero themselves when freed, at the end of this burst).
    wipe(out);
    sodium_memzero(res.body.data(), res.body.size());
    if (wec) co_return End::drop;
    if (!keep) co_return End::answered;
    if (buf.size() == 0) co_return End::idle;
    wipe_read(buf);  // pipelined bytes remain: keep them, zero what was read before
    if (out.capacity() > 256 * 1024) WipingString().swap(out);  // do not pin a big buffer
  }
}

// Writes every buffer, in order. A TLS stream gets them one at a time: Beast's ssl_stream writes
// nothing for a sequence that starts with an empty buffer (its flat_stream coalesces from the
// first one), and asio::async_write takes a write of nothing for the end.
namespace {
template <class Stream, std::size_t N>
asio::awaitable<beast::error_code> write_all(Stream& stream,
                                             const std::array<asio::const_buffer, N>& bufs) {
  if constexpr (std::is_same_v<Stream, tcp::socket>) {
    auto [ec, n] = co_await asio::async_write(stream, bufs, use_tuple);
    (void)n;
    co_return ec;
  } else {
    for (const auto& b : bufs) {
      if (b.size() == 0) continue;
      auto [ec, n] = co_await asio::async_write(stream, b, use_tuple);
      (void)n;
      if (ec) co_return ec;
    }
    co_return beast::error_code{};
  }
}
}  // namespace

// head, then body (may be empty): first what the socket takes at once without waiting (plain TCP:
// most answers end there, with no coroutine suspended), the rest asynchronously.
template <class Stream>
asio::awaitable<beast::error_code> Server::Impl::send(Conn& conn, Stream& stream,
                                                      const WipingString& head,
                                                      std::string_view body) {
  std::array<asio::const_buffer, 2> bufs{asio::buffer(head.data(), head.size()),
                                         asio::buffer(body.data(), body.size())};
  beast::error_code ec;
  std::size_t sent = 0;
  // Non-blocking: what fits now. One buffer goes out with send(2), two with sendmsg(2) (the
  // kernel copies and checks an iovec array for it: measurably dearer for a small answer).
  if constexpr (std::is_same_v<Stream, tcp::socket>)
    sent = body.empty() ? stream.write_some(bufs[0], ec) : stream.write_some(bufs, ec);
  if (sent == head.size() + body.size() ||
      (ec && ec != asio::error::would_block && ec != asio::error::try_again))
    co_return ec;
  for (auto& b : bufs) {
    const std::size_t n = std::min(sent, b.size());
    b += n;
    sent -= n;
  }
  arm(conn, opts.body_timeout);
  const beast::error_code aec = co_await write_all(stream, bufs);
  disarm(conn);
  co_return aec;
}

// head, res.body, then every piece res.more produces, each as a chunk when chunked (a chunk of
// its own per piece: one piece in memory at a time), and the last chunk. When res.more throws,
// the connection is dropped before the last chunk: the client sees the answer cut short.
template <class Stream>
asio::awaitable<beast::error_code> Server::Impl::send_pieces(Conn& conn, Stream& stream,
                                                             const WipingString& head,
                                                             Response& res, bool chunked,
                                                             std::string_view request_id) {
  static constexpr std::string_view kCrlf = "\r\n", kLastChunk = "0\r\n\r\n";
  std::string piece = std::move(res.body);
  const WipeOnExit wipe_piece(piece);
  bool first = true, more = true;
  for (;;) {
    char size_line[24];
    std::size_t size_len = 0;
    const bool framed = chunked && !piece.empty();  // an empty chunk would end the body
    if (framed) {
      auto [p, ec] = std::to_chars(size_line, size_line + 16, piece.size(), 16);
      (void)ec;
      *p++ = '\r';
      *p++ = '\n';
      size_len = static_cast<std::size_t>(p - size_line);
    }
    const std::array<asio::const_buffer, 5> bufs{
        first ? asio::buffer(head.data(), head.size()) : asio::const_buffer(),
        asio::buffer(size_line, size_len), asio::buffer(piece),
        framed ? asio::buffer(kCrlf.data(), kCrlf.size()) : asio::const_buffer(),
        chunked && !more ? asio::buffer(kLastChunk.data(), kLastChunk.size())
                         : asio::const_buffer()};
    first = false;
    arm(conn, opts.body_timeout);
    const beast::error_code ec = co_await write_all(stream, bufs);
    disarm(conn);
    if (ec || !more) co_return ec;
    sodium_memzero(piece.data(), piece.size());
    piece.clear();
    std::exception_ptr failed;
    try {
      more = co_await res.more(piece);
    } catch (...) {
      failed = std::current_exception();
    }
    if (failed) {
      obs::log(obs::Level::error, "response.cut_short", {{"request_id", request_id}});
      co_return asio::error::make_error_code(asio::error::connection_aborted);
    }
  }
}

asio::awaitable<void> Server::Impl::drain(Worker& w) {
  beast::error_code ec;
  if (w.acceptor) w.acceptor->close(ec);
  if (w.redirect_acceptor) w.redirect_acceptor->close(ec);
  const auto deadline = std::chrono::steady_clock::now() + opts.shutdown_grace;
  asio::steady_timer t(w.ioc);
  for (;;) {
    // Connections waiting for a next request are closed; busy ones finish their request and then
    // close, because `stopping` turns keep-alive off.
    for (Conn* c = w.head.next; c != &w.head; c = c->next)
      if (c->idle && c->sock) c->sock->close(ec);
    if (w.conns == 0 || std::chrono::steady_clock::now() >= deadline) break;
    t.expires_after(std::chrono::milliseconds(10));
    co_await t.async_wait(use_tuple);
  }
  w.ioc.stop();
}

Server::Server(ServerOptions opts, const Router& router, obs::Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(opts), router, metrics)) {}

Server::~Server() = default;

namespace {

asio::ip::address resolve_host(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (ec) {
    asio::io_context tmp;
    tcp::resolver res(tmp);
    auto results = res.resolve(host, "", ec);
    if (ec || results.empty())
      throw std::runtime_error("cannot resolve listen host '" + host + "'");
    addr = results.begin()->endpoint().address();
  }
  return addr;
}

// One SO_REUSEPORT acceptor per worker on addr:port; port 0: the first gets a port from the
// kernel and the others bind to it. Returns the bound port.
template <class Workers, class Member>
uint16_t listen_all(Workers& workers, Member member, const asio::ip::address& addr, uint16_t port) {
  beast::error_code ec;
  auto fail = [&](const char* what) {
    throw std::runtime_error("cannot listen on " + addr.to_string() + ":" + std::to_string(port) +
                             ": " + what + ": " + ec.message());
  };
  if (port != 0) {
    // SO_REUSEPORT would let us silently share a port that another process (same user) already
    // listens on; probe with a plain socket first.
    asio::io_context probe_ioc{1};
    tcp::acceptor probe(probe_ioc);
    tcp::endpoint ep(addr, port);
    probe.open(ep.protocol(), ec);
    if (ec) fail("open");
    probe.set_option(asio::socket_base::reuse_address(true), ec);
    probe.bind(ep, ec);
    if (ec) fail("bind");
    probe.close(ec);
  }
  for (auto& w : workers) {
    tcp::endpoint ep(addr, port);
    auto& a = ((*w).*member).emplace(w->ioc);
    a.open(ep.protocol(), ec);
    if (ec) fail("open");
    a.set_option(asio::socket_base::reuse_address(true), ec);
    a.set_option(reuse_port(true), ec);
    if (ec) fail("SO_REUSEPORT");
    a.bind(ep, ec);
    if (ec) fail("bind");
    a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail("listen");
    if (port == 0) port = a.local_endpoint().port();
  }
  return port;
}

void log_identity(std::string_view event, const std::string& file, const TlsIdentity& id) {
  std::string names;
  for (const auto& nm : id.names) names += (names.empty() ? "" : ",") + nm;
  obs::log(obs::Level::info, event,
           {{"cert", file}, {"names", names}, {"not_after", id.not_after}});
}

}  // namespace

uint16_t Server::start() {
  std::lock_guard lock(impl_->mu);
  Impl& I = *impl_;
  if (I.started) return I.port;
  const bool tls = !I.opts.tls_cert.empty() || !I.opts.tls_key.empty();
  if (!I.opts.redirect_host.empty() && !tls)
    throw std::runtime_error("listen_redirect needs native TLS (tls_cert and tls_key)");
  if (tls) I.tls = I.load_tls();  // throws TlsError naming the file and the reason

  const FileLimit files = raise_open_file_limit();
  I.max_conns = I.opts.max_connections;
  const uint64_t wanted =
      static_cast<uint64_t>(I.opts.max_connections) + static_cast<uint64_t>(I.opts.fd_headroom);
  if (files.soft != 0 && files.soft < wanted) {
    // Admitting more than the descriptors allow would stall accept() with EMFILE (a new client
    // waits and gets nothing); refusing beyond what fits keeps everyone else served.
    I.max_conns = static_cast<int>(std::max<int64_t>(
        1, static_cast<int64_t>(files.soft) - static_cast<int64_t>(I.opts.fd_headroom)));
    obs::log(obs::Level::warn, "http.open_file_limit_low",
             {{"limit", static_cast<int64_t>(files.soft)},
              {"hard_limit", static_cast<int64_t>(files.hard)},
              {"max_connections", I.opts.max_connections},
              {"headroom", I.opts.fd_headroom},
              {"admitted", I.max_conns},
              {"fix", "raise the hard limit (LimitNOFILE= in the systemd unit, ulimit -Hn)"}});
  }
  const asio::ip::address addr = resolve_host(I.opts.host);
  const int n = std::max(1, I.opts.threads);
  for (int i = 0; i < n; ++i) I.workers.push_back(std::make_unique<Impl::Worker>());
  try {
    I.port = listen_all(I.workers, &Impl::Worker::acceptor, addr, I.opts.port);
    if (!I.opts.redirect_host.empty())
      I.redirect_port = listen_all(I.workers, &Impl::Worker::redirect_acceptor,
                                   resolve_host(I.opts.redirect_host), I.opts.redirect_port);
  } catch (...) {
    I.workers.clear();
    throw;
  }
  const auto kind = tls ? Impl::Kind::tls : Impl::Kind::plain;
  for (auto& w : I.workers) {
    asio::co_spawn(w->ioc, I.sweep(*w), asio::detached);
    asio::co_spawn(w->ioc, I.accept_loop(*w, *w->acceptor, kind), asio::detached);
    if (w->redirect_acceptor)
      asio::co_spawn(w->ioc, I.accept_loop(*w, *w->redirect_acceptor, Impl::Kind::redirect),
                     asio::detached);
  }
  if (I.stopping.load())  // stop() came first
    for (auto& w : I.workers) asio::co_spawn(w->ioc, I.drain(*w), asio::detached);

  std::weak_ptr<std::atomic<int>> open = I.open;
  I.metrics.gauge("http_open_connections", "Open HTTP connections.", [open] {
    auto p = open.lock();
    return p ? static_cast<double>(p->load(std::memory_order_relaxed)) : 0.0;
  });
  I.started = true;
  obs::log(obs::Level::info, "http.listening",
           {{"host", addr.to_string()},
            {"port", static_cast<int>(I.port)},
            {"threads", n},
            {"tls", tls},
            {"redirect_port", static_cast<int>(I.redirect_port)},
            {"max_connections", I.max_conns},
            {"max_connections_per_ip", I.opts.max_connections_per_ip},
            {"open_file_limit", static_cast<int64_t>(files.soft)},
            {"open_file_limit_before", static_cast<int64_t>(files.before)}});
  if (tls) log_identity("tls.loaded", I.opts.tls_cert, *I.tls);
  obs::flush_logs();  // tools wait for this line to learn the port
  return I.port;
}

void Server::run() {
  if (!impl_->started) start();
  auto run_one = [](asio::io_context& ioc) {
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        obs::log(obs::Level::error, "http.worker.error", {{"detail", e.what()}});
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < impl_->workers.size(); ++i)
    threads.emplace_back([&, i] { run_one(impl_->workers[i]->ioc); });
  run_one(impl_->workers[0]->ioc);
  for (auto& t : threads) t.join();
}

void Server::stop() {
  std::lock_guard lock(impl_->mu);
  if (impl_->stopping.exchange(true)) return;
  for (auto& w : impl_->workers) asio::co_spawn(w->ioc, impl_->drain(*w), asio::detached);
}

int Server::open_connections() const {
  return impl_->open->load(std::memory_order_relaxed);
}

int Server::max_connections() const {
  return impl_->max_conns;
}

uint16_t Server::redirect_port() const {
  return impl_->redirect_port;
}

bool Server::reload_tls() {
  Impl& I = *impl_;
  if (I.opts.tls_cert.empty()) return false;
  try {
    auto id = I.load_tls();
    log_identity("tls.reloaded", I.opts.tls_cert, *id);
    std::lock_guard lock(I.tls_mu);
    I.tls = std::move(id);
    return true;
  } catch (const std::exception& e) {
    obs::log(obs::Level::error, "tls.reload_failed",
             {{"detail", e.what()}, {"kept", "the certificate and key loaded before"}});
    return false;
  }
}

}  // namespace sr::http
