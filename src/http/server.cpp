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
#include <atomic>
#include <cctype>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "http/conn_limit.hpp"
#include "http/dispatch.hpp"
#include "http/errors.hpp"
#include "http/redirect.hpp"
#include "http/tls.hpp"
#include "http/wipe.hpp"
#include "observability/log.hpp"
#include "util/clock.hpp"

namespace sr::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Every buffer that holds request bytes zeroes itself when given back (http/wipe.hpp).
using Body = bhttp::basic_string_body<char, std::char_traits<char>, WipingAllocator<char>>;
using Fields = bhttp::basic_fields<WipingAllocator<char>>;
using BeastRequest = bhttp::request<Body, Fields>;
using RequestParser = bhttp::request_parser<Body, WipingAllocator<char>>;
using ReadBuffer = beast::basic_flat_buffer<WipingAllocator<char>>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

bool is_disconnect(const beast::error_code& ec) noexcept {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted || ec == asio::error::broken_pipe ||
         ec == asio::error::bad_descriptor || ec == asio::error::not_connected ||
         ec == beast::error::timeout || ec == ssl::error::stream_truncated;
}

// Every deadline of a connection is set on its TCP layer, whatever is stacked on it.
template <class Stream>
void expire(Stream& s, std::chrono::steady_clock::duration d) {
  beast::get_lowest_layer(s).expires_after(d);
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
  // A live connection, linked into its worker's list (touched only on the worker's thread).
  struct Conn {
    beast::tcp_stream* stream = nullptr;  // its TCP layer, whatever is stacked on it
    bool idle = true;                     // waiting for the first byte of a request
    Conn* prev = nullptr;
    Conn* next = nullptr;
  };
  struct Worker {
    Conn head;  // sentinel of the connection list; declared before ioc (outlives the frames)
    int conns = 0;
    asio::io_context ioc{1};
    std::optional<tcp::acceptor> acceptor;           // the server's own listener
    std::optional<tcp::acceptor> redirect_acceptor;  // listen_redirect (with TLS only)
    Worker() { head.prev = head.next = &head; }
  };
  enum class Kind { plain, tls, redirect };

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

  asio::awaitable<void> accept_loop(Worker& w, tcp::acceptor& acceptor, Kind kind);
  // A connection's identity for the caps: its address, and whether it counts against it.
  struct Peer {
    std::string ip;
    PerAddressCount::Key key;
    bool counted = false;
  };
  bool admit(tcp::socket& sock, Peer& peer);
  asio::awaitable<void> session(Worker& w, tcp::socket sock, Kind kind, Peer peer);
  asio::awaitable<void> tls_session(Conn& conn, tcp::socket sock, const std::string& peer);
  template <class Stream>
  asio::awaitable<void> run_connection(Conn& conn, Stream& stream, const std::string& peer,
                                       Kind kind);
  // How a connection's loop ended: dropped (error, timeout, reset), after an answer the client
  // must still be able to read (Connection: close, a refusal), or closed by the client.
  enum class End { drop, answered, peer_closed };
  template <class Stream>
  asio::awaitable<End> serve(Conn& conn, Stream& stream, const std::string& peer, Kind kind);
  template <class Stream>
  asio::awaitable<void> reject(Stream& stream, std::string_view peer, Response res, Method method,
                               std::string_view client_id, int64_t t0);
  Response redirect_answer(const BeastRequest& msg, Request& req);
  asio::awaitable<void> drain(Worker& w);
  static asio::awaitable<void> linger_close(beast::tcp_stream& stream);
  static asio::awaitable<void> close_gracefully(beast::tcp_stream& stream, End end);
  static asio::awaitable<void> close_gracefully(TlsStream& stream, End end);
  void record(const Request& req, int status, int64_t t0);
};

