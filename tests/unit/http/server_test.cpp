// The server over real loopback sockets, with a raw client that can send anything.
#include "http/server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "http/dispatch.hpp"
#include "observability/log.hpp"

namespace sr::http {
namespace {

using namespace std::chrono_literals;

// --- a raw HTTP/1.1 client -------------------------------------------------------------------

struct HttpResponse {
  int status = 0;
  std::string version;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? "" : it->second;
  }
  bool has(const std::string& lower) const { return headers.count(lower) > 0; }
};

class Client {
 public:
  // From `source` (e.g. "127.0.0.2", another loopback address) when given.
  explicit Client(uint16_t port, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (source) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &from.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int one = 1;
    if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads more bytes into buf_ (waits at most `timeout`). false on EOF, error or timeout.
  bool fill(std::chrono::milliseconds timeout = 5000ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  // One response (Content-Length framed; `head`: no body expected).
  std::optional<HttpResponse> read_response(bool head = false,
                                            std::chrono::milliseconds timeout = 5000ms) {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill(timeout)) return std::nullopt;
    HttpResponse r;
    std::string head_block = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    std::size_t line_end = head_block.find("\r\n");
    std::string status_line = head_block.substr(0, line_end);
    r.version = status_line.substr(0, 8);
    r.status = std::atoi(status_line.c_str() + 9);
    std::size_t pos = line_end == std::string::npos ? head_block.size() : line_end + 2;
    while (pos < head_block.size()) {
      std::size_t e = head_block.find("\r\n", pos);
      if (e == std::string::npos) e = head_block.size();
      std::string line = head_block.substr(pos, e - pos);
      auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers.emplace(name, value);
      pos = e + 2;
    }
    std::size_t len = head ? 0 : std::strtoul(r.header("content-length").c_str(), nullptr, 10);
    while (buf_.size() < len)
      if (!fill(timeout)) return std::nullopt;
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }
  // True when the server closes the connection (EOF or reset) within `timeout`.
  bool closed_by_peer(std::chrono::milliseconds timeout = 3000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return true;
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
    return false;
  }
  const std::string& pending() const { return buf_; }
  // A chunked body after read_response(head=true) took the head: the chunks' data, or nullopt
  // when the connection ends before the last chunk.
  std::optional<std::string> read_chunked(std::chrono::milliseconds timeout = 5000ms) {
    std::string body;
    for (;;) {
      std::size_t eol;
      while ((eol = buf_.find("\r\n")) == std::string::npos)
        if (!fill(timeout)) return std::nullopt;
      const std::size_t size = std::strtoul(buf_.c_str(), nullptr, 16);
      while (buf_.size() < eol + 2 + size + 2)
        if (!fill(timeout)) return std::nullopt;
      EXPECT_EQ(buf_.substr(eol + 2 + size, 2), "\r\n");
      body += buf_.substr(eol + 2, size);
      buf_.erase(0, eol + 2 + size + 2);
      if (size == 0) return body;
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

std::string get(std::string_view path, std::string_view extra = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

// --- the server under test -------------------------------------------------------------------

Router make_router() {
  Router r;
  r.add(Method::GET, "/healthz",
        [](Request&) -> Task<Response> { co_return Response::json(200, "{\"status\":\"ok\"}"); });
  r.add(Method::GET, "/echo/{id}", [](Request& q) -> Task<Response> {
    co_return Response::json(200, "{\"id\":\"" + std::string(q.param("id")) + "\"}");
  });
  r.add(Method::POST, "/echo", [](Request& q) -> Task<Response> {
    Response res = Response::json(200, std::string(q.body));
    res.headers.emplace_back("X-Seen-Type", std::string(q.header("content-type")));
    co_return res;
  });
  r.add(Method::GET, "/slow", [](Request&) -> Task<Response> {
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, 400ms);
    co_await t.async_wait(boost::asio::use_awaitable);
    co_return Response::json(200, "{\"slow\":true}");
  });
  r.add(Method::GET, "/throw", [](Request&) -> Task<Response> {
    throw std::runtime_error("password=hunter2 leaked");
    co_return Response{};
  });
  r.add(Method::GET, "/cookie", [](Request&) -> Task<Response> {
    Response res = Response::json(200, "{}");
    res.set_cookies.push_back("a=1; Path=/; HttpOnly");
    res.set_cookies.push_back("b=2; Path=/auth; HttpOnly");
    co_return res;
  });
  // n bytes of body (n > 16 KiB: sent from its own buffer, not behind the head).
  r.add(Method::GET, "/big/{n}", [](Request& q) -> Task<Response> {
    std::string body(std::stoul(std::string(q.param("n"))), 'b');
    for (std::size_t i = 0; i < body.size(); i += 1000) body[i] = static_cast<char>('0' + i % 7);
    co_return Response::json(200, std::move(body));
  });
  // "[" then n pieces of 40,000 bytes each (their index in every byte), "]"; `fail` throws after
  // the second piece.
  const auto pieces = [](int n, bool fail) {
    return [n, fail](Request&) -> Task<Response> {
      Response res = Response::json(200, "[");
      auto made = std::make_shared<int>(0);
      res.more = [n, fail, made](std::string& out) -> Task<bool> {
        if (fail && *made == 2) throw std::runtime_error("a piece failed");
        out.assign(40000, static_cast<char>('a' + (*made)++));
        if (*made < n) co_return true;
        out += ']';
        co_return false;
      };
      co_return res;
    };
  };
  r.add(Method::GET, "/pieces", pieces(5, false));
  r.add(Method::GET, "/pieces-fail", pieces(5, true));
  r.add(Method::PUT, "/personal/handbook",
        [](Request&) -> Task<Response> { co_return Response::json(200, "{}"); });
  return r;
}

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    if (o.cors_origins.empty()) o.cors_origins = {"http://app.example"};
    server_.emplace(std::move(o), router_, metrics_);
    port_ = server_->start();
    thread_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  void expect_security_headers(const HttpResponse& r) {
    EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
    EXPECT_EQ(r.header("x-frame-options"), "DENY");
    EXPECT_EQ(r.header("referrer-policy"), "no-referrer");
    EXPECT_EQ(r.header("content-security-policy"), "default-src 'none'; frame-ancestors 'none'");
    EXPECT_EQ(r.header("cache-control"), "no-store");
    EXPECT_EQ(r.header("cross-origin-opener-policy"), "same-origin");
    EXPECT_EQ(r.header("cross-origin-resource-policy"), "same-origin");
    EXPECT_EQ(r.header("x-xss-protection"), "0");
    EXPECT_FALSE(r.has("server"));
    EXPECT_TRUE(request_id_is_sane(r.header("x-request-id")));
  }
  std::string code_of(const HttpResponse& r) {
    return std::string(boost::json::parse(r.body).at("code").as_string());
  }
  // Sends raw bytes, expects one error response and then the connection closed.
  HttpResponse expect_refused(std::string_view raw, int status) {
    Client c(port_);
    EXPECT_TRUE(c.send(raw));
    auto r = c.read_response();
    EXPECT_TRUE(r) << "no response to: " << raw.substr(0, 80);
    if (!r) return {};
    EXPECT_EQ(r->status, status);
    EXPECT_EQ(r->header("connection"), "close");
    expect_security_headers(*r);
    EXPECT_TRUE(c.closed_by_peer());
    still_healthy();
    return *r;
  }
  void still_healthy() {
    Client c(port_);
    ASSERT_TRUE(c.send(get("/healthz")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }

  Router router_ = make_router();
  obs::Metrics metrics_;
  std::optional<Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

TEST_F(ServerTest, PipelinedRequestsAnsweredInOrder) {
  start({.threads = 2});
  Client c(port_);
  std::string batch;
  for (int i = 1; i <= 20; ++i) batch += get("/echo/" + std::to_string(i));
  batch += "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
  batch +=
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
      "Content-Length: 7\r\n\r\n{\"a\":1}";
  batch += get("/echo/last");
  ASSERT_TRUE(c.send(batch));
  for (int i = 1; i <= 20; ++i) {
    auto r = c.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "{\"id\":\"" + std::to_string(i) + "\"}");
  }
  auto head = c.read_response(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), "15");  // the GET body's length, no body sent
  auto post = c.read_response();
  ASSERT_TRUE(post);
  EXPECT_EQ(post->body, "{\"a\":1}");
  EXPECT_EQ(post->header("x-seen-type"), "application/json");
  auto last = c.read_response();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->body, "{\"id\":\"last\"}");
  EXPECT_FALSE(last->has("connection"));  // still keep-alive
}

std::string expected_pieces(int n) {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += std::string(40000, static_cast<char>('a' + i));
  return s + "]";
}

TEST_F(ServerTest, LargeBodiesAndBodiesInPiecesArriveWholeWhenPipelined) {
  start({.threads = 1});
  Client c(port_);
  ASSERT_TRUE(c.send(get("/big/100000") + get("/pieces") + get("/big/20") + get("/pieces") +
                     "HEAD /pieces HTTP/1.1\r\nHost: t\r\n\r\n" + get("/echo/last")));
  auto big = c.read_response();
  ASSERT_TRUE(big);
  EXPECT_EQ(big->header("content-length"), "100000");
  ASSERT_EQ(big->body.size(), 100000u);
  EXPECT_EQ(big->body.substr(0, 3), "0bb");
  EXPECT_EQ(big->body[7000], '0');
  EXPECT_EQ(big->body[99999], 'b');
  for (int round = 0; round < 2; ++round) {
    auto head = c.read_response(/*head=*/true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->header("transfer-encoding"), "chunked");
    EXPECT_FALSE(head->has("content-length"));
    expect_security_headers(*head);
    EXPECT_EQ(c.read_chunked(), expected_pieces(5)) << round;
    if (round == 0) {
      auto small = c.read_response();
      ASSERT_TRUE(small);
      EXPECT_EQ(small->body.size(), 20u);
    }
  }
  auto head_only = c.read_response(/*head=*/true);
  ASSERT_TRUE(head_only);
  EXPECT_EQ(head_only->header("transfer-encoding"), "chunked");
  auto last = c.read_response();
  ASSERT_TRUE(last) << "HEAD sent no body: the next answer follows at once";
  EXPECT_EQ(last->body, "{\"id\":\"last\"}");
}

TEST_F(ServerTest, BodyInPiecesOnHttp10EndsWithTheConnection) {
  start({.threads = 1});
  Client c(port_);
  ASSERT_TRUE(c.send("GET /pieces HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto head = c.read_response(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->version, "HTTP/1.0");
  EXPECT_FALSE(head->has("transfer-encoding"));
  EXPECT_FALSE(head->has("content-length"));
  EXPECT_EQ(head->header("connection"), "close");
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(c.pending(), expected_pieces(5));
}

TEST_F(ServerTest, APieceThatFailsCutsTheAnswerShort) {
  start({.threads = 1});
  Client c(port_);
  ASSERT_TRUE(c.send(get("/pieces-fail")));
  auto head = c.read_response(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_FALSE(c.read_chunked()) << "no last chunk: the client sees the answer cut short";
  EXPECT_TRUE(c.closed_by_peer());
  still_healthy();
}

TEST_F(ServerTest, RequestIdEchoedOrGenerated) {
  start();
  Client c(port_);
  ASSERT_TRUE(c.send(get("/healthz", "X-Request-ID: abc.DEF-123_x\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-request-id"), "abc.DEF-123_x");
  ASSERT_TRUE(c.send(get("/healthz", "X-Request-ID: bad id<script>\r\n")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_NE(r->header("x-request-id"), "bad id<script>");
  EXPECT_TRUE(request_id_is_sane(r->header("x-request-id")));
}

TEST_F(ServerTest, ErrorsCarrySecurityHeadersAndJson) {
  start();
  Client c(port_);
  ASSERT_TRUE(c.send(get("/nope?x=1")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(code_of(*r), "not_found");
  expect_security_headers(*r);

  ASSERT_TRUE(c.send("DELETE /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD, OPTIONS");
  EXPECT_EQ(code_of(*r), "method_not_allowed");
  expect_security_headers(*r);

  ASSERT_TRUE(c.send(get("/throw")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(code_of(*r), "internal");
  EXPECT_EQ(r->body.find("hunter2"), std::string::npos);
  expect_security_headers(*r);

  ASSERT_TRUE(c.send(get("/cookie")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->headers.count("set-cookie"), 2u);
}

TEST_F(ServerTest, HstsOnlyWhenConfigured) {
  start({.hsts = true});
  Client c(port_);
  ASSERT_TRUE(c.send(get("/healthz")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("strict-transport-security"), "max-age=31536000; includeSubDomains");
}

TEST_F(ServerTest, Cors) {
  start();
  Client c(port_);
  ASSERT_TRUE(c.send(get("/healthz", "Origin: http://app.example\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("access-control-allow-origin"), "http://app.example");
  EXPECT_EQ(r->header("access-control-allow-credentials"), "true");
  EXPECT_EQ(r->header("vary"), "Origin");

  ASSERT_TRUE(c.send(get("/healthz", "Origin: http://evil.example\r\n")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has("access-control-allow-origin"));
  EXPECT_FALSE(r->has("access-control-allow-credentials"));

  ASSERT_TRUE(
      c.send("OPTIONS /personal/handbook HTTP/1.1\r\nHost: t\r\nOrigin: "
             "http://app.example\r\nAccess-Control-Request-Method: PUT\r\n"
             "Access-Control-Request-Headers: content-type, x-csrf-token\r\n\r\n"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("access-control-allow-methods"), "PUT, OPTIONS");
  EXPECT_EQ(r->header("access-control-allow-headers"),
            "Content-Type, X-CSRF-TOKEN, X-Request-ID, Authorization, X-Vault-Token");
  EXPECT_EQ(r->header("access-control-max-age"), "3600");
  expect_security_headers(*r);

  ASSERT_TRUE(
      c.send("OPTIONS /unknown HTTP/1.1\r\nHost: t\r\nOrigin: http://app.example\r\n"
             "Access-Control-Request-Method: PUT\r\n\r\n"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(ServerTest, OversizedHeaderIs431) {
  start();
  auto r = expect_refused(get("/healthz", "X-Big: " + std::string(17 * 1024, 'a') + "\r\n"), 431);
  EXPECT_EQ(code_of(r), "payload_too_large");
}

TEST_F(ServerTest, OversizedContentLengthIs413WithoutReadingBody) {
  start();
  auto t0 = std::chrono::steady_clock::now();
  auto r = expect_refused(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
      "Content-Length: 70000\r\n\r\n",
      413);
  EXPECT_EQ(code_of(r), "payload_too_large");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);  // not waiting for the body timeout
}

TEST_F(ServerTest, OversizedChunkedBodyIs413) {
  start();
  std::string chunk(40000, 'x');
  char size[16];
  std::snprintf(size, sizeof size, "%zx", chunk.size());
  std::string raw = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  raw += std::string(size) + "\r\n" + chunk + "\r\n" + std::string(size) + "\r\n" + chunk +
         "\r\n0\r\n\r\n";
  auto r = expect_refused(raw, 413);
  EXPECT_EQ(code_of(r), "payload_too_large");
}

TEST_F(ServerTest, SmallChunkedBodyAccepted) {
  start();
  Client c(port_);
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3\r\n{\"a\r\n4\r\n\":2}\r\n0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"a\":2}");
}

TEST_F(ServerTest, SmugglingAndMalformedFramingRefused) {
  start();
  // Content-Length together with Transfer-Encoding, in both orders.
  expect_refused(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400);
  expect_refused(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
      "Content-Length: 5\r\n\r\n0\r\n\r\n",
      400);
  // Repeated Content-Length, even with equal values, and list values.
  expect_refused(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n"
      "\r\n{}",
      400);
  expect_refused("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2, 2\r\n\r\n{}", 400);
  expect_refused(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 3\r\n"
      "\r\n{}",
      400);
  expect_refused("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +2\r\n\r\n{}", 400);
  expect_refused("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n{}", 400);
  // Transfer-Encoding other than exactly chunked.
  auto r = expect_refused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
  EXPECT_EQ(code_of(r), "validation_failed");
  expect_refused(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
      "0\r\n\r\n",
      400);
  expect_refused(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400);
  expect_refused("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
  // HTTP/1.1 without Host, or with two.
  expect_refused("GET /healthz HTTP/1.1\r\n\r\n", 400);
  expect_refused("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
}

TEST_F(ServerTest, BadVersionsAndGarbageRefused) {
  start();
  auto r = expect_refused("GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", 505);
  EXPECT_EQ(code_of(r), "validation_failed");
  expect_refused("GET /healthz HTTP/0.9\r\nHost: t\r\n\r\n", 505);
  expect_refused("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
  expect_refused("GET /healthz HTTP/1.1 extra\r\nHost: t\r\n\r\n", 400);
  expect_refused(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15), 400);
  expect_refused(std::string("GET /\0 HTTP/1.1\r\nHost: t\r\n\r\n", 27), 400);
  expect_refused("GET /healthz HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n", 400);
  expect_refused("GET /healthz HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n", 400);
  expect_refused("garbage garbage garbage\r\n\r\n", 400);
}

TEST_F(ServerTest, Http10ClosesUnlessKeepAlive) {
  start();
  {
    Client c(port_);
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->version, "HTTP/1.0");
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    Client c(port_);
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), "keep-alive");
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    EXPECT_TRUE(c.read_response());
  }
}

TEST_F(ServerTest, ExpectContinue) {
  start();
  Client c(port_);
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto interim = c.read_response(/*head=*/true);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("{}"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{}");
}

TEST_F(ServerTest, SlowHeaderTimesOut) {
  start({.header_timeout = std::chrono::seconds(1)});
  Client c(port_);
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: t\r\n"));  // never finished
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer(4000ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 800ms);
  Client idle(port_);  // a connection that never sends a byte
  EXPECT_TRUE(idle.closed_by_peer(4000ms));
}

TEST_F(ServerTest, MaxConnections) {
  start({.threads = 1, .max_connections = 2});
  Client a(port_), b(port_);
  ASSERT_TRUE(a.send(get("/healthz")));
  ASSERT_TRUE(a.read_response());
  ASSERT_TRUE(b.send(get("/healthz")));
  ASSERT_TRUE(b.read_response());
  EXPECT_EQ(server_->open_connections(), 2);
  {
    Client extra(port_);
    ASSERT_TRUE(extra.connected());  // the kernel accepts; the server closes it at once
    extra.send(get("/healthz"));
    EXPECT_TRUE(extra.closed_by_peer(2000ms));
    EXPECT_EQ(extra.pending(), "");
  }
  // The existing connections are still served.
  ASSERT_TRUE(a.send(get("/healthz")));
  EXPECT_TRUE(a.read_response());
}

TEST_F(ServerTest, MaxConnectionsPerAddress) {
  start({.threads = 2,
         .max_connections = 10,
         .max_connections_per_ip = 2,
         .per_ip_exempt = [](std::string_view ip) { return ip == "127.0.0.3"; }});
  auto a = std::make_unique<Client>(port_, "127.0.0.2");
  Client b(port_, "127.0.0.2");
  for (Client* c : {a.get(), &b}) {
    ASSERT_TRUE(c->send(get("/healthz")));
    ASSERT_TRUE(c->read_response());
  }
  {
    Client third(port_, "127.0.0.2");  // over its address's share: closed at once, unanswered
    ASSERT_TRUE(third.connected());
    third.send(get("/healthz"));
    EXPECT_TRUE(third.closed_by_peer(2000ms));
    EXPECT_EQ(third.pending(), "");
  }
  Client other(port_, "127.0.0.4");  // another address is served
  ASSERT_TRUE(other.send(get("/healthz")));
  EXPECT_TRUE(other.read_response());
  std::vector<std::unique_ptr<Client>> proxy;  // exempt: more than the share
  for (int i = 0; i < 4; ++i) {
    proxy.push_back(std::make_unique<Client>(port_, "127.0.0.3"));
    ASSERT_TRUE(proxy.back()->send(get("/healthz")));
    EXPECT_TRUE(proxy.back()->read_response()) << i;
  }
  EXPECT_NE(metrics_.render().find(
                "http_connections_rejected_total{reason=\"max_connections_per_ip\"} 1"),
            std::string::npos);
  // A closed connection gives its address's slot back.
  a.reset();
  for (int i = 0; i < 100; ++i) {
    Client again(port_, "127.0.0.2");
    if (again.send(get("/healthz")) && again.read_response(false, 500ms)) return;
    std::this_thread::sleep_for(20ms);
  }
  FAIL() << "the slot of a closed connection was not given back";
}

TEST_F(ServerTest, MaxConnectionsSlotIsFreed) {
  start({.threads = 1, .max_connections = 1});
  {
    Client a(port_);
    ASSERT_TRUE(a.send(get("/healthz")));
    ASSERT_TRUE(a.read_response());
  }
  for (int i = 0; i < 100 && server_->open_connections() != 0; ++i)
    std::this_thread::sleep_for(20ms);
  Client b(port_);
  ASSERT_TRUE(b.send(get("/healthz")));
  auto r = b.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, GracefulStopFinishesInFlightRequest) {
  start({.threads = 2, .shutdown_grace = std::chrono::seconds(5)});
  Client idle(port_);
  ASSERT_TRUE(idle.send(get("/healthz")));
  ASSERT_TRUE(idle.read_response());
  Client busy(port_);
  ASSERT_TRUE(busy.send(get("/slow")));
  std::this_thread::sleep_for(100ms);  // the handler is now waiting on its timer
  auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  auto r = busy.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"slow\":true}");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(idle.closed_by_peer(2000ms));
  thread_.join();  // run() returned
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  Client late(port_);
  EXPECT_FALSE(late.connected() && late.send(get("/healthz")) && late.read_response(false, 500ms));
}

TEST_F(ServerTest, StopBoundedByGrace) {
  Router r;
  r.add(Method::GET, "/forever", [](Request&) -> Task<Response> {
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, 60s);
    co_await t.async_wait(boost::asio::use_awaitable);
    co_return Response::json(200, "{}");
  });
  router_ = std::move(r);
  start({.shutdown_grace = std::chrono::seconds(1)});
  Client c(port_);
  ASSERT_TRUE(c.send(get("/forever")));
  std::this_thread::sleep_for(100ms);
  auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  thread_.join();
  auto dt = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(dt, 900ms);
  EXPECT_LT(dt, 3s);
}

TEST_F(ServerTest, MetricsCountRequests) {
  start();
  Client c(port_);
  ASSERT_TRUE(c.send(get("/echo/1") + get("/nope")));
  ASSERT_TRUE(c.read_response());
  ASSERT_TRUE(c.read_response());
  // The metric is recorded after the write; give the server a moment.
  std::string text;
  for (int i = 0; i < 50; ++i) {
    text = metrics_.render();
    if (text.find("route=\"unmatched\"") != std::string::npos) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(text.find("http_requests_total{route=\"/echo/{id}\",method=\"GET\",status=\"200\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("http_open_connections 1"), std::string::npos) << text;
}

TEST_F(ServerTest, PortInUseIsAnError) {
  start();
  ServerOptions o;
  o.port = port_;
  Server s(o, router_, metrics_);
  EXPECT_THROW(s.start(), std::runtime_error);
}

TEST(ServerIpv6, ServesOnLoopbackV6) {
  Router r = make_router();
  obs::Metrics m;
  Server s({.host = "::1", .port = 0}, r, m);
  uint16_t port;
  try {
    port = s.start();
  } catch (const std::exception& e) {
    // Not a silent skip: only an explicit opt-out lets a machine without ::1 pass.
    const char* allow = std::getenv("SR_TEST_ALLOW_NO_IPV6");
    if (allow && std::string(allow) == "1") GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
    FAIL() << "no IPv6 loopback here (SR_TEST_ALLOW_NO_IPV6=1 skips this): " << e.what();
  }
  std::thread t([&] { s.run(); });
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  std::string req = get("/healthz");
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  char buf[2048];
  pollfd p{fd, POLLIN, 0};
  ASSERT_GT(::poll(&p, 1, 5000), 0);
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 12);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 200");
  ::close(fd);
  s.stop();
  t.join();
}

// Not a test: `test_http --gtest_also_run_disabled_tests --gtest_filter=*ServeForBenchmark`
// serves /healthz on SR_BENCH_PORT (default 18080) for SR_BENCH_SECONDS (default 60) with
// SR_BENCH_THREADS threads, for bench/http_bench.sh.
TEST(Bench, DISABLED_ServeForBenchmark) {
  Router r;
  r.add(Method::GET, "/healthz",
        [](Request&) -> Task<Response> { co_return Response::json(200, "{\"status\":\"ok\"}"); });
  obs::Metrics m;
  auto env = [](const char* k, int d) {
    const char* v = std::getenv(k);
    return v ? std::atoi(v) : d;
  };
  // The production path: async JSON lines on stdout (SR_BENCH_QUIET=1: warn and above only, to
  // measure what the access log costs).
  obs::init_logging({.min_level = env("SR_BENCH_QUIET", 0) ? obs::Level::warn : obs::Level::info});
  Server s({.port = static_cast<uint16_t>(env("SR_BENCH_PORT", 18080)),
            .threads = env("SR_BENCH_THREADS", 2)},
           r, m);
  s.start();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::seconds(env("SR_BENCH_SECONDS", 60)));
    s.stop();
  });
  s.run();
  stopper.join();
  obs::shutdown_logging();
}

}  // namespace
}  // namespace sr::http
