// The in-memory GCRA limiter: a fixed number of shards, each a mutex and a hash map from key to
// TAT (nanoseconds on the injected clock).
//
// Bounded memory:
// - Expiry: a TAT at or before now is the same as no state, so such entries are garbage. Every
//   check advances its shard's sweep hand over a couple of entries and erases the expired ones:
//   O(1) work per check, no stop-the-world sweep, and every entry is looked at once per pass.
// - Cap: each shard holds at most max_keys / shards entries. Inserting into a full shard evicts
//   one entry: the first expired one met in a bounded sample of random buckets, else the one with
//   the smallest TAT in that sample (approximately the least recently / least heavily used).
//   Evicting a live key forgives its history. That is acceptable: an attacker rotating source
//   addresses cannot grow memory past the cap, and at worst cycles other keys out, while every
//   one of its own addresses is itself limited; the cap is sized (1M by default) so that this
//   takes far more traffic than the per-IP limits let one client send.
// - Keys: longer than 256 bytes are replaced by a 33-byte digest (key.hpp).
// - Hashing: SipHash-2-4 with a random per-process key, so nobody can craft keys that collide in
//   one bucket or pile into one shard.
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iterator>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ratelimit/gcra.hpp"
#include "ratelimit/key.hpp"
#include "ratelimit/limiter.hpp"

namespace sr::ratelimit {
namespace {

constexpr std::size_t kMaxShards = 64;
constexpr int kSweepPerCheck = 2;  // entries the sweep hand visits per check
constexpr int kEvictSample = 16;   // entries sampled for eviction at the cap
constexpr int64_t kNsPerSecond = 1'000'000'000;

// A key with its hash already computed, for lookups without hashing twice.
struct Prehashed {
  std::string_view key;
  uint64_t hash;
};

struct KeyHash {
  using is_transparent = void;
  const unsigned char* secret;  // crypto_shorthash_KEYBYTES, owned by the limiter
  uint64_t operator()(std::string_view s) const {
    uint64_t h;
    crypto_shorthash(reinterpret_cast<unsigned char*>(&h),
                     reinterpret_cast<const unsigned char*>(s.data()), s.size(), secret);
    return h;
  }
  uint64_t operator()(const std::string& s) const { return (*this)(std::string_view(s)); }
  uint64_t operator()(const Prehashed& p) const { return p.hash; }
};

struct KeyEq {
  using is_transparent = void;
  bool operator()(const std::string& a, const std::string& b) const { return a == b; }
  bool operator()(const Prehashed& a, const std::string& b) const { return a.key == b; }
  bool operator()(const std::string& a, const Prehashed& b) const { return a == b.key; }
};

using Map = std::unordered_map<std::string, int64_t, KeyHash, KeyEq>;

struct alignas(64) Shard {
  explicit Shard(const unsigned char* secret) : map(0, KeyHash{secret}) {}
  std::mutex mu;
  Map map;
  Map::iterator hand;            // sweep hand; map.end() = restart at begin()
  std::size_t hand_buckets = 0;  // bucket_count when `hand` was taken (a rehash invalidates it)
  std::atomic<std::size_t> size{0};

  Map::iterator valid_hand() {
    if (hand_buckets != map.bucket_count() || hand == map.end()) {
      hand = map.begin();
      hand_buckets = map.bucket_count();
    }
    return hand;
  }

  // Erases `it`, keeping the hand valid; returns the next iterator.
  Map::iterator erase(Map::iterator it) {
    const bool at_hand = (it == hand);
    auto next = map.erase(it);
    if (at_hand) hand = next;
    return next;
  }

  void sweep(int64_t now) {
    if (map.empty()) return;
    auto it = valid_hand();
    for (int i = 0; i < kSweepPerCheck; ++i) {
      if (it == map.end()) it = map.begin();
      if (it == map.end()) break;
      it = it->second <= now ? map.erase(it) : std::next(it);
    }
    hand = it;
  }

