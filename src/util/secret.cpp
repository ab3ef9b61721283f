#include "util/secret.hpp"

#include <sodium.h>

#include "util/random.hpp"

namespace sr {

void SecretBytes::lock() noexcept {
  locked_ = !buf_.empty() && sodium_mlock(buf_.data(), buf_.size()) == 0;
}
SecretBytes::SecretBytes(std::size_t n) : buf_(n) {
  lock();
}
SecretBytes::SecretBytes(const unsigned char* p, std::size_t n) : buf_(p, p + n) {
  lock();
}
SecretBytes SecretBytes::transient(std::size_t n) {
  SecretBytes s;
  s.buf_.resize(n);
  return s;
}
SecretBytes SecretBytes::transient(const unsigned char* p, std::size_t n) {
  SecretBytes s;
  s.buf_.assign(p, p + n);
  return s;
}
SecretBytes SecretBytes::random(std::size_t n) {
  SecretBytes s(n);
  random_fill(s.data(), n);
  return s;
}
SecretBytes::SecretBytes(const SecretBytes& o) : SecretBytes(o.data(), o.size()) {}
SecretBytes& SecretBytes::operator=(const SecretBytes& o) {
  if (this != &o) {
    SecretBytes t(o);
    *this = std::move(t);
  }
  return *this;
}
SecretBytes::SecretBytes(SecretBytes&& o) noexcept : buf_(std::move(o.buf_)), locked_(o.locked_) {
  o.buf_.clear();
  o.locked_ = false;
}
SecretBytes& SecretBytes::operator=(SecretBytes&& o) noexcept {
  if (this != &o) {
    wipe();
    buf_ = std::move(o.buf_);
    locked_ = o.locked_;
    o.buf_.clear();
    o.locked_ = false;
  }
  return *this;
}
SecretBytes::~SecretBytes() {
  wipe();
}

void SecretBytes::wipe() noexcept {
  if (!buf_.empty()) {
    if (locked_) sodium_munlock(buf_.data(), buf_.size());  // also zeroes
    sodium_memzero(buf_.data(), buf_.size());
  }
  buf_.clear();
  locked_ = false;
}

bool SecretBytes::equals(const SecretBytes& o) const noexcept {
  return ct_equal(view(), o.view());
}

void wipe(std::string& s) noexcept {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

void wipe_capacity(std::string& s) noexcept {
  if (s.capacity()) sodium_memzero(s.data(), s.capacity());
  s.clear();
}

void wipe(std::vector<std::string>& v) noexcept {
  for (auto& s : v) wipe(s);
}

bool ct_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace sr
