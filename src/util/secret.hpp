// Key material and passwords live in these types: zeroed on destruction (sodium_memzero), locked in
// memory where the OS allows (sodium_mlock), never streamable or formattable (no operator<<), so a
// secret cannot reach a log line by accident.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sr {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t n);
  SecretBytes(const unsigned char* p, std::size_t n);
  static SecretBytes from_view(std::string_view s) {
    return SecretBytes(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  }
  static SecretBytes random(std::size_t n);
  // Zeroed on destruction but not mlock'ed: for plaintext that lives for microseconds (a decrypted
  // vault entry), where two syscalls per buffer would dominate a 50-entry list.
  static SecretBytes transient(std::size_t n);
  static SecretBytes transient(const unsigned char* p, std::size_t n);
  SecretBytes(const SecretBytes& o);
  SecretBytes& operator=(const SecretBytes& o);
  SecretBytes(SecretBytes&& o) noexcept;
  SecretBytes& operator=(SecretBytes&& o) noexcept;
  ~SecretBytes();

  unsigned char* data() noexcept { return buf_.data(); }
  const unsigned char* data() const noexcept { return buf_.data(); }
  std::size_t size() const noexcept { return buf_.size(); }
  bool empty() const noexcept { return buf_.empty(); }
  std::string_view view() const noexcept {
    return {reinterpret_cast<const char*>(buf_.data()), buf_.size()};
  }
  // Constant-time equality (sodium_memcmp); lengths are not secret.
  bool equals(const SecretBytes& o) const noexcept;

 private:
  void wipe() noexcept;
  void lock() noexcept;
  std::vector<unsigned char> buf_;
  bool locked_ = false;
};

// A password or other secret text. Same guarantees as SecretBytes.
using SecretString = SecretBytes;

// Constant-time comparison of two byte strings (lengths compared first; they are not secret).
bool ct_equal(std::string_view a, std::string_view b) noexcept;

// For std::string values that hold secret text for a moment (a parsed body's password, an entry's
// plaintext, a response made of entry fields): zeroed (sodium_memzero) before the memory goes back
// to the allocator, then emptied. wipe() zeroes the bytes in use; wipe_capacity() the whole
// buffer, for a buffer reused for several values.
void wipe(std::string& s) noexcept;
void wipe_capacity(std::string& s) noexcept;
void wipe(std::vector<std::string>& v) noexcept;

// Wipes what it refers to at the end of the scope, however the scope is left. A buffer moved out
// meanwhile (a body handed to the response) leaves nothing behind to wipe.
template <class T>
class WipeOnExit {
 public:
  explicit WipeOnExit(T& v) noexcept : v_(v) {}
  ~WipeOnExit() { wipe(v_); }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  T& v_;
};

}  // namespace sr
