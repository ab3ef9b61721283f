#include "auth/hash_pool.hpp"

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "util/error.hpp"

namespace sr::auth {
namespace {

// The type-erased completion of one job: resumes the awaiting coroutine on its own executor.
struct Completion {
  virtual ~Completion() = default;
  virtual void complete(std::exception_ptr e) = 0;
};

template <class Handler>
struct CompletionImpl final : Completion {
  explicit CompletionImpl(Handler&& h)
      : handler(std::move(h)),
        // Keeps the caller's io_context from running out of work while the job is away.
        work(boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                 boost::asio::execution::outstanding_work.tracked)) {}

  void complete(std::exception_ptr e) override {
    // Never run the continuation on the pool thread: post it to the handler's executor.
    auto ex = work;
    boost::asio::post(
        ex, [h = std::move(handler), w = std::move(work), e]() mutable { std::move(h)(e); });
  }

  Handler handler;
  std::decay_t<decltype(boost::asio::prefer(
      std::declval<boost::asio::associated_executor_t<Handler>>(),
      boost::asio::execution::outstanding_work.tracked))>
      work;
};

struct Job {
  std::function<void()> fn;
  std::unique_ptr<Completion> done;
};

}  // namespace

struct HashPool::Impl {
  std::size_t max_queue;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> queue;
  std::size_t reserved = 0;  // slots promised to a run() that has not pushed its job yet
  bool stopping = false;
  std::atomic<std::size_t> n_queued{0};
  std::atomic<std::size_t> n_running{0};
  std::vector<std::thread> threads;

  void reserve() {
    std::lock_guard lock(mu);
    if (stopping || queue.size() + reserved >= max_queue) {
      ApiError busy(ErrorCode::unavailable, "Server busy, retry shortly");
      busy.retry_after = 1;
      throw busy;
    }
    ++reserved;
    ++n_queued;
  }

  void push(Job job) {
    {
      std::lock_guard lock(mu);
      --reserved;
      if (!stopping) {
        queue.push_back(std::move(job));
        cv.notify_one();
        return;
      }
      --n_queued;
    }
    job.done->complete(shutdown_error());
  }

  static std::exception_ptr shutdown_error() {
    ApiError e(ErrorCode::unavailable, "Server shutting down");
    e.retry_after = 1;
    return std::make_exception_ptr(e);
  }

  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (stopping) return;  // queued jobs are failed by the destructor
        job = std::move(queue.front());
        queue.pop_front();
        --n_queued;
        ++n_running;
      }
      std::exception_ptr err;
      try {
        job.fn();
      } catch (...) {
        err = std::current_exception();
      }
      job.fn = nullptr;  // release the job's captures on the pool thread, before resuming
      --n_running;
      job.done->complete(err);
    }
  }
};

HashPool::HashPool(int workers, std::size_t max_queue) : impl_(std::make_shared<Impl>()) {
  if (workers < 1) throw std::invalid_argument("HashPool: workers must be >= 1");
  impl_->max_queue = max_queue;
  impl_->threads.reserve(static_cast<std::size_t>(workers));
  try {
    for (int i = 0; i < workers; ++i)
      impl_->threads.emplace_back([impl = impl_.get()] { impl->work(); });
  } catch (...) {
    {
      std::lock_guard lock(impl_->mu);
      impl_->stopping = true;
    }
    impl_->cv.notify_all();
    for (auto& t : impl_->threads) t.join();
    throw;
  }
}

HashPool::~HashPool() {
  std::deque<Job> dropped;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    dropped.swap(impl_->queue);
    impl_->n_queued -= dropped.size();
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->threads) t.join();  // running jobs finish and complete normally
  for (auto& j : dropped) j.done->complete(Impl::shutdown_error());
}

Task<void> HashPool::run(std::function<void()> job) {
  // Reserve a slot first, so that "queue full" is thrown here, in the caller's coroutine.
  impl_->reserve();
  // Named locals, not temporaries inside the co_await expression: g++ 12 destroys some
  // temporaries of a co_await expression twice (GCC PR 101367 and friends).
  auto initiation = [impl = impl_, fn = std::move(job)](auto handler) mutable {
    using H = decltype(handler);
    impl->push(Job{std::move(fn), std::make_unique<CompletionImpl<H>>(std::move(handler))});
  };
  auto op =
      boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(std::exception_ptr)>(
          std::move(initiation), boost::asio::use_awaitable);
  co_await std::move(op);
}

std::size_t HashPool::queued() const {
  return impl_->n_queued.load();
}
std::size_t HashPool::running() const {
  return impl_->n_running.load();
}
int HashPool::workers() const {
  return static_cast<int>(impl_->threads.size());
}

}  // namespace sr::auth
