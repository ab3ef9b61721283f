// The portable ReadBatch: one query after the other on the caller's connection (and, on SQLite,
// inside the caller's read transaction, so the whole batch sees one snapshot).
#include "storage/repository.hpp"

namespace sr::storage {

void Repository::read_batch(ReadBatch& b) {
  const auto& w = b.want;
  if (!w.session.empty()) b.session = find_session(w.session);
  if (w.user) b.user = find_user(w.user_id);
  if (w.handbook) b.handbook = get_handbook(w.user_id);
  if (w.links) b.links = list_links(w.user_id);
  if (w.vault_key) b.vault_key = get_vault_key(w.user_id);
  if (w.vault_entries) b.vault_entries = list_vault_entries(w.user_id);
  if (w.vault_entry > 0) b.vault_entry = get_vault_entry(w.user_id, w.vault_entry);
  if (w.vault_index)
    b.vault_index = list_vault_index(w.user_id, kBeforeFirstChunk, kIndexChunksPerRead);
}

Task<void> Storage::read(ReadBatch& b) {
  return run(Access::read, [&b](Repository& r) { r.read_batch(b); });
}

}  // namespace sr::storage
