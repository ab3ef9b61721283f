#include "backup/control.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sr::backup {
namespace {

constexpr std::size_t kMaxLine = 4096;
constexpr int kClientIoTimeoutMs = 5000;  // a connected client that says nothing is dropped

sockaddr_un address_of(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path)
    throw std::runtime_error("control socket path too long for a unix socket (" +
                             std::to_string(path.size()) + " bytes, at most " +
                             std::to_string(sizeof a.sun_path - 1) + "): " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

// Reads up to the first newline (not included) before the deadline. False on timeout, EOF before
// a newline, error, or a line longer than kMaxLine.
bool read_line(int fd, std::string& line, std::chrono::steady_clock::time_point deadline) {
  line.clear();
  char buf[256];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 60000)));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) {
      if (rc == 0) continue;
      return false;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') return true;
      line += buf[i];
    }
    if (line.size() > kMaxLine) return false;
  }
}

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::string control_socket_path(const std::string& data_dir) {
  return data_dir + "/strongroom.sock";
}

ControlServer::ControlServer(std::string path, Handler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {
  sockaddr_un a = address_of(path_);
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) fail("control socket");
  ::unlink(path_.c_str());
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::chmod(path_.c_str(), 0600) != 0 || ::listen(listen_fd_, 8) != 0 ||
      ::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(listen_fd_);
    ::unlink(path_.c_str());
    errno = e;
    fail("control socket " + path_);
  }
  thread_ = std::thread([this] { loop(); });
}

ControlServer::~ControlServer() {
  char b = 1;
  (void)!::write(stop_pipe_[1], &b, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
  ::unlink(path_.c_str());
}

void ControlServer::loop() {
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    int conn = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    serve_one(conn);
    ::close(conn);
  }
}

void ControlServer::serve_one(int conn) {
  // The request is read before the peer is judged, so that a refused client is told why instead
  // of finding its connection reset under its request.
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kClientIoTimeoutMs);
  if (!read_line(conn, line, deadline)) return;
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
      (peer.uid != ::geteuid() && peer.uid != 0)) {
    write_all(conn, "error forbidden: only the server's user may ask\n");
    return;
  }
  std::string answer;
  try {
    answer = handler_(line);
  } catch (const std::exception& e) {
    answer = std::string("error ") + e.what();
  }
  for (char& c : answer)
    if (c == '\n' || c == '\r') c = ' ';
  write_all(conn, answer + "\n");
}

std::string control_request(const std::string& path, std::string_view command,
                            std::chrono::seconds timeout) {
  sockaddr_un a = address_of(path);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    fail("cannot connect to " + path);
  }
  std::string answer;
  bool ok = write_all(fd, std::string(command) + "\n") &&
            read_line(fd, answer, std::chrono::steady_clock::now() + timeout);
  ::close(fd);
  if (!ok)
    throw std::runtime_error("no answer from " + path + " within " +
                             std::to_string(timeout.count()) + " s");
  return answer;
}

}  // namespace sr::backup
