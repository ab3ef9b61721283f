// Shared by both backends' rebuild_vault_index.
#pragma once
#include <stdexcept>
#include <vector>

#include "storage/repository.hpp"

namespace sr::storage::detail {

// A rebuilt index must hold every entry exactly once, in id order across the chunks (the
// backends set each entry's chunk by id range), in ascending chunk numbers. Anything else is a
// bug in the indexer: thrown, so the rebuild rolls back. The chunks are numbered from first_chunk
// on (one above every chunk the user had): a number in use before is never reused by a rebuild.
inline void check_built(const std::vector<VaultIndexer::Built>& built,
                        const std::vector<VaultEntry>& entries, int64_t first_chunk) {
  std::size_t i = 0;
  int64_t prev_chunk = first_chunk - 1;
  for (const auto& b : built) {
    if (b.chunk.chunk <= prev_chunk || b.ids.empty())
      throw std::logic_error("vault index rebuild: chunks out of order or empty");
    prev_chunk = b.chunk.chunk;
    for (int64_t id : b.ids) {
      if (i >= entries.size() || entries[i].id != id)
        throw std::logic_error("vault index rebuild: entries missing or out of order");
      ++i;
    }
  }
  if (i != entries.size()) throw std::logic_error("vault index rebuild: entries left out");
}

}  // namespace sr::storage::detail
