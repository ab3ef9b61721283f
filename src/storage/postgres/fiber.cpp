#include "storage/postgres/fiber.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <new>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define SR_ASAN_FIBERS 1
#endif

namespace sr::storage::postgres {

namespace {

thread_local Fiber* tls_current = nullptr;

std::size_t page_size() {
  static const std::size_t p = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return p;
}

void unmap(const boost::context::stack_context& sc) noexcept {
  ::munmap(static_cast<char*>(sc.sp) - sc.size - page_size(), sc.size + page_size());
}

// Stack switches, told to AddressSanitizer when it is on (it keeps the bounds of the current
// stack; without this it reports false errors on the fibers' stacks).
#if SR_ASAN_FIBERS
void leaving(void** fake, const void* to_bottom, std::size_t to_size) {
  __sanitizer_start_switch_fiber(fake, to_bottom, to_size);
}
void arrived(void* fake, const void** from_bottom, std::size_t* from_size) {
  __sanitizer_finish_switch_fiber(fake, from_bottom, from_size);
}
// The frames that lived on a stack leave their redzones poisoned: the fiber's first frames never
// return (the fiber ends by switching away). The shadow outlives the stack, and munmap does not
// clear it: without this, the next fiber on the stack, or whatever is mapped there later (SQLite's
// WAL did), would be reported as overflowing a stack.
void forget_poison(const boost::context::stack_context& sc) noexcept {
  __asan_unpoison_memory_region(static_cast<char*>(sc.sp) - sc.size, sc.size);
}
#else
void leaving(void**, const void*, std::size_t) {}
void arrived(void*, const void**, std::size_t*) {}
void forget_poison(const boost::context::stack_context&) noexcept {}
#endif

}  // namespace

// Boost.Context's StackAllocator concept, backed by a pool; remembers the stack for the
// sanitizer annotations.
struct FiberStack {
  StackPool* pool;
  Fiber* fiber;
  boost::context::stack_context allocate() { return fiber->stack_ = pool->allocate(); }
  void deallocate(boost::context::stack_context& sc) noexcept { pool->deallocate(sc); }
};

StackPool::~StackPool() {
  for (auto& sc : free_) unmap(sc);
}

boost::context::stack_context StackPool::allocate() {
  if (!free_.empty()) {
    auto sc = free_.back();
    free_.pop_back();
    return sc;
  }
  const std::size_t guard = page_size();
  void* base = ::mmap(nullptr, kStackSize + guard, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) throw std::bad_alloc();
  if (::mprotect(base, guard, PROT_NONE) != 0) {  // stacks grow down: the guard is the bottom
    ::munmap(base, kStackSize + guard);
    throw std::bad_alloc();
  }
  boost::context::stack_context sc;
  sc.size = kStackSize;
  sc.sp = static_cast<char*>(base) + guard + kStackSize;
  return sc;
}

void StackPool::deallocate(boost::context::stack_context& sc) noexcept {
  forget_poison(sc);
  if (free_.size() < keep_) {
    try {
      free_.push_back(sc);
      return;
    } catch (...) {
    }
  }
  unmap(sc);
}

Fiber* Fiber::current() noexcept {
  return tls_current;
}

void Fiber::start(StackPool& pool, std::function<void()> body) {
  started_ = true;
  self_ = boost::context::fiber(
      std::allocator_arg, FiberStack{&pool, this},
      [this, body = std::move(body)](boost::context::fiber&& caller) mutable {
        arrived(nullptr, &caller_bottom_, &caller_size_);
        caller_ = std::move(caller);
        body();
        body = nullptr;  // what it captured goes before the resumer runs again
        leaving(nullptr, caller_bottom_, caller_size_);  // for good: no fake stack to keep
        return std::move(caller_);
      });
  resume();
}

void Fiber::resume() {
  Fiber* outer = std::exchange(tls_current, this);
  void* fake = nullptr;
  leaving(&fake, static_cast<char*>(stack_.sp) - stack_.size, stack_.size);
  self_ = std::move(self_).resume();
  arrived(fake, nullptr, nullptr);
  tls_current = outer;
}

void Fiber::suspend() {
  leaving(&fake_stack_, caller_bottom_, caller_size_);
  caller_ = std::move(caller_).resume();
  arrived(fake_stack_, &caller_bottom_, &caller_size_);
}

}  // namespace sr::storage::postgres
