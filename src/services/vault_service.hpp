// The password vault (SPEC 7): setup, unlock, lock, the open vault session and its sliding
// renewal, entries, the vault password change, and the list index kept with every entry write.
// Entries are sealed with the user's data key, which exists in clear only inside a vault session
// token sealed with the server's key, and in memory for the length of one request (Unlocked).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "observability/metrics.hpp"
#include "services/caller.hpp"
#include "services/passwords.hpp"
#include "storage/repository.hpp"
#include "util/secret.hpp"
#include "vault/crypto.hpp"
#include "vault/entry.hpp"

namespace sr::services {

class EntryIndexer;

struct VaultOptions {
  int64_t ttl = 300;                      // a vault session's lifetime, renewed by use (sliding)
  int64_t max_ttl = 1800;                 // never renewed past this from unlock
  int64_t max_bytes = int64_t{16} << 20;  // SPEC 14: the entries' JSON renderings, per vault
};

// A page of the list (SPEC 14): the entries with id > after, at most limit of them.
struct VaultPage {
  int64_t after = 0;
  int64_t limit = 0;
};
struct VaultPageOut {
  std::string body;                   // head and the page's items
  std::optional<int64_t> next_after;  // the last item's id when more follow
};

class VaultService;

// The rest of a whole list whose index is larger than one read (storage::kIndexChunksPerRead):
// read and opened one part at a time while the answer is being sent, so that a list holds one
// part (<= ~1 MiB) in memory whatever the vault weighs. The parts are separate reads: like pages,
// the whole is not a snapshot. Each entry appears at most once and in id order; one added or
// deleted meanwhile may or may not be in it.
class VaultListRest {
 public:
  VaultListRest(VaultService& svc, const SecretBytes& data_key, int64_t user_id,
                int64_t after_chunk, int64_t last_id, std::string_view tail, const Caller& who);
  // Appends the next part's items (',' first) to out, and the tail after the last of them: false
  // once the tail is in. Throws when a chunk does not open or its ids do not go on from the part
  // before (a security event; the index is rebuilt for the next list): the answer ends unfinished.
  Task<bool> next(std::string& out);

 private:
  VaultService& svc_;
  SecretBytes data_key_;  // a copy: the request's vault session is gone while the rest is sent
  int64_t user_id_, after_chunk_, last_id_;
  std::string tail_, request_id_, ip_;
};

// The whole list: body holds head and the first items, and the tail too unless rest is set.
struct VaultList {
  std::string body;
  std::shared_ptr<VaultListRest> rest;
};

// An open vault, for the length of one request.
struct Unlocked {
  vault::VaultSession session;  // its data key opens the entries
  storage::VaultKey key;
  // Set when opening renewed the session (SPEC 12, sliding): its new token and lifetime.
  struct Renewal {
    std::string token;
    int64_t max_age = 0;
  };
  std::optional<Renewal> renewed;
};

struct VaultStatus {
  bool initialized = false, unlocked = false;
  std::optional<int64_t> expires_at;
};

struct VaultUnlock {
  std::string token;       // the vault session token
  int64_t expires_in = 0;  // seconds
};

struct VaultPasswordChange {
  SecretString current_vault_password, new_vault_password;
};

struct OpenEntry {
  vault::Entry fields;
  vault::EntryMeta meta;
};

// Whether `password` opens the vault of user uid (false when there is none): one KDF, on the
// hash pool.
Task<bool> opens_vault(storage::Storage& db, Passwords& passwords, int64_t uid,
                       const SecretString& password);

class VaultService {
 public:
  static constexpr int64_t kMaxEntries = 10000;  // per user (conflict beyond)
  static constexpr int64_t kMaxPage = 500;       // SPEC 14: the largest limit of a list page
  // A page also ends once its body holds this much (next_after then goes on from there), and
  // reads its rows this many at a time: its memory stays bounded whatever its entries weigh.
  static constexpr std::size_t kPageBytes = 1 << 20;
  static constexpr int64_t kPageBatch = 64;

  VaultService(storage::Storage& db, Passwords& passwords, obs::Metrics& metrics,
               const SecretBytes& session_key, VaultOptions opts);

