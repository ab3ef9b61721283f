// The HTTP/1.1 server: one io_context per thread, each with its own SO_REUSEPORT acceptor; one
// coroutine per connection (read -> handle -> write -> repeat) with limits set on the parser
// before reading. Applies to every response: X-Request-ID, the SPEC section 3 security headers,
// CORS, the error body of SPEC section 2, the access log line and request metrics.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/router.hpp"
#include "observability/metrics.hpp"

namespace sr::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: the kernel picks; start() returns the chosen port
  int threads = 1;
  int max_connections = 10000;  // beyond: new connections are closed at once
  // Beyond this many from one address (IPv6: one /64), its new connections are closed at once;
  // 0: no such cap. Addresses for which per_ip_exempt says true (trusted proxies) are exempt.
  int max_connections_per_ip = 256;
  std::function<bool(std::string_view ip)> per_ip_exempt;
  // The client's address for the access log when a request carries X-Forwarded-For (the api
  // layer's rule: believed only from trusted proxies); unset: the socket peer is logged.
  std::function<std::string(std::string_view peer, std::string_view forwarded_for)> client_ip;
  // Descriptors kept for everything but connections (database, logs, acceptors...): when the
  // open-file limit cannot hold max_connections plus these, fewer connections are admitted.
  int fd_headroom = 128;
  std::size_t header_limit = 16 * 1024;  // 431 beyond
  std::size_t body_limit = 64 * 1024;    // 413 beyond
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds body_timeout{30};
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds shutdown_grace{10};
  std::vector<std::string> cors_origins;  // exact origins
  bool hsts = false;                      // send Strict-Transport-Security (cookies Secure)
  std::string tls_cert, tls_key;          // native TLS (HTTPS only) when both set
  // With TLS: a plain-HTTP listener answering every request with 308 to the HTTPS origin
  // (http/redirect.hpp). Empty host: none. Port 0: the kernel picks (redirect_port()).
  std::string redirect_host;
  uint16_t redirect_port = 0;
};

class Server {
 public:
  Server(ServerOptions opts, const Router& router, obs::Metrics& metrics);
  ~Server();
  // Raises the open-file limit as far as allowed (a warning event when it stays below
  // max_connections + fd_headroom, and the cap is lowered to fit), loads the TLS pair, binds
  // every acceptor; returns the bound port. Throws std::runtime_error on failure.
  uint16_t start();
  // Runs the io_contexts on `threads` threads; returns after stop() has drained connections.
  void run();
  // Graceful: stop accepting, let in-flight requests finish (<= shutdown_grace), then return from
  // run(). Safe from a signal-handling thread.
  void stop();
  int open_connections() const;
  // The cap in force: max_connections, or less when the open-file limit is lower (see start()).
  int max_connections() const;
  // The redirect listener's bound port (0 without one), valid after start().
  uint16_t redirect_port() const;
  // Re-reads tls_cert and tls_key (SIGHUP): new handshakes use the new pair, live connections keep
  // theirs. A pair that does not load is refused and logged (tls.reload_failed), and the old one
  // stays. Returns whether the new pair is in use; false without TLS. Thread-safe.
  bool reload_tls();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sr::http
