// Jobs: a caller's work function and how to complete the caller, run by a storage thread (the
// SQLite writer) or on a fiber of the caller's own thread (PostgreSQL, pg_loop.hpp); and the
// bounded queue the SQLite writer's jobs wait in. A job runs the caller's function against the
// worker's Repository and completes the caller: a coroutine is resumed on its own executor, a
// blocking caller (run_sync) is woken through a promise. Exceptions travel back to the caller
// either way.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "storage/repository.hpp"
#include "util/error.hpp"

namespace sr::storage::detail {

class Job {
 public:
  virtual ~Job() = default;
  // repo is null when the worker could not provide one (error says why); never throws.
  virtual void execute(Repository* repo, std::exception_ptr error) noexcept = 0;
};

using JobPtr = std::unique_ptr<Job>;

// A completion handler's executor, holding its io_context's work: the caller's io_context must not
// run out of work while the caller's database work is away (AsyncJob, PostgreSQL's ReadOp).
template <class Handler>
auto tracked_executor(const Handler& h) {
  return boost::asio::prefer(boost::asio::get_associated_executor(h),
                             boost::asio::execution::outstanding_work.tracked);
}
template <class Handler>
using TrackedExecutor = decltype(tracked_executor(std::declval<const Handler&>()));

template <class Handler>
class AsyncJob final : public Job {
 public:
  AsyncJob(std::function<void(Repository&)> work, Handler handler)
      : work_(std::move(work)),
        handler_(std::move(handler)),
        executor_(tracked_executor(handler_)) {}

  void execute(Repository* repo, std::exception_ptr error) noexcept override {
    if (!error) {
      try {
        work_(*repo);
      } catch (...) {
        error = std::current_exception();
      }
    }
    work_ = nullptr;  // the caller's captures die here, before the caller resumes
    boost::asio::post(executor_,
                      [h = std::move(handler_), error]() mutable { std::move(h)(error); });
  }

 private:
  std::function<void(Repository&)> work_;
  Handler handler_;
  TrackedExecutor<Handler> executor_;
};

class SyncJob final : public Job {
 public:
  explicit SyncJob(const std::function<void(Repository&)>& work) : work_(work) {}
  std::future<void> future() { return done_.get_future(); }
  void execute(Repository* repo, std::exception_ptr error) noexcept override {
    if (!error) {
      try {
        work_(*repo);
      } catch (...) {
        error = std::current_exception();
      }
    }
    if (error)
      done_.set_exception(error);
    else
      done_.set_value();
  }

 private:
  const std::function<void(Repository&)>& work_;
  std::promise<void> done_;
};

// A bounded FIFO of jobs. push() never blocks: when the queue is full or closed the job is failed
// at once with UnavailableError (503), which is what a network thread wants.
class JobQueue {
 public:
  explicit JobQueue(std::size_t capacity) : capacity_(capacity) {}

  void push(JobPtr job) {
    bool closed;
    {
      std::lock_guard lock(mutex_);
      closed = closed_;
      if (!closed && jobs_.size() < capacity_) {
        jobs_.push_back(std::move(job));
        cv_.notify_one();
        return;
      }
    }
    job->execute(nullptr, std::make_exception_ptr(sr::UnavailableError(
                              closed ? "storage is closed" : "storage queue is full")));
  }

  // Blocks until a job is available; nullptr once closed and drained.
  JobPtr pop() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
    if (jobs_.empty()) return nullptr;
    JobPtr j = std::move(jobs_.front());
    jobs_.pop_front();
    return j;
  }

  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    cv_.notify_all();
  }

  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<JobPtr> jobs_;
  std::size_t capacity_;
  bool closed_ = false;
};

// Awaits `work` on whatever thread `queue` feeds; resumes on the awaiting coroutine's executor and
// rethrows the work's exception there.
inline Task<void> await_job(JobQueue& queue, std::function<void(Repository&)> work) {
  co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                       void(std::exception_ptr)>(
      [&queue, &work](auto handler) {
        using H = decltype(handler);
        queue.push(std::make_unique<AsyncJob<H>>(std::move(work), std::move(handler)));
      },
      boost::asio::use_awaitable);
}

// Runs `work` on the queue's thread and blocks the caller until it is done.
inline void run_job_sync(JobQueue& queue, const std::function<void(Repository&)>& work) {
  auto job = std::make_unique<SyncJob>(work);
  auto fut = job->future();
  queue.push(std::move(job));
  fut.get();
}

}  // namespace sr::storage::detail