  // From the caller's vault key (nullopt: no vault) and the vault session token they sent.
  VaultStatus status(const Caller& who, const std::optional<storage::VaultKey>& key,
                     std::string_view token) const;
  // The vault gate: the caller's open vault. vault_not_initialized without a vault; vault_locked
  // when the token does not open, is another auth session's, has expired, or was ended (lock,
  // vault password change). Renews it once half of its life is gone, never past max_ttl from
  // unlock (the new token is in `renewed`).
  Unlocked open(const Caller& who, std::optional<storage::VaultKey> key,
                std::string_view token) const;

  // validation_failed on "vault_password" (policy), the route's limit, conflict when set up,
  // validation_failed when it is the account password. Of concurrent setups exactly one wins.
  Task<void> setup(Caller& who, const SecretString& vault_password);
  // The route's limit, then the key (vault_not_initialized), then the password
  // (invalid_vault_password, counted and logged): a vault session bound to the caller's session.
  Task<VaultUnlock> unlock(Caller& who, const SecretString& vault_password);
  // Ends every vault session of the caller's auth session (vault_not_initialized without a vault).
  Task<void> lock(Caller& who);
  // Changes only the wrapping of the data key: validation_failed on "new_vault_password", the
  // route's limit, invalid_vault_password for a wrong current one. Ends every vault session.
  Task<void> change_password(Caller& who, const Unlocked& u, const VaultPasswordChange& in);

  // The new entry's id; conflict at kMaxEntries or beyond max_bytes.
  Task<int64_t> add(Caller& who, const Unlocked& u, const vault::Entry& e);
  // The whole list from its index chunks (the first kIndexChunksPerRead of them read with the
  // session), the index rebuilt from the entries when it is missing, of another format, or does
  // not open (a security event): head, the list items (vault/entry.hpp, joined by ','), tail,
  // the chunks opened straight into the body. An index of more chunks than `first` holds (a
  // full read) leaves the rest to VaultList::rest.
  Task<VaultList> list(Caller& who, const Unlocked& u, std::vector<storage::VaultIndexChunk> first,
                       std::string_view head, std::string_view tail);
  // A page of the list (SPEC 14; page.limit from 1 to kMaxPage), read from the entries
  // themselves (keyset, kPageBatch rows at a time: its memory is bounded by the page, not by the
  // vault): head, then the items joined by ',' (the body is built once, in one buffer), and the
  // id to continue after when more entries follow. At most page.limit items, fewer when the body
  // reached kPageBytes first (at least one item, whatever its size).
  Task<VaultPageOut> list_page(const Unlocked& u, VaultPage page, std::string_view head);
  // The entry read with the session (nullopt: not the caller's, not_found).
  OpenEntry get(const Unlocked& u, const std::optional<storage::VaultEntry>& row) const;
  // not_found unless the entry is the caller's; conflict when it grows the vault beyond
  // max_bytes. Where and when it is now.
  Task<vault::EntryMeta> update(Caller& who, const Unlocked& u, int64_t id, const vault::Entry& e);
  Task<void> remove(Caller& who, const Unlocked& u, int64_t id);

 private:
  std::optional<vault::VaultSession> session_of(const Caller& who, const storage::VaultKey& key,
                                                std::string_view token, int64_t now) const;
  Task<void> check_not_account_password(std::string_view field, const SecretString& pw,
                                        const storage::User& u);
  friend class VaultListRest;
  // The rebuilt index's first kIndexChunksPerRead chunks.
  Task<std::vector<storage::VaultIndexChunk>> rebuild_index(int64_t user_id,
                                                            const SecretBytes& data_key);
  // Runs an entry write that keeps the list index through ix, and reports a chunk that ix
  // rejected whether or not the write went through.
  Task<void> write_indexed(Caller& who, const EntryIndexer& ix, int64_t user_id,
                           std::function<void(storage::Repository&)> work);
  static void index_rejected(std::string_view request_id, std::string_view ip, int64_t user_id);
  storage::VaultBytes bytes() const;
  std::string full_message() const;

  storage::Storage& db_;
  Passwords& passwords_;
  obs::Metrics& metrics_;
  const SecretBytes& session_key_;
  VaultOptions opts_;
};

}  // namespace sr::services
