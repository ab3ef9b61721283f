// Connection caps beyond the global one (SPEC 14): concurrent connections per client address,
// shared by every network thread, and the process's open-file limit.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace sr::http {

// Counts connections per client address. IPv4 addresses count one by one; IPv6 addresses by
// their /64 (one subscriber usually holds a whole /64, as the per-IP rate limits also assume).
// Sharded by address so that threads accepting at once rarely share a lock; one lock per accept
// and per close, never per request.
class PerAddressCount {
 public:
  using Key = std::array<unsigned char, 16>;
  // IPv4 (4 bytes) or IPv6 (16 bytes, an IPv4-mapped one counts as its IPv4 address).
  static Key key_of(const unsigned char* bytes, std::size_t len) noexcept;

  explicit PerAddressCount(int limit) : limit_(limit) {}
  // Counts one more connection of `k` unless it already holds `limit`; false: refused.
  bool acquire(const Key& k);
  void release(const Key& k);
  int count(const Key& k) const;

 private:
  struct Hash {
    std::size_t operator()(const Key& k) const noexcept {
      uint64_t a, b;
      std::memcpy(&a, k.data(), 8);
      std::memcpy(&b, k.data() + 8, 8);
      return static_cast<std::size_t>((a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full));
    }
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<Key, int, Hash> counts;
  };
  static constexpr std::size_t kShards = 16;
  Shard& shard(const Key& k) const { return shards_[Hash{}(k) % kShards]; }
  int limit_;
  mutable std::array<Shard, kShards> shards_;
};

struct FileLimit {
  uint64_t soft = 0, hard = 0;  // after the raise
  uint64_t before = 0;          // the soft limit found at start
};
// Raises RLIMIT_NOFILE's soft limit as far as the hard limit allows (every connection is a
// descriptor; a soft limit of 1024 would stall accept() long before max_connections).
FileLimit raise_open_file_limit();

}  // namespace sr::http
