#include "auth/recovery_codes.hpp"

#include <sodium.h>

#include <algorithm>

#include "util/random.hpp"

namespace sr::auth::recovery {

static_assert(kAlphabet.size() == 30);

std::string generate() {
  crypto_init();
  std::string out;
  out.reserve(kLength + kLength / kGroup - 1);
  for (std::size_t i = 0; i < kLength; ++i) {
    if (i > 0 && i % kGroup == 0) out += '-';
    // randombytes_uniform has no modulo bias.
    out += kAlphabet[randombytes_uniform(static_cast<uint32_t>(kAlphabet.size()))];
  }
  return out;
}

std::vector<std::string> generate_set() {
  std::vector<std::string> set;
  set.reserve(kPerSet);
  while (set.size() < kPerSet) {
    auto code = generate();
    // A repeat has a chance of about 2^-75; a set of distinct codes is still the contract.
    if (std::find(set.begin(), set.end(), code) == set.end()) set.push_back(std::move(code));
  }
  return set;
}

std::optional<std::string> normalize(std::string_view typed) {
  const std::size_t shown = kLength + kLength / kGroup - 1;
  if (typed.size() != kLength && typed.size() != shown) return std::nullopt;
  const bool hyphens = typed.size() == shown;
  std::string out;
  out.reserve(kLength);
  for (std::size_t i = 0; i < typed.size(); ++i) {
    char c = typed[i];
    if (hyphens && i % (kGroup + 1) == kGroup) {
      if (c != '-') return std::nullopt;
      continue;
    }
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (kAlphabet.find(c) == std::string_view::npos) return std::nullopt;
    out += c;
  }
  return out;
}

}  // namespace sr::auth::recovery
