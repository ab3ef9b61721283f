// The only translation unit of the program that includes Beast.
#include "http/server.hpp"

#include "http/framing.hpp"

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "http/dispatch.hpp"
#include "http/errors.hpp"
#include "observability/log.hpp"
#include "util/clock.hpp"

namespace sr::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using BeastRequest = bhttp::request<bhttp::string_body>;

bool is_disconnect(const beast::error_code& ec) noexcept {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted || ec == asio::error::broken_pipe ||
         ec == asio::error::bad_descriptor || ec == asio::error::not_connected ||
         ec == beast::error::timeout;
}

std::string peer_ip_of(const tcp::socket& s) {
  beast::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "unknown";
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a.to_string();
}

// "GET / HTTP/2.0\r\n": a well-formed request line of a version we do not speak (505, not 400).
bool other_http_version(const beast::flat_buffer& buf) noexcept {
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
    beast::tcp_stream* stream = nullptr;
    bool idle = true;  // waiting for the first byte of a request
    Conn* prev = nullptr;
    Conn* next = nullptr;
  };
  struct Worker {
    Conn head;  // sentinel of the connection list; declared before ioc (outlives the frames)
    int conns = 0;
    asio::io_context ioc{1};
    std::optional<tcp::acceptor> acceptor;
    Worker() { head.prev = head.next = &head; }
  };

  Impl(ServerOptions o, const Router& r, obs::Metrics& m)
      : opts(std::move(o)), router(r), metrics(m), cors(opts.cors_origins) {}

  ServerOptions opts;
  const Router& router;
  obs::Metrics& metrics;
  CorsPolicy cors;
  std::shared_ptr<std::atomic<int>> open = std::make_shared<std::atomic<int>>(0);
  std::atomic<bool> stopping{false};
  bool started = false;
  uint16_t port = 0;
  std::mutex mu;                                 // start/run/stop bookkeeping
  std::vector<std::unique_ptr<Worker>> workers;  // last: destroyed first

  ~Impl() {
    for (auto& w : workers) {
      beast::error_code ec;
      if (w->acceptor) w->acceptor->close(ec);
      w->ioc.stop();
    }
    workers.clear();  // io_context destructors destroy pending coroutine frames
  }

  asio::awaitable<void> accept_loop(Worker& w);
  asio::awaitable<void> session(Worker& w, tcp::socket sock);
  asio::awaitable<void> drain(Worker& w);
  asio::awaitable<void> reject(beast::tcp_stream& stream, std::string_view peer, Response res,
                               Method method, std::string_view client_id, int64_t t0);
  static asio::awaitable<void> linger_close(beast::tcp_stream& stream);
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

