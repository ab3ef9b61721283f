// Request and response bytes can hold passwords, tokens and vault fields: the buffers that carry
// them are zeroed when they are given back, so no copy outlives its request in freed heap memory.
#pragma once
#include <sodium.h>

#include <cstddef>
#include <memory>
#include <string>

namespace sr::http {

template <class T>
struct WipingAllocator {
  using value_type = T;
  WipingAllocator() = default;
  template <class U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    sodium_memzero(p, n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const WipingAllocator<U>&) const noexcept {
    return true;
  }
};

using WipingString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;

}  // namespace sr::http
