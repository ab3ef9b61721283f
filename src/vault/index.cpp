#include "vault/index.hpp"

#include <algorithm>
#include <stdexcept>

namespace sr::vault {
namespace {

constexpr std::size_t kEntry = 8 + 4;  // one table row
constexpr std::size_t kCount = 4;

uint64_t get_be(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int k = 0; k < n; ++k) v = (v << 8) | p[k];
  return v;
}

void put_be(unsigned char* p, uint64_t v, int n) {
  for (int k = n - 1; k >= 0; --k, v >>= 8) p[k] = static_cast<unsigned char>(v & 0xFF);
}

std::size_t region_size(std::span<const IndexItem> items) {
  std::size_t n = items.empty() ? 0 : items.size() - 1;  // the commas
  for (const auto& it : items) n += it.json.size();
  return n;
}

}  // namespace

std::optional<ChunkView> parse_index_chunk(std::string_view plain) {
  const auto* p = reinterpret_cast<const unsigned char*>(plain.data());
  if (plain.size() < kCount) return std::nullopt;
  const std::size_t count = get_be(p + plain.size() - kCount, 4);
  if (count > (plain.size() - kCount) / kEntry) return std::nullopt;
  const std::size_t table = plain.size() - kCount - count * kEntry;
  ChunkView v;
  v.region = plain.substr(0, table);
  v.items.reserve(count);
  std::size_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const unsigned char* row = p + table + i * kEntry;
    const auto id = static_cast<int64_t>(get_be(row, 8));
    const std::size_t len = get_be(row + 8, 4);
    if (id <= 0 || (!v.items.empty() && id <= v.items.back().id)) return std::nullopt;
    if (i > 0) {
      if (at >= table || plain[at] != ',') return std::nullopt;
      ++at;
    }
    if (len == 0 || len > table - at) return std::nullopt;
    v.items.push_back({id, plain.substr(at, len)});
    at += len;
  }
  if (at != table) return std::nullopt;
  return v;
}

SecretBytes encode_index_chunk(std::span<const IndexItem> items) {
  const std::size_t region = region_size(items);
  auto out = SecretBytes::transient(region + items.size() * kEntry + kCount);
  unsigned char* p = out.data();
  unsigned char* row = p + region;
  int64_t prev = 0;
  for (const auto& it : items) {
    if (it.id <= prev || it.json.empty() || it.json.size() > 0xFFFFFFFFu)
      throw std::invalid_argument("vault index: items must have ascending ids and a body");
    if (prev != 0) *p++ = ',';
    prev = it.id;
    p = std::copy(it.json.begin(), it.json.end(), p);
    put_be(row, static_cast<uint64_t>(it.id), 8);
    put_be(row + 8, it.json.size(), 4);
    row += kEntry;
  }
  put_be(row, items.size(), 4);
  return out;
}

bool chunk_full(std::span<const IndexItem> items) {
  return items.size() >= kChunkMaxItems || region_size(items) >= kChunkMaxBytes;
}

}  // namespace sr::vault