asio::awaitable<void> Server::Impl::accept_loop(Worker& w) {
  for (;;) {
    auto [ec, sock] = co_await w.acceptor->async_accept(use_tuple);
    if (ec) {
      if (stopping.load(std::memory_order_relaxed) || ec == asio::error::operation_aborted ||
          !w.acceptor->is_open())
        co_return;
      // Out of descriptors or buffers: back off instead of spinning.
      asio::steady_timer t(w.ioc, std::chrono::milliseconds(50));
      co_await t.async_wait(use_tuple);
      continue;
    }
    if (open->fetch_add(1, std::memory_order_relaxed) >= opts.max_connections) {
      open->fetch_sub(1, std::memory_order_relaxed);
      beast::error_code ignored;
      sock.close(ignored);
      metrics.inc("http_connections_rejected_total");
      continue;
    }
    beast::error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(w.ioc, session(w, std::move(sock)), asio::detached);
  }
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

asio::awaitable<void> Server::Impl::reject(beast::tcp_stream& stream, std::string_view peer,
                                           Response res, Method method, std::string_view client_id,
                                           int64_t t0) {
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
  stream.expires_after(opts.body_timeout);
  co_await asio::async_write(stream, asio::buffer(out), use_tuple);
  record(req, res.status, t0);
}

asio::awaitable<void> Server::Impl::session(Worker& w, tcp::socket sock) {
  struct Guard {
    Impl& impl;
    Worker& w;
    Conn& c;
    ~Guard() {
      c.prev->next = c.next;
      c.next->prev = c.prev;
      --w.conns;
      impl.open->fetch_sub(1, std::memory_order_relaxed);
    }
  };
  Conn conn;
  conn.prev = w.head.prev;
  conn.next = &w.head;
  w.head.prev->next = &conn;
  w.head.prev = &conn;
  ++w.conns;
  Guard guard{*this, w, conn};

  const std::string peer = peer_ip_of(sock);
  beast::tcp_stream stream(std::move(sock));
  conn.stream = &stream;
  beast::flat_buffer buf;
  std::string out;
  bool first = true;
  bool close_gracefully = true;

  try {
    for (;;) {
      if (stopping.load(std::memory_order_relaxed)) break;
      // Idle: wait for the first byte of the next request. A fresh connection gets the header
      // timeout, a kept-alive one the idle timeout; stop() closes connections waiting here.
      if (buf.size() == 0) {
        conn.idle = true;
        stream.expires_after(first ? opts.header_timeout : opts.idle_timeout);
        auto [ec, n] = co_await stream.async_read_some(buf.prepare(4096), use_tuple);
        conn.idle = false;
        if (ec || n == 0) {
          close_gracefully = false;
          break;
        }
        buf.commit(n);
      }
      conn.idle = false;
      first = false;

      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(opts.header_limit));
      parser.body_limit(opts.body_limit);
      const int64_t t0 = mono_ns();

      stream.expires_after(opts.header_timeout);
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
          close_gracefully = false;
        else
          co_await reject(stream, peer,
                          error_response(ErrorCode::validation_failed, "malformed request"),
                          Method::OTHER, {}, t0);
        break;
      }

      BeastRequest& msg = parser.get();
      const unsigned version = msg.version();
      const Method method = to_method(msg.method());
      if (version != 10 && version != 11) {
        Response r = error_response(ErrorCode::validation_failed, "HTTP version not supported");
        r.status = 505;
        co_await reject(stream, peer, std::move(r), method, msg["X-Request-ID"], t0);
        break;
      }
      if (!framing_ok(msg, version)) {
        co_await reject(stream, peer,
                        error_response(ErrorCode::validation_failed, "malformed request"), method,
                        msg["X-Request-ID"], t0);
        break;
      }
      if (!parser.is_done()) {
        if (version == 11 && beast::iequals(msg[bhttp::field::expect], "100-continue")) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          stream.expires_after(opts.body_timeout);
          auto [cec, cn] = co_await asio::async_write(
              stream, asio::buffer(kContinue.data(), kContinue.size()), use_tuple);
          (void)cn;
          if (cec) {
            close_gracefully = false;
            break;
          }
        }
        stream.expires_after(opts.body_timeout);
        auto [bec, bn] = co_await bhttp::async_read(stream, buf, parser, use_tuple);
        (void)bn;
        if (bec) {
          if (bec == bhttp::error::body_limit)
            co_await reject(stream, peer,
                            error_response(ErrorCode::payload_too_large, "request body too large"),
                            method, msg["X-Request-ID"], t0);
          else if (is_disconnect(bec))
            close_gracefully = false;
          else
            co_await reject(stream, peer,
                            error_response(ErrorCode::validation_failed, "malformed request"),
                            method, msg["X-Request-ID"], t0);
          break;
        }
      }

      Request req;
      req.method = method;
      req.target = msg.target();
      req.path = req.target.substr(0, req.target.find('?'));
      req.body = msg.body();
      req.peer_ip = peer;
      req.request_id = request_id_for(msg["X-Request-ID"]);
      // Several Cookie lines are one list (RFC 9113 8.2.3 joins them with "; "): joined, so that a
      // cookie name repeated across lines is seen (SPEC 14) instead of one line being dropped.
      std::string cookie_lines;
      if (msg.count(bhttp::field::cookie) > 1)
        for (auto [it, end] = msg.equal_range(bhttp::field::cookie); it != end; ++it)
          cookie_lines.append(cookie_lines.empty() ? "" : "; ").append(it->value());
      // Any other repeated field yields its last line: that is the one a proxy in front of us
      // appended (X-Forwarded-For), never a client-supplied earlier copy.
      req.header_fn = [&msg, &cookie_lines](std::string_view name) -> std::string_view {
        if (!cookie_lines.empty() && beast::iequals(name, "Cookie")) return cookie_lines;
        std::string_view last;
        for (auto [it, end] = msg.equal_range(name); it != end; ++it) last = it->value();
        return last;
      };

      Response res;
      try {
        res = co_await dispatch(router, cors, req);
      } catch (...) {
        res = error_from_exception(std::current_exception(), req.request_id);
      }

      const bool keep = msg.keep_alive() && !stopping.load(std::memory_order_relaxed);
      out.clear();
      serialize_response(out, res,
                         {.version = static_cast<int>(version),
                          .keep_alive = keep,
                          .head = method == Method::HEAD,
                          .hsts = opts.hsts,
                          .request_id = req.request_id});
      stream.expires_after(opts.body_timeout);
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(out), use_tuple);
      (void)wn;
      record(req, res.status, t0);
      if (wec) {
        close_gracefully = false;
        break;
      }
      if (!keep) break;
      if (out.capacity() > 256 * 1024) std::string().swap(out);  // do not pin a big buffer
    }
  } catch (const std::exception& e) {
    obs::log(obs::Level::error, "http.connection.error", {{"detail", e.what()}, {"ip", peer}});
    close_gracefully = false;
  }
  conn.idle = true;  // lingering: stop() may cut it short
  if (close_gracefully && stream.socket().is_open()) {
    try {
      co_await linger_close(stream);
    } catch (...) {
    }
  }
  conn.stream = nullptr;
  beast::error_code ec;
  stream.socket().close(ec);
}

