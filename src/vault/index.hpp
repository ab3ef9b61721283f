// The vault's list index: what GET /vault/entries shows of each entry (no secret), kept beside the
// entries in chunks sealed with the user's data key (crypto.hpp: seal_index_chunk). A list of N
// entries then opens one chunk per up to kChunkMaxItems entries instead of N entry ciphertexts.
//
// Chunk plaintext (format kIndexVersion = 1), integers big-endian:
//   region               the items' JSON joined by ',' (each item exactly as the list renders it)
//   (id(8) length(4))*   one per item, in region order, ids ascending
//   count(4)
// The region comes first so that a list can open a chunk straight into the response body and
// keep the region as it is. The entries stay the source of truth: the index is derived from them,
// changed in the same transaction as they are (storage::VaultIndexer), and rebuilt from them when
// it is missing or found inconsistent.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "util/secret.hpp"

namespace sr::vault {

// The index format this build reads and writes (storage::VaultKey::index_version).
inline constexpr int64_t kIndexVersion = 1;
// A chunk that has reached either bound is full: new entries start the next chunk. It bounds the
// work of a write (one chunk is re-sealed) and keeps small vaults in one chunk.
inline constexpr std::size_t kChunkMaxItems = 256;
inline constexpr std::size_t kChunkMaxBytes = 32 * 1024;

struct IndexItem {
  int64_t id = 0;
  std::string_view json;  // points into the plaintext it was parsed from
};

struct ChunkView {
  std::string_view region;  // the items' JSON joined by ','
  std::vector<IndexItem> items;
};

// nullopt when the plaintext is not a well-formed chunk (sizes that do not add up, ids not
// ascending, an empty item).
std::optional<ChunkView> parse_index_chunk(std::string_view plain);
// The plaintext of items (which must be in ascending id order), in a self-wiping buffer.
SecretBytes encode_index_chunk(std::span<const IndexItem> items);
bool chunk_full(std::span<const IndexItem> items);

}  // namespace sr::vault