void Server::Impl::record(const Request& req, int status, int64_t t0) {
  const int64_t dt = mono_ns() - t0;
  const std::string_view route = req.route.empty() ? std::string_view("unmatched") : req.route;
  const std::string_view method = method_name(req.method);
  metrics.observe_request(route, method, status, dt);
  const double ms = static_cast<double>(dt) / 1e6;
  if (req.user_id != 0)
    obs::log(obs::Level::info, "access",
             {{"request_id", req.request_id},
              {"method", method},
              {"route", route},
              {"status", status},
              {"latency_ms", ms},
              {"user_id", req.user_id},
              {"ip", req.peer_ip}});
  else
    obs::log(obs::Level::info, "access",
             {{"request_id", req.request_id},
              {"method", method},
              {"route", route},
              {"status", status},
              {"latency_ms", ms},
              {"ip", req.peer_ip}});
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

asio::awaitable<void> Server::Impl::linger_close(beast::tcp_stream& stream) {
  // Half-close, then read and discard what the client still sends (bounded) so that closing a
  // socket with unread data does not reset the connection before the client read our answer.
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    stream.expires_after(std::chrono::seconds(2));
    char sink[4096];
    std::size_t total = 0;
    while (total < (1u << 20)) {
      auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
      if (rec) break;
      total += n;
    }
  }
  stream.close();
}

asio::awaitable<void> Server::Impl::close_gracefully(beast::tcp_stream& stream, End end) {
  if (end == End::answered) co_await linger_close(stream);
}

asio::awaitable<void> Server::Impl::close_gracefully(TlsStream& stream, End end) {
  // Our close_notify (bounded wait for the client's), then, after an answer, the same TCP linger
  // as plain HTTP. A TLS session is resumable only when it was shut down this way: OpenSSL drops
  // it from the cache otherwise.
  expire(stream, std::chrono::seconds(2));
  co_await stream.async_shutdown(use_tuple);
  if (end == End::answered) co_await linger_close(beast::get_lowest_layer(stream));
}

template <class Stream>
asio::awaitable<void> Server::Impl::reject(Stream& stream, std::string_view peer, Response res,
                                           Method method, std::string_view client_id, int64_t t0) {
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
  expire(stream, opts.body_timeout);
  co_await asio::async_write(stream, asio::buffer(out), use_tuple);
  record(req, res.status, t0);
}

Response Server::Impl::redirect_answer(const BeastRequest& msg, Request& req) {
  req.route = "redirect";
  std::shared_ptr<TlsIdentity> id = current_tls();
  std::string location =
      id ? https_redirect_location(msg[bhttp::field::host], req.target, id->names, port) : "";
  if (location.empty()) return error_response(ErrorCode::validation_failed, "malformed request");
  Response res;
  res.status = 308;
  res.content_type.clear();
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
  conn.prev = w.head.prev;
  conn.next = &w.head;
  w.head.prev->next = &conn;
  w.head.prev = &conn;
  ++w.conns;
  Guard guard{*this, w, conn, who};

  const std::string& peer = who.ip;
  if (kind == Kind::tls) {
    co_await tls_session(conn, std::move(sock), peer);
  } else {
    beast::tcp_stream stream(std::move(sock));
    co_await run_connection(conn, stream, peer, kind);
  }
}

