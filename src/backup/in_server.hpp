// Everything `strongroom serve` does for backups, behind one object: the pid file of the data
// directory, and on SQLite the backup worker (schedule), the control socket and SIGUSR1.
#pragma once
#include <memory>
#include <string_view>

#include "config/config.hpp"

namespace sr::obs {
class Metrics;
}

namespace sr::backup {

class PidFile;
class Worker;
class ControlServer;

class InServer {
 public:
  // Never throws: what cannot be set up is logged, and the server runs without it.
  InServer(const config::Config& cfg, std::string_view dialect, obs::Metrics& metrics);
  ~InServer();  // the control socket, then the worker (finishing a backup), then the pid file
  InServer(const InServer&) = delete;
  InServer& operator=(const InServer&) = delete;

  // SIGUSR1: a backup now (SQLite), or a warning that PostgreSQL has its own tools.
  void on_signal();

 private:
  std::unique_ptr<PidFile> pid_file_;
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<ControlServer> control_;
};

// What `strongroom backup` says on PostgreSQL (it then exits 2).
extern const char* const kPostgresBackupAdvice;

}  // namespace sr::backup