  // Frees one slot: the first expired entry met in a sample of random buckets, else the sampled
  // entry with the smallest TAT. Buckets, not the sweep hand: the map's list order follows
  // insertion order, so consecutive entries are not a fair sample.
  void evict_one(int64_t now, const KeyHash& hasher) {
    const std::size_t buckets = map.bucket_count();
    const std::string* victim = nullptr;
    int64_t victim_tat = 0;
    int seen = 0;
    for (int probe = 0; probe < 4 * kEvictSample && seen < kEvictSample; ++probe) {
      const std::size_t b = next_random() % buckets;
      for (auto it = map.begin(b); it != map.end(b) && seen < kEvictSample; ++it, ++seen) {
        if (!victim || it->second < victim_tat) {
          victim = &it->first;
          victim_tat = it->second;
        }
        if (victim_tat <= now) break;
      }
      if (victim && victim_tat <= now) break;
    }
    if (victim) {
      erase(map.find(Prehashed{*victim, hasher(*victim)}));
    } else if (!map.empty()) {  // every probe met an empty bucket (a sparse table): take any entry
      erase(valid_hand());
    }
  }

  uint64_t next_random() {  // xorshift64*: sampling only, not security
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
  }
  uint64_t rng = 0;
};

class MemoryLimiter final : public Limiter {
 public:
  MemoryLimiter(std::size_t max_keys, Clock clock) : clock_(std::move(clock)) {
    if (sodium_init() < 0) throw std::runtime_error("libsodium initialization failed");
    randombytes_buf(secret_, sizeof secret_);
    if (!clock_) {
      clock_ = [] {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
      };
    }
    max_keys = std::max<std::size_t>(1, max_keys);
    const std::size_t n = std::min(kMaxShards, max_keys);
    per_shard_cap_ = max_keys / n;
    shards_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      shards_.push_back(std::make_unique<Shard>(secret_));
      randombytes_buf(&shards_.back()->rng, sizeof(uint64_t));
      shards_.back()->rng |= 1;  // xorshift state must not be zero
    }
  }

  Task<Decision> check(std::string key, Limit limit) override { co_return check_now(key, limit); }

  Decision check_now(std::string_view raw_key, Limit limit) override {
    if (detail::unlimited(limit)) return detail::unlimited_decision();
    std::string buf;
    const std::string_view key = detail::storage_key(raw_key, buf);
    const uint64_t hash = KeyHash{secret_}(key);
    Shard& shard = *shards_[static_cast<std::size_t>(
        (static_cast<unsigned __int128>(hash) * shards_.size()) >> 64)];
    const int64_t now = clock_();

    std::lock_guard lock(shard.mu);
    auto it = shard.map.find(Prehashed{key, hash});
    const int64_t tat = it != shard.map.end() ? it->second : now;
    const detail::Step step = detail::gcra_step(limit, now, tat, kNsPerSecond);
    if (step.decision.allowed) {
      if (it != shard.map.end()) {
        it->second = step.tat;
      } else {
        while (shard.map.size() >= per_shard_cap_) shard.evict_one(now, KeyHash{secret_});
        shard.map.emplace(std::string(key), step.tat);
      }
    }
    shard.sweep(now);
    shard.size.store(shard.map.size(), std::memory_order_relaxed);
    return step.decision;
  }

  std::size_t size() const override {
    std::size_t total = 0;
    for (const auto& s : shards_) total += s->size.load(std::memory_order_relaxed);
    return total;
  }

 private:
  Clock clock_;
  unsigned char secret_[crypto_shorthash_KEYBYTES];
  std::size_t per_shard_cap_ = 1;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace

std::unique_ptr<Limiter> make_memory_limiter(std::size_t max_keys, Clock clock) {
  return std::make_unique<MemoryLimiter>(max_keys, std::move(clock));
}

}  // namespace sr::ratelimit
