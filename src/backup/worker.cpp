#include "backup/worker.hpp"

#include "observability/log.hpp"
#include "observability/metrics.hpp"

namespace sr::backup {
namespace {

// After a failure the schedule tries again sooner than a whole interval later.
constexpr std::chrono::seconds kRetryAfterFailure{600};

}  // namespace

Worker::Worker(Target target, int64_t interval_s, obs::Metrics& metrics)
    : target_(std::move(target)), interval_(interval_s), metrics_(metrics) {
  std::optional<std::time_t> newest;
  try {
    newest = newest_backup(target_.dir);
  } catch (const std::exception&) {
    // An unreadable backup_dir: the first backup will say why.
  }
  if (newest) last_success_ = static_cast<double>(*newest);
  if (interval_.count() > 0) {
    std::time_t now = std::time(nullptr);
    auto wait = newest ? std::max<std::time_t>(0, *newest + interval_.count() - now) : 0;
    due_ = std::chrono::steady_clock::now() + std::chrono::seconds(wait);
  }
  metrics_.gauge("strongroom_backup_last_success_timestamp_seconds",
                 "Unix time of the newest successful backup (0: none yet)",
                 [this] { return last_success_.load(); });
  metrics_.inc("strongroom_backup_failures_total", {}, 0);  // exported as 0 from the start
  thread_ = std::thread([this] { loop(); });
}

Worker::~Worker() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  metrics_.gauge("strongroom_backup_last_success_timestamp_seconds",
                 "Unix time of the newest successful backup (0: none yet)",
                 [v = last_success_.load()] { return v; });
}

std::shared_future<Outcome> Worker::request(std::string trigger) {
  std::lock_guard lk(mu_);
  Pending p{std::move(trigger), {}};
  auto f = p.promise.get_future().share();
  if (stop_) {
    p.promise.set_value({false, "", "the server is stopping"});
    return f;
  }
  pending_.push_back(std::move(p));
  cv_.notify_all();
  return f;
}

void Worker::loop() {
  std::unique_lock lk(mu_);
  auto woken = [this] { return stop_ || !pending_.empty(); };
  while (!stop_) {
    if (due_)
      cv_.wait_until(lk, *due_, woken);
    else
      cv_.wait(lk, woken);
    if (stop_) break;
    if (pending_.empty() && (!due_ || std::chrono::steady_clock::now() < *due_)) continue;
    std::vector<Pending> batch = std::move(pending_);
    pending_.clear();
    std::string trigger = batch.empty() ? "schedule" : batch.front().trigger;
    lk.unlock();
    Outcome out = run_once(trigger);
    lk.lock();
    for (auto& p : batch) p.promise.set_value(out);
    if (interval_.count() > 0)
      due_ = std::chrono::steady_clock::now() +
             (out.ok ? interval_ : std::min(interval_, kRetryAfterFailure));
  }
  for (auto& p : pending_) p.promise.set_value({false, "", "the server is stopping"});
  pending_.clear();
}

Outcome Worker::run_once(const std::string& trigger) {
  try {
    Made m = make_backup(target_);
    last_success_ = static_cast<double>(std::time(nullptr));
    obs::log(obs::Level::info, "backup.created",
             {{"path", m.path},
              {"bytes", m.bytes},
              {"duration_ms", m.millis},
              {"schema_version", m.schema_version},
              {"removed", m.removed},
              {"trigger", trigger}});
    return {true, m.path, ""};
  } catch (const std::exception& e) {
    metrics_.inc("strongroom_backup_failures_total");
    obs::log(obs::Level::error, "backup.failed", {{"trigger", trigger}, {"detail", e.what()}});
    return {false, "", e.what()};
  }
}

}  // namespace sr::backup
