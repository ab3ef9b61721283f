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

}  // namespace sr
