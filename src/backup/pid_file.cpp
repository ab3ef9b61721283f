#include "backup/pid_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace sr::backup {
namespace {

struct flock whole_file(short type) {
  struct flock l {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  l.l_start = 0;
  l.l_len = 0;
  return l;
}

// The holder's pid as the kernel reports it; from the file's text when the kernel cannot say (a
// holder in another pid namespace reads as 0).
pid_t holder_of(int fd) {
  struct flock l = whole_file(F_WRLCK);
  if (::fcntl(fd, F_GETLK, &l) != 0 || l.l_type == F_UNLCK) return 0;
  if (l.l_pid > 0) return l.l_pid;
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  long v = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
  return v > 0 ? static_cast<pid_t>(v) : -1;  // held, by a process we cannot name
}

}  // namespace

std::string pid_file_path(const std::string& data_dir) {
  return data_dir + "/strongroom.pid";
}

std::unique_ptr<PidFile> PidFile::acquire(const std::string& data_dir, pid_t* holder) {
  const std::string path = pid_file_path(data_dir);
  for (int attempt = 0; attempt < 10; ++attempt) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    struct flock l = whole_file(F_WRLCK);
    if (::fcntl(fd, F_SETLK, &l) != 0) {
      if (errno != EAGAIN && errno != EACCES) {
        int e = errno;
        ::close(fd);
        throw std::runtime_error("cannot lock " + path + ": " + std::strerror(e));
      }
      if (holder) *holder = holder_of(fd);
      ::close(fd);
      return nullptr;
    }
    // The previous owner may have removed the file between our open and our lock: then we hold
    // the lock of a file nobody can find. Start again on the file the path names now.
    struct stat by_fd {
    }, by_path{};
    if (::fstat(fd, &by_fd) != 0 || ::stat(path.c_str(), &by_path) != 0 ||
        by_fd.st_ino != by_path.st_ino || by_fd.st_dev != by_path.st_dev) {
      ::close(fd);
      continue;
    }
    std::string text = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
      int e = errno;
      ::close(fd);
      throw std::runtime_error("cannot write " + path + ": " + std::strerror(e));
    }
    return std::unique_ptr<PidFile>(new PidFile(path, fd));
  }
  throw std::runtime_error("cannot take " + path + ": it keeps being replaced");
}

PidFile::~PidFile() {
  ::unlink(path_.c_str());
  ::close(fd_);
}

std::optional<pid_t> pid_file_holder(const std::string& data_dir) {
  int fd = ::open(pid_file_path(data_dir).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  pid_t p = holder_of(fd);
  ::close(fd);
  if (p == 0) return std::nullopt;
  return p;
}

}  // namespace sr::backup