asio::awaitable<void> Server::Impl::drain(Worker& w) {
  beast::error_code ec;
  if (w.acceptor) w.acceptor->close(ec);
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

uint16_t Server::start() {
  std::lock_guard lock(impl_->mu);
  Impl& I = *impl_;
  if (I.started) return I.port;
  if (!I.opts.tls_cert.empty() || !I.opts.tls_key.empty())
    throw std::runtime_error(
        "native TLS not supported in this build; terminate TLS at a proxy and set "
        "behind_tls_proxy");

  std::string host = I.opts.host;
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

  const int n = std::max(1, I.opts.threads);
  uint16_t port = I.opts.port;
  auto fail = [&](const char* what, const beast::error_code& e) {
    I.workers.clear();
    throw std::runtime_error(std::string("cannot listen on ") + host + ":" + std::to_string(port) +
                             ": " + what + ": " + e.message());
  };
  if (port != 0) {
    // SO_REUSEPORT would let us silently share a port that another process (same user) already
    // listens on; probe with a plain socket first.
    asio::io_context probe_ioc{1};
    tcp::acceptor probe(probe_ioc);
    tcp::endpoint ep(addr, port);
    probe.open(ep.protocol(), ec);
    if (ec) fail("open", ec);
    probe.set_option(asio::socket_base::reuse_address(true), ec);
    probe.bind(ep, ec);
    if (ec) fail("bind", ec);
    probe.close(ec);
  }
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Impl::Worker>();
    tcp::endpoint ep(addr, port);
    w->acceptor.emplace(w->ioc);
    auto& a = *w->acceptor;
    a.open(ep.protocol(), ec);
    if (ec) fail("open", ec);
    a.set_option(asio::socket_base::reuse_address(true), ec);
    a.set_option(reuse_port(true), ec);
    if (ec) fail("SO_REUSEPORT", ec);
    a.bind(ep, ec);
    if (ec) fail("bind", ec);
    a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail("listen", ec);
    if (port == 0) port = a.local_endpoint().port();
    I.workers.push_back(std::move(w));
  }
  I.port = port;
  for (auto& w : I.workers) asio::co_spawn(w->ioc, I.accept_loop(*w), asio::detached);
  if (I.stopping.load())  // stop() came first
    for (auto& w : I.workers) asio::co_spawn(w->ioc, I.drain(*w), asio::detached);

  std::weak_ptr<std::atomic<int>> open = I.open;
  I.metrics.gauge("http_open_connections", "Open HTTP connections.", [open] {
    auto p = open.lock();
    return p ? static_cast<double>(p->load(std::memory_order_relaxed)) : 0.0;
  });
  I.started = true;
  obs::log(obs::Level::info, "http.listening",
           {{"host", addr.to_string()}, {"port", static_cast<int>(port)}, {"threads", n}});
  obs::flush_logs();  // tools wait for this line to learn the port
  return port;
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

}  // namespace sr::http
