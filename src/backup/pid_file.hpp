// <data_dir>/strongroom.pid: how `strongroom backup` and `strongroom restore` find the server of a
// data directory. The file holds the pid as text, and the server holds an fcntl() write lock on it
// for as long as it runs: the kernel drops the lock when the process dies, however it dies, so a
// file left by a crash (a stale pid, maybe reused by another process) is recognized as stale
// without trusting its contents.
#pragma once
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

namespace sr::backup {

std::string pid_file_path(const std::string& data_dir);

class PidFile {
 public:
  // Writes this process's pid to <data_dir>/strongroom.pid under the lock. Returns nullptr when
  // another live process holds it (its pid in *holder). Throws std::runtime_error when the file
  // cannot be created.
  static std::unique_ptr<PidFile> acquire(const std::string& data_dir, pid_t* holder);
  ~PidFile();  // removes the file, then drops the lock
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

 private:
  PidFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

// The pid of the live process that holds <data_dir>/strongroom.pid, or nullopt when none does
// (no file, or a stale one).
std::optional<pid_t> pid_file_holder(const std::string& data_dir);

}  // namespace sr::backup
