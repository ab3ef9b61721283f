// A bounded pool of threads for slow password work (Argon2id). Network threads submit and await;
// they never run a hash. At most `workers` hashes run at once; at most `max_queue` wait; beyond
// that submit() throws ApiError(unavailable) with retry_after = 1.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>

#include "util/task.hpp"

namespace sr::auth {

class HashPool {
 public:
  HashPool(int workers, std::size_t max_queue);
  ~HashPool();  // finishes running jobs, drops queued ones with an error
  // Runs job on a pool thread; the awaiting coroutine resumes on its own executor.
  // Exceptions thrown by job propagate to the awaiter.
  Task<void> run(std::function<void()> job);
  std::size_t queued() const;
  std::size_t running() const;
  int workers() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sr::auth
