// Recycled<T>: a T constructed in a block taken from a per-thread list of spare blocks of its
// size, and given back to the list when it is destroyed. For the large per-request state of the
// request path (the HTTP exchange, the API call): held directly, it made the coroutine frames
// that hold it 2.4 and 4 KiB, which glibc serves on its slow path (above its 1 KiB thread cache:
// bin searches, consolidation) twice per request; the frames now hold a pointer and stay small,
// and the blocks cost a vector pop and push.
//
// The object is constructed fresh and destroyed as a local would be; only the memory is reused,
// as the allocator would reuse it. A coroutine may resume on another thread than the one that
// made the object: the block then goes to that thread's list, which is fine (the lists are
// per-thread only to need no lock). Each thread keeps at most kKeep blocks per type.
//
// A block is zeroed when its object is destroyed: the objects hold request data (short strings
// live inside them: a small body, a session id), and a kept block, unlike freed memory, is not
// soon overwritten by other allocations.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace sr {

template <class T>
class Recycled {
 public:
  template <class... Args>
  explicit Recycled(Args&&... args) : p_(static_cast<T*>(take())) {
    try {
      ::new (static_cast<void*>(p_)) T(std::forward<Args>(args)...);
    } catch (...) {
      sodium_memzero(static_cast<void*>(p_), sizeof(T));  // what the constructor wrote
      give(p_);
      throw;
    }
  }
  ~Recycled() {
    p_->~T();
    sodium_memzero(static_cast<void*>(p_), sizeof(T));
    give(p_);
  }
  Recycled(const Recycled&) = delete;
  Recycled& operator=(const Recycled&) = delete;

  T& operator*() const noexcept { return *p_; }
  T* operator->() const noexcept { return p_; }

 private:
  static constexpr std::size_t kKeep = 64;
  // Not inlined: the list is looked up on the thread that runs the call. g++ may keep a
  // thread-local's address across a coroutine's suspension, and the coroutine may resume on
  // another thread. Null once the thread's list is gone (an object destroyed during the thread's
  // exit, after it): its block is then freed.
  [[gnu::noinline]] static std::vector<void*>* spare() {
    thread_local bool gone = false;  // trivially destructible: valid for the thread's whole life
    thread_local struct List {
      std::vector<void*> blocks;
      List() { blocks.reserve(kKeep); }  // give() then never allocates
      ~List() {
        gone = true;
        for (void* b : blocks) release(b);
      }
    } list;
    return gone ? nullptr : &list.blocks;
  }
  // Blocks come from plain operator new: enough for every type this holds (none over-aligned).
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__,
                "an over-aligned T needs aligned blocks");
  static void* allocate() { return ::operator new(sizeof(T)); }
  static void release(void* b) noexcept { ::operator delete(b); }
  static void* take() {
    auto* s = spare();
    if (!s || s->empty()) return allocate();
    void* b = s->back();
    s->pop_back();
    return b;
  }
  static void give(void* b) noexcept {
    auto* s = spare();
    if (s && s->size() < kKeep)
      s->push_back(b);  // within the reserved capacity: no allocation
    else
      release(b);
  }

  T* p_;
};

}  // namespace sr
