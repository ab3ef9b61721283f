// <data_dir>/strongroom.sock: the unix socket through which `strongroom backup` asks the running
// server for a backup and learns how it went. Only the server's own user (and root) may use it: the
// socket is 0600 inside the 0700 data directory, and the peer's uid is checked (SO_PEERCRED).
// One request line, one answer line:
//   "backup\n"  ->  "ok <path>\n" | "error <message>\n"
#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace sr::backup {

std::string control_socket_path(const std::string& data_dir);

class ControlServer {
 public:
  // Answers one command (the request line without its newline) with one line (without newline).
  // Called on the control thread, one connection at a time; it may block (a backup).
  using Handler = std::function<std::string(std::string_view command)>;
  // Binds `path` (replacing a socket file left by a dead server: the caller holds the pid file)
  // and starts the thread. Throws std::runtime_error (e.g. a path longer than a socket address).
  ControlServer(std::string path, Handler handler);
  ~ControlServer();  // stops the thread (after the answer in progress), removes the socket file
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

 private:
  void loop();
  void serve_one(int conn);
  std::string path_;
  Handler handler_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

// Sends one command and returns the answer line. Throws std::runtime_error when no server
// answers on `path`, or none answers within `timeout`.
std::string control_request(const std::string& path, std::string_view command,
                            std::chrono::seconds timeout);

}  // namespace sr::backup