asio::awaitable<void> Server::Impl::tls_session(Conn& conn, tcp::socket sock,
                                                const std::string& peer) {
  // The first bytes decide: a TLS connection opens with a handshake record (0x16); anything else
  // is most likely plain HTTP sent to the HTTPS port, which gets a readable refusal instead of a
  // TLS alert it cannot show. The bytes read here are handed to the handshake.
  ReadBuffer first;
  beast::tcp_stream tcp(std::move(sock));
  conn.stream = &tcp;
  tcp.expires_after(opts.header_timeout);
  auto [ec, n] = co_await tcp.async_read_some(first.prepare(2048), use_tuple);
  if (ec || n == 0) {
    conn.stream = nullptr;
    co_return;
  }
  first.commit(n);
  if (static_cast<const unsigned char*>(first.data().data())[0] != 0x16) {
    conn.idle = false;
    co_await reject(tcp, peer,
                    error_response(ErrorCode::validation_failed,
                                   "this port speaks HTTPS only: use an https:// URL"),
                    Method::OTHER, {}, mono_ns());
    conn.idle = true;
    try {
      co_await linger_close(tcp);
    } catch (...) {
    }
    conn.stream = nullptr;
    co_return;
  }
  std::shared_ptr<TlsIdentity> id = current_tls();  // held for the connection's life
  TlsStream stream(std::move(tcp), id->ctx);
  conn.stream = &beast::get_lowest_layer(stream);
  // The handshake counts as part of reading the first request's header: same deadline.
  auto [hec, used] =
      co_await stream.async_handshake(ssl::stream_base::server, first.data(), use_tuple);
  (void)used;
  first = ReadBuffer();
  if (hec) {
    metrics.inc("http_tls_handshake_failures_total");
    conn.stream = nullptr;
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().close(ignored);
    co_return;
  }
  co_await run_connection(conn, stream, peer, Kind::tls);
}

template <class Stream>
asio::awaitable<void> Server::Impl::run_connection(Conn& conn, Stream& stream,
                                                   const std::string& peer, Kind kind) {
  conn.stream = &beast::get_lowest_layer(stream);
  End end = End::drop;
  try {
    end = co_await serve(conn, stream, peer, kind);
  } catch (const std::exception& e) {
    obs::log(obs::Level::error, "http.connection.error", {{"detail", e.what()}, {"ip", peer}});
  }
  conn.idle = true;  // lingering: stop() may cut it short
  if (end != End::drop && beast::get_lowest_layer(stream).socket().is_open()) {
    try {
      co_await close_gracefully(stream, end);
    } catch (...) {
    }
  }
  conn.stream = nullptr;
  beast::error_code ec;
  beast::get_lowest_layer(stream).socket().close(ec);
}

