// Stackful fibers for the PostgreSQL event loops (Boost.Context). A storage job's work function is
// synchronous (Repository's contract), so it runs on a fiber of the network thread that asked for
// it: where the repository waits for the database, only that fiber is suspended, and the thread
// goes on serving other requests. One thread drives its fibers; nothing here is thread-safe.
#pragma once
#include <boost/context/fiber.hpp>
#include <boost/context/stack_context.hpp>

#include <cstddef>
#include <functional>
#include <vector>

namespace sr::storage::postgres {

// Stacks with a guard page below them (a stack overflow faults instead of corrupting memory),
// kept for reuse: mapping a fresh stack costs system calls, a reused one costs nothing. Only the
// pages a fiber touched count towards memory.
class StackPool {
 public:
  static constexpr std::size_t kStackSize = 256 * 1024;
  explicit StackPool(std::size_t keep) : keep_(keep) {}
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  boost::context::stack_context allocate();
  void deallocate(boost::context::stack_context& sc) noexcept;

 private:
  std::size_t keep_;
  std::vector<boost::context::stack_context> free_;
};

class Fiber {
 public:
  Fiber() = default;
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;
  // A fiber that has started must have finished before it is destroyed (a suspended one is
  // never unwound from outside: see PgLoop's destructor).
  ~Fiber() = default;

  // The fiber running on this thread, or null.
  static Fiber* current() noexcept;

  // Runs body on a stack from pool until it first suspends or returns. body must not throw.
  void start(StackPool& pool, std::function<void()> body);
  // From outside: continues the fiber until it suspends again or returns.
  void resume();
  // From inside: back to whoever resumed it; returns when resumed.
  void suspend();
  bool finished() const noexcept { return started_ && !self_; }

 private:
  friend struct FiberStack;
  boost::context::fiber self_;    // the fiber, while it is suspended
  boost::context::fiber caller_;  // whoever resumed it, while it runs
  bool started_ = false;
  // AddressSanitizer has to be told about every switch of stacks (it tracks the current one);
  // unused in other builds.
  boost::context::stack_context stack_{};
  const void* caller_bottom_ = nullptr;
  std::size_t caller_size_ = 0;
  void* fake_stack_ = nullptr;
};

}  // namespace sr::storage::postgres
