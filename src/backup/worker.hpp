// The server's backups: one thread that takes them one at a time, on schedule (backup_interval)
// and on request (SIGUSR1, `strongroom backup` through the control socket); metrics and events.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backup/backup.hpp"

namespace sr::obs {
class Metrics;
}

namespace sr::backup {

struct Outcome {
  bool ok = false;
  std::string path;   // when ok
  std::string error;  // when not
};

class Worker {
 public:
  // interval_s: seconds between scheduled backups, 0 for none. The first one is due interval_s
  // after the newest backup already in target.dir (at once when there is none), so that restarts
  // do not postpone backups for ever.
  Worker(Target target, int64_t interval_s, obs::Metrics& metrics);
  ~Worker();  // finishes the backup in progress; requests not started yet fail
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // A backup that starts after this call: every write acknowledged before it is in the copy.
  // Requests that arrive while one runs share the next one. Returns at once.
  std::shared_future<Outcome> request(std::string trigger);

 private:
  struct Pending {
    std::string trigger;
    std::promise<Outcome> promise;
  };
  void loop();
  Outcome run_once(const std::string& trigger);

  const Target target_;
  const std::chrono::seconds interval_;
  obs::Metrics& metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending> pending_;
  std::optional<std::chrono::steady_clock::time_point> due_;
  bool stop_ = false;
  std::atomic<double> last_success_{0};
  std::thread thread_;
};

}  // namespace sr::backup
