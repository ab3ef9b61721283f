// The yardstick of `make bench` (issue 18): the least a server can do per HTTP/1.1 request on this
// machine. N threads, each with its own SO_REUSEPORT listener and edge-triggered epoll; every
// complete request head ("\r\n\r\n") gets one fixed response, pipelined requests are answered in
// one write; keep-alive; no parsing, no allocation per request, no logging. The response carries
// the same bytes as strongroom's `GET /healthz` answer (status line, the SPEC 3 headers, a Date,
// an X-Request-ID, the JSON body), fixed at start, so that a comparison measures work and not
// bytes. It is the ceiling, not a competitor.
//
//   epoll_yardstick PORT [THREADS]     prints "listening PORT" when ready; SIGTERM/SIGINT stop it
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr std::string_view kBody = "{\"status\":\"ok\"}";

std::string make_response() {
  std::string r =
      "HTTP/1.1 200 OK\r\n"
      "Date: Mon, 07 Dec 2026 00:00:00 GMT\r\n"
      "X-Content-Type-Options: nosniff\r\n"
      "X-Frame-Options: DENY\r\n"
      "Referrer-Policy: no-referrer\r\n"
      "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"
      "Cache-Control: no-store\r\n"
      "Cross-Origin-Opener-Policy: same-origin\r\n"
      "Cross-Origin-Resource-Policy: same-origin\r\n"
      "X-XSS-Protection: 0\r\n"
      "X-Request-ID: abcdefghijkl-1a2b\r\n"
      "Content-Type: application/json\r\n"
      "Content-Length: ";
  r += std::to_string(kBody.size());
  r += "\r\n\r\n";
  r += kBody;
  return r;
}

volatile sig_atomic_t g_stop = 0;

int listen_on(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4096) != 0) {
    std::perror("bind/listen");
    std::exit(1);
  }
  return fd;
}

struct Conn {
  int fd;
  std::size_t have = 0;  // bytes of an incomplete request head kept from the last read
  char buf[4096];
};

void close_conn(int ep, Conn* c) {
  ::epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
  ::close(c->fd);
  delete c;
}

// Reads everything available; answers each complete request head. false: close the connection.
bool on_readable(Conn* c, const std::string& response, std::string& out) {
  for (;;) {
    ssize_t n = ::recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == EINTR) continue;
      return false;
    }
    std::string_view data(c->buf, c->have + static_cast<std::size_t>(n));
    out.clear();
    std::size_t pos;
    while ((pos = data.find("\r\n\r\n")) != std::string_view::npos) {
      out += response;
      data.remove_prefix(pos + 4);
    }
    if (data.size() == sizeof c->buf) return false;  // a head larger than the buffer: not ours
    std::memmove(c->buf, data.data(), data.size());
    c->have = data.size();
    std::string_view rest = out;
    while (!rest.empty()) {
      ssize_t w = ::send(c->fd, rest.data(), rest.size(), MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        return false;  // a client that does not read its answers is not this benchmark's case
      }
      rest.remove_prefix(static_cast<std::size_t>(w));
    }
  }
}

void worker(uint16_t port, const std::string& response) {
  const int lfd = listen_on(port);
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the listener
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::vector<epoll_event> events(512);
  std::string out;
  while (!g_stop) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 200);
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      if (!c) {
        for (;;) {
          int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          int one = 1;
          ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto* nc = new Conn{fd};
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
          cev.data.ptr = nc;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      if ((events[i].events & (EPOLLERR | EPOLLHUP)) || !on_readable(c, response, out))
        close_conn(ep, c);
    }
  }
  ::close(ep);
  ::close(lfd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
    return 2;
  }
  const auto port = static_cast<uint16_t>(std::atoi(argv[1]));
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = 1; };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  const std::string response = make_response();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker, port, std::cref(response));
  std::printf("listening %u\n", port);
  std::fflush(stdout);
  for (auto& t : pool) t.join();
  return 0;
}
