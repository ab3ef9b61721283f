#include "http/conn_limit.hpp"

#include <sys/resource.h>

#include <cstdio>

namespace sr::http {

PerAddressCount::Key PerAddressCount::key_of(const unsigned char* bytes, std::size_t len) noexcept {
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  Key k{};
  if (len == 16 && std::memcmp(bytes, kMapped, 12) == 0) {
    bytes += 12;
    len = 4;
  }
  // Byte 8 tells the families apart: an IPv4 address in bytes 12-15, an IPv6 /64 in bytes 0-7.
  if (len == 4) {
    k[8] = 4;
    std::memcpy(k.data() + 12, bytes, 4);
  } else if (len == 16) {
    k[8] = 6;
    std::memcpy(k.data(), bytes, 8);
  }
  return k;
}

bool PerAddressCount::acquire(const Key& k) {
  Shard& s = shard(k);
  std::lock_guard lock(s.mu);
  int& n = s.counts[k];
  if (n >= limit_) {
    if (n == 0) s.counts.erase(k);
    return false;
  }
  ++n;
  return true;
}

void PerAddressCount::release(const Key& k) {
  Shard& s = shard(k);
  std::lock_guard lock(s.mu);
  auto it = s.counts.find(k);
  if (it != s.counts.end() && --it->second <= 0) s.counts.erase(it);
}

int PerAddressCount::count(const Key& k) const {
  Shard& s = shard(k);
  std::lock_guard lock(s.mu);
  auto it = s.counts.find(k);
  return it == s.counts.end() ? 0 : it->second;
}

FileLimit raise_open_file_limit() {
  FileLimit out;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return out;
  out.before = rl.rlim_cur;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
      rl = want;
    } else if (rl.rlim_max == RLIM_INFINITY) {
      // An unlimited hard limit still stops at the kernel's fs.nr_open.
      unsigned long nr_open = 1048576;
      if (std::FILE* f = std::fopen("/proc/sys/fs/nr_open", "r")) {
        if (std::fscanf(f, "%lu", &nr_open) != 1) nr_open = 1048576;
        std::fclose(f);
      }
      want.rlim_cur = nr_open;
      if (want.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
    }
  }
  out.soft = rl.rlim_cur;
  out.hard = rl.rlim_max;
  return out;
}

}  // namespace sr::http