// The connection's loop, the same for plain HTTP, HTTPS and the redirect listener: wait for a
// request, read its header (limits set first), check framing, read its body, answer, repeat.
template <class Stream>
asio::awaitable<Server::Impl::End> Server::Impl::serve(Conn& conn, Stream& stream,
                                                       const std::string& peer, Kind kind) {
  ReadBuffer buf;
  WipingString out;
  bool first = true;
  for (;;) {
    if (stopping.load(std::memory_order_relaxed)) co_return End::answered;
    // Idle: wait for the first byte of the next request. A fresh connection gets the header
    // timeout, a kept-alive one the idle timeout; stop() closes connections waiting here.
    if (buf.size() == 0) {
      conn.idle = true;
      expire(stream, first ? opts.header_timeout : opts.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buf.prepare(4096), use_tuple);
      conn.idle = false;
      if (ec == asio::error::eof) co_return End::peer_closed;
      if (ec || n == 0) co_return End::drop;
      buf.commit(n);
    }
    conn.idle = false;
    first = false;

    RequestParser parser;
    parser.header_limit(static_cast<std::uint32_t>(opts.header_limit));
    parser.body_limit(opts.body_limit);
    const int64_t t0 = mono_ns();

    expire(stream, opts.header_timeout);
    auto [hec, hn] = co_await bhttp::async_read_header(stream, buf, parser, use_tuple);
    (void)hn;
    if (hec) {
      if (hec == bhttp::error::header_limit || hec == bhttp::error::buffer_overflow)
        co_await reject(stream, peer,
                        error_response(ErrorCode::header_too_large, "request header too large"),
                        Method::OTHER, {}, t0);
      else if (hec == bhttp::error::bad_version && other_http_version(buf)) {
        Response r = error_response(ErrorCode::validation_failed, "HTTP version not supported");
        r.status = 505;
        co_await reject(stream, peer, std::move(r), Method::OTHER, {}, t0);
      } else if (hec == bhttp::error::body_limit)
        co_await reject(stream, peer,
                        error_response(ErrorCode::payload_too_large, "request body too large"),
                        to_method(parser.get().method()), parser.get()["X-Request-ID"], t0);
      else if (is_disconnect(hec))
        co_return End::drop;
      else
        co_await reject(stream, peer,
                        error_response(ErrorCode::validation_failed, "malformed request"),
                        Method::OTHER, {}, t0);
      co_return End::answered;
    }

    BeastRequest& msg = parser.get();
    const unsigned version = msg.version();
    const Method method = to_method(msg.method());
    if (version != 10 && version != 11) {
      Response r = error_response(ErrorCode::validation_failed, "HTTP version not supported");
      r.status = 505;
      co_await reject(stream, peer, std::move(r), method, msg["X-Request-ID"], t0);
      co_return End::answered;
    }
    if (!framing_ok(msg, version)) {
      co_await reject(stream, peer,
                      error_response(ErrorCode::validation_failed, "malformed request"), method,
                      msg["X-Request-ID"], t0);
      co_return End::answered;
    }
    if (!parser.is_done()) {
      if (version == 11 && beast::iequals(msg[bhttp::field::expect], "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        expire(stream, opts.body_timeout);
        auto [cec, cn] = co_await asio::async_write(
            stream, asio::buffer(kContinue.data(), kContinue.size()), use_tuple);
        (void)cn;
        if (cec) co_return End::drop;
      }
      expire(stream, opts.body_timeout);
      auto [bec, bn] = co_await bhttp::async_read(stream, buf, parser, use_tuple);
      (void)bn;
      if (bec) {
        if (bec == bhttp::error::body_limit)
          co_await reject(stream, peer,
                          error_response(ErrorCode::payload_too_large, "request body too large"),
                          method, msg["X-Request-ID"], t0);
        else if (is_disconnect(bec))
          co_return End::drop;
        else
          co_await reject(stream, peer,
                          error_response(ErrorCode::validation_failed, "malformed request"), method,
                          msg["X-Request-ID"], t0);
        co_return End::answered;
      }
    }

    Request req;
    req.method = method;
    req.target = msg.target();
    req.path = req.target.substr(0, req.target.find('?'));
    req.body = std::string_view(msg.body().data(), msg.body().size());
    req.peer_ip = peer;
    req.request_id = request_id_for(msg["X-Request-ID"]);
    // A repeated field yields its last line: that is the one a proxy in front of us appended
    // (X-Forwarded-For), never a client-supplied earlier copy.
    req.header_fn = [&msg](std::string_view name) -> std::string_view {
      std::string_view last;
      for (auto [it, end] = msg.equal_range(name); it != end; ++it) last = it->value();
      return last;
    };

    Response res;
    if (kind == Kind::redirect) {
      res = redirect_answer(msg, req);
    } else {
      try {
        res = co_await dispatch(router, cors, req);
      } catch (...) {
        res = error_from_exception(std::current_exception(), req.request_id);
      }
    }

    // The redirect listener answers once per connection: the client goes to HTTPS anyway.
    const bool keep =
        msg.keep_alive() && kind != Kind::redirect && !stopping.load(std::memory_order_relaxed);
    serialize_response(out, res,
                       {.version = static_cast<int>(version),
                        .keep_alive = keep,
                        .head = method == Method::HEAD,
                        .hsts = opts.hsts,
                        .request_id = req.request_id});
    expire(stream, opts.body_timeout);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(out), use_tuple);
    (void)wn;
    record(req, res.status, t0);
    // The request's bytes and the answer's are zeroed now, not whenever memory is reused.
    wipe(out);
    sodium_memzero(res.body.data(), res.body.size());
    wipe_read(buf);
    if (wec) co_return End::drop;
    if (!keep) co_return End::answered;
    if (out.capacity() > 256 * 1024) WipingString().swap(out);  // do not pin a big buffer
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
      if (c->idle && c->stream) c->stream->socket().close(ec);
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
