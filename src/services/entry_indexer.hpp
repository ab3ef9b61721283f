// Inside the vault service: the upkeep of the vault list index (vault/index.hpp) and the opening
// of stored entries.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "storage/repository.hpp"
#include "util/secret.hpp"
#include "vault/entry.hpp"
#include "vault/index.hpp"

namespace sr::services {

// The fields of a stored entry; a ciphertext that does not open is a std::runtime_error (a 500:
// the entries are the source of truth, and one that fails is corrupt or tampered with).
vault::Entry decrypt_entry(const SecretBytes& data_key, const storage::VaultEntry& e);

inline vault::EntryMeta meta_of(const storage::VaultEntry& e) {
  return {e.id, e.created_at, e.updated_at};
}

// Keeps the list index for the storage, inside its write transactions (on whatever thread the
// backend runs them), with the data key of the request's open vault. `entry` is the entry being
// added or updated. It holds nothing of the request: a chunk it cannot use is only recorded
// (rejected()), and the service reports it once the write is over.
class EntryIndexer final : public storage::VaultIndexer {
 public:
  EntryIndexer(const SecretBytes& data_key, int64_t user_id, const vault::Entry* entry = nullptr)
      : dk_(data_key), uid_(user_id), entry_(entry) {}

  // A chunk did not open, parse or hold what its row says: tampering or corruption. The storage
  // then dropped the index and kept the write; the next list rebuilds it.
  bool rejected() const noexcept { return rejected_; }

  int64_t version() const override { return vault::kIndexVersion; }
  std::optional<storage::VaultIndexChunk> added(
      const storage::VaultEntry& e, const std::optional<storage::VaultIndexChunk>& last) override;
  std::optional<std::string> updated(const storage::VaultEntry& e,
                                     const storage::VaultIndexChunk& c) override;
  std::optional<std::string> removed(int64_t id, const storage::VaultIndexChunk& c) override;
  std::optional<std::vector<Built>> build(const std::vector<storage::VaultEntry>& entries,
                                          int64_t first_chunk) override;

 private:
  std::string seal(int64_t chunk, std::span<const vault::IndexItem> items) const;
  template <class F>
  std::optional<std::string> edit(const storage::VaultIndexChunk& c, int64_t id, F f);
  std::nullopt_t reject() noexcept {
    rejected_ = true;
    return std::nullopt;
  }

  const SecretBytes& dk_;
  int64_t uid_;
  const vault::Entry* entry_;
  bool rejected_ = false;
};

// Appends the items of chunks to body, each chunk opened straight into it (where its region of
// items stays as it is), joined by ','; a ',' first when items came before (last_id != 0, the id
// of the last item so far, updated). false when the index cannot be used as it is: a chunk that
// does not open or parse, or ids that do not ascend from last_id on (but see resync); body then
// holds what it held before.
//
// resync: the chunks continue a list whose items up to last_id were sent already, and the index
// may have been rebuilt since (a rebuild numbers its chunks above every chunk there was, so the
// rest of the list then reads the new index from its beginning): items up to last_id at the start
// of chunks are left out instead of refused, and the list goes on from the first item above
// last_id. Past the first item kept, and between the chunks, ids must ascend as without resync.
bool open_chunks_into(std::string& body, const SecretBytes& data_key, int64_t user_id,
                      const std::vector<storage::VaultIndexChunk>& chunks, int64_t& last_id,
                      bool resync = false);

}  // namespace sr::services
