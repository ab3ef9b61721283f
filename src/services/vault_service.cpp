#include "services/vault_service.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include "observability/log.hpp"
#include "services/entry_indexer.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"
#include "vault/index.hpp"

namespace sr::services {
namespace {

using storage::Access;
using storage::Repository;

vault::Wrapped wrapped_of(const storage::VaultKey& k) {
  return {k.kdf_salt, k.kdf_mem_kib, k.kdf_passes, k.wrapped_key};
}

}  // namespace

Task<bool> opens_vault(storage::Storage& db, Passwords& passwords, int64_t uid,
                       const SecretString& password) {
  std::optional<storage::VaultKey> key;
  co_await db.run(Access::read, [&](Repository& r) { key = r.get_vault_key(uid); });
  if (!key) co_return false;
  bool opens = false;
  co_await passwords.pool().run(
      [&] { opens = vault::unwrap_data_key(wrapped_of(*key), password, uid).has_value(); });
  co_return opens;
}

VaultService::VaultService(storage::Storage& db, Passwords& passwords, obs::Metrics& metrics,
                           const SecretBytes& session_key, VaultOptions opts)
    : db_(db), passwords_(passwords), metrics_(metrics), session_key_(session_key), opts_(opts) {}

std::optional<vault::VaultSession> VaultService::session_of(const Caller& who,
                                                            const storage::VaultKey& key,
                                                            std::string_view token,
                                                            int64_t now) const {
  if (token.empty() || token.size() > 1024) return std::nullopt;
  auto vs = vault::open_session(token, session_key_);
  if (!vs) return std::nullopt;
  const auto& s = who.session();
  if (vs->user_id != who.user_id || vs->sid != s.id || now >= vs->expires_at ||
      vs->key_generation != key.generation || vs->epoch != s.vault_epoch)
    return std::nullopt;
  return vs;
}

VaultStatus VaultService::status(const Caller& who, const std::optional<storage::VaultKey>& key,
                                 std::string_view token) const {
  VaultStatus st;
  st.initialized = key.has_value();
  if (!key) return st;
  if (auto vs = session_of(who, *key, token, now_unix())) {
    st.unlocked = true;
    st.expires_at = vs->expires_at;
  }
  return st;
}

Unlocked VaultService::open(const Caller& who, std::optional<storage::VaultKey> key,
                            std::string_view token) const {
  if (!key) throw ApiError(ErrorCode::vault_not_initialized, "Vault is not set up");
  const int64_t now = now_unix();
  auto vs = session_of(who, *key, token, now);
  if (!vs) throw ApiError(ErrorCode::vault_locked, "Vault is locked");
  Unlocked u{std::move(*vs), std::move(*key), std::nullopt};
  // Sliding session (SPEC 12): renew once at least half of it is gone, never past max_ttl from
  // unlock. Compared doubled: halving with integer division renewed early on odd lifetimes.
  auto& s = u.session;
  const int64_t cap = s.unlocked_at + opts_.max_ttl;
  if (2 * (now - s.issued_at) >= s.expires_at - s.issued_at && s.expires_at < cap) {
    s.issued_at = now;
    s.expires_at = std::min(now + opts_.ttl, cap);
    u.renewed = Unlocked::Renewal{vault::seal_session(s, session_key_), s.expires_at - now};
  }
  return u;
}

Task<void> VaultService::check_not_account_password(std::string_view field, const SecretString& pw,
                                                    const storage::User& u) {
  const auth::VerifyResult same = co_await passwords_.verify(pw, u.password_hash);
  if (same.ok) fail_field(std::string(field), "must differ from the account password");
}

Task<void> VaultService::setup(Caller& who, const SecretString& vault_password) {
  const storage::User user = co_await caller_user(db_, who);
  passwords_.check_new("vault_password", vault_password.view(), user.username);
  // Before any comparison with the account password (SPEC 14): otherwise setup answers guesses
  // of it, as fast as they come, to whoever holds an access token.
  co_await who.limit(LimitKey::user);
  const int64_t uid = user.id;
  bool exists = false;
  co_await db_.run(Access::read, [&](Repository& r) { exists = r.get_vault_key(uid).has_value(); });
  if (exists) throw ApiError(ErrorCode::conflict, "Vault is already set up");
  co_await check_not_account_password("vault_password", vault_password, user);
  vault::Wrapped wrapped;
  co_await passwords_.pool().run([&] {
    SecretBytes dk = vault::new_data_key();
    wrapped = vault::wrap_data_key(dk, vault_password, uid, passwords_.argon2());
  });
  storage::VaultKey k;
  k.user_id = uid;
  k.kdf_salt = wrapped.salt;
  k.kdf_mem_kib = wrapped.mem_kib;
  k.kdf_passes = wrapped.passes;
  k.wrapped_key = wrapped.blob;
  k.generation = 1;
  k.created_at = k.updated_at = now_unix();
  k.index_version = vault::kIndexVersion;  // no entries: the empty index is complete
  // A conditional insert: of concurrent setups exactly one stores its key, the others get 409.
  bool created = false;
  co_await db_.run(Access::write, [&](Repository& r) { created = r.create_vault_key(k); });
  if (!created) throw ApiError(ErrorCode::conflict, "Vault is already set up");
}

Task<VaultUnlock> VaultService::unlock(Caller& who, const SecretString& vault_password) {
  const int64_t uid = who.user_id;
  co_await who.limit(LimitKey::user);
  std::optional<storage::VaultKey> key;
  co_await db_.run(Access::read, [&](Repository& r) { key = r.get_vault_key(uid); });
  if (!key) throw ApiError(ErrorCode::vault_not_initialized, "Vault is not set up");
  std::optional<SecretBytes> dk;
  co_await passwords_.pool().run(
      [&] { dk = vault::unwrap_data_key(wrapped_of(*key), vault_password, uid); });
  if (!dk) {
    metrics_.inc("auth_failures_total", "reason=\"invalid_vault_password\"");
    obs::security_event("vault.unlock.failure", who.request_id, who.ip, {{"user_id", uid}});
    throw ApiError(ErrorCode::invalid_vault_password, "Invalid vault password");
  }
  const int64_t now = now_unix();
  vault::VaultSession vs;
  vs.user_id = uid;
  vs.sid = who.session().id;
  vs.data_key = std::move(*dk);
  vs.unlocked_at = vs.issued_at = now;
  vs.expires_at = now + opts_.ttl;
  vs.key_generation = key->generation;
  vs.epoch = who.session().vault_epoch;
  VaultUnlock out{vault::seal_session(vs, session_key_), opts_.ttl};
  obs::security_event("vault.unlock.success", who.request_id, who.ip, {{"user_id", uid}},
                      obs::Level::info);
  co_return out;
}

Task<void> VaultService::lock(Caller& who) {
  const int64_t uid = who.user_id;
  bool exists = false;
  co_await db_.run(Access::read, [&](Repository& r) { exists = r.get_vault_key(uid).has_value(); });
  if (!exists) throw ApiError(ErrorCode::vault_not_initialized, "Vault is not set up");
  const std::string sid = who.session().id;
  co_await db_.run(Access::write, [&](Repository& r) { r.bump_vault_epoch(sid); });
}

Task<void> VaultService::change_password(Caller& who, const Unlocked& u,
                                         const VaultPasswordChange& in) {
  const storage::User user = co_await caller_user(db_, who);
  passwords_.check_new("new_vault_password", in.new_vault_password.view(), user.username);
  const int64_t uid = user.id;
  co_await who.limit(LimitKey::user);
  std::optional<SecretBytes> dk;
  const auto& k = u.key;
  co_await passwords_.pool().run(
      [&] { dk = vault::unwrap_data_key(wrapped_of(k), in.current_vault_password, uid); });
  if (!dk) {
    obs::security_event("vault.password_change.failure", who.request_id, who.ip,
                        {{"user_id", uid}});
    throw ApiError(ErrorCode::invalid_vault_password, "Current vault password is incorrect");
  }
  co_await check_not_account_password("new_vault_password", in.new_vault_password, user);
  vault::Wrapped w;
  co_await passwords_.pool().run(
      [&] { w = vault::wrap_data_key(*dk, in.new_vault_password, uid, passwords_.argon2()); });
  storage::VaultKey nk = k;
  nk.kdf_salt = w.salt;
  nk.kdf_mem_kib = w.mem_kib;
  nk.kdf_passes = w.passes;
  nk.wrapped_key = w.blob;
  nk.updated_at = now_unix();
  bool ok = false;
  co_await db_.run(Access::write,
                   [&](Repository& r) { ok = r.update_vault_key(nk, k.generation); });
  if (!ok) throw ApiError(ErrorCode::conflict, "The vault password was changed concurrently");
  obs::security_event("vault.password_change.success", who.request_id, who.ip, {{"user_id", uid}},
                      obs::Level::info);
}

void VaultService::index_rejected(std::string_view request_id, std::string_view ip,
                                  int64_t user_id) {
  // A list index that does not open, parse or hold what its rows say: tampering or corruption.
  // It is rebuilt from the entries (by the list, or after a write dropped it).
  obs::security_event("vault.index.rejected", request_id, ip, {{"user_id", user_id}});
}

Task<void> VaultService::write_indexed(Caller& who, const EntryIndexer& ix, int64_t user_id,
                                       std::function<void(Repository&)> work) {
  std::exception_ptr failed;
  try {
    co_await db_.run(Access::write, std::move(work));
  } catch (...) {
    failed = std::current_exception();  // rethrown below, not inside the handler (g++ 12)
  }
  if (ix.rejected()) index_rejected(who.request_id, who.ip, user_id);
  if (failed) std::rethrow_exception(failed);
}

Task<int64_t> VaultService::add(Caller& who, const Unlocked& u, const vault::Entry& e) {
  const SecretBytes pt = vault::encode_entry(e);
  const int64_t uid = u.session.user_id;
  const SecretBytes& dk = u.session.data_key;
  EntryIndexer ix(dk, uid, &e);
  std::optional<storage::VaultEntry> row;
  co_await write_indexed(who, ix, uid, [&](Repository& r) {
    row = r.add_vault_entry(
        uid, now_unix(), kMaxEntries,
        [&](int64_t id) { return vault::seal_entry(dk, uid, id, pt.view()); }, &ix, bytes());
  });
  if (!row) throw ApiError(ErrorCode::conflict, full_message());
  co_return row->id;
}

storage::VaultBytes VaultService::bytes() const {
  return {opts_.max_bytes, vault::kEntryOverhead};
}

std::string VaultService::full_message() const {
  return "The vault is full (at most " + std::to_string(kMaxEntries) + " entries and " +
         std::to_string(opts_.max_bytes) + " bytes)";
}

Task<std::vector<storage::VaultIndexChunk>> VaultService::rebuild_index(int64_t uid,
                                                                        const SecretBytes& dk) {
  EntryIndexer ix(dk, uid);
  std::optional<std::vector<storage::VaultIndexChunk>> chunks;
  co_await db_.run(Access::write, [&](Repository& r) { chunks = r.rebuild_vault_index(uid, ix); });
  if (!chunks) throw ApiError(ErrorCode::vault_not_initialized, "Vault is not set up");
  obs::log(obs::Level::info, "vault.index.rebuilt", {{"user_id", uid}});
  if (chunks->size() > storage::kIndexChunksPerRead) chunks->resize(storage::kIndexChunksPerRead);
  co_return std::move(*chunks);
}

// Reads the list index (a chunk per up to 256 entries) rather than every entry: one AEAD open per
// chunk instead of one per entry. A vault without a complete index (made before the index
// existed, or dropped after a chunk failed to open in a write) and an index that does not open
// (tampered or corrupt: a security event) get it rebuilt here from the entries, which remain the
// source of truth; an entry that does not open is a 500, as in get().
Task<VaultList> VaultService::list(Caller& who, const Unlocked& u,
                                   std::vector<storage::VaultIndexChunk> chunks,
                                   std::string_view head, std::string_view tail) {
  const int64_t uid = u.session.user_id;
  const SecretBytes& dk = u.session.data_key;
  const bool current = u.key.index_version == vault::kIndexVersion;
  if (!current) chunks = co_await rebuild_index(uid, dk);
  VaultList out;
  out.body = head;
  int64_t last = 0;
  bool opened = open_chunks_into(out.body, dk, uid, chunks, last);
  if (!opened && current) {
    index_rejected(who.request_id, who.ip, uid);
    chunks = co_await rebuild_index(uid, dk);
    opened = open_chunks_into(out.body, dk, uid, chunks, last);
  }
  if (!opened) throw std::runtime_error("vault index out of order after a rebuild");
  if (std::cmp_less(chunks.size(), storage::kIndexChunksPerRead))
    out.body += tail;
  else
    out.rest =
        std::make_shared<VaultListRest>(*this, dk, uid, chunks.back().chunk, last, tail, who);
  co_return out;
}

VaultListRest::VaultListRest(VaultService& svc, const SecretBytes& data_key, int64_t user_id,
                             int64_t after_chunk, int64_t last_id, std::string_view tail,
                             const Caller& who)
    : svc_(svc),
      data_key_(data_key),
      user_id_(user_id),
      after_chunk_(after_chunk),
      last_id_(last_id),
      tail_(tail),
      request_id_(who.request_id),
      ip_(who.ip) {}

Task<bool> VaultListRest::next(std::string& out) {
  std::vector<storage::VaultIndexChunk> chunks;
  co_await svc_.db_.run(Access::read, [&](Repository& r) {
    chunks = r.list_vault_index(user_id_, after_chunk_, storage::kIndexChunksPerRead);
  });
  if (!open_chunks_into(out, data_key_, user_id_, chunks, last_id_, /*resync=*/true)) {
    // The answer cannot be taken back now; the next list finds the index rebuilt.
    VaultService::index_rejected(request_id_, ip_, user_id_);
    co_await svc_.rebuild_index(user_id_, data_key_);
    throw std::runtime_error("vault index did not open while the list was being sent");
  }
  if (!chunks.empty()) after_chunk_ = chunks.back().chunk;
  if (std::cmp_less(chunks.size(), storage::kIndexChunksPerRead)) {
    out += tail_;
    co_return false;
  }
  co_return true;
}

// Rows are read kPageBatch at a time (one more than needed: whether more follow, without counting
// the rest), each batch dropped once its items are in the body, and the page ends early once the
// body holds kPageBytes: 20 clients paging through 500 entries of 10 KB each would otherwise hold
// 20 x (5 MB of rows + 5 MB of body) at once.
Task<VaultPageOut> VaultService::list_page(const Unlocked& u, VaultPage page,
                                           std::string_view head) {
  const int64_t uid = u.session.user_id;
  const SecretBytes& dk = u.session.data_key;
  VaultPageOut out;
  out.body = head;
  int64_t taken = 0, cursor = page.after;
  for (;;) {
    const int64_t want = std::min(kPageBatch, page.limit - taken);
    std::vector<storage::VaultEntry> rows;
    co_await db_.run(Access::read, [&](Repository& r) {
      rows = r.list_vault_entries_after(uid, cursor, want + 1);
    });
    std::size_t i = 0;
    for (; std::cmp_less(i, rows.size()) && std::cmp_less(i, want) &&
           (taken == 0 || out.body.size() < kPageBytes);
         ++i) {
      if (taken++ > 0) out.body += ',';
      out.body += vault::list_item(decrypt_entry(dk, rows[i]), meta_of(rows[i]));
      cursor = rows[i].id;
    }
    if (i == rows.size()) break;  // the vault holds no more
    if (taken == page.limit || out.body.size() >= kPageBytes) {
      out.next_after = cursor;
      break;
    }
  }
  co_return out;
}

OpenEntry VaultService::get(const Unlocked& u,
                            const std::optional<storage::VaultEntry>& row) const {
  if (!row) throw ApiError(ErrorCode::not_found, "Entry not found");
  return OpenEntry{decrypt_entry(u.session.data_key, *row), meta_of(*row)};
}

Task<vault::EntryMeta> VaultService::update(Caller& who, const Unlocked& u, int64_t id,
                                            const vault::Entry& e) {
  const int64_t uid = u.session.user_id;
  const SecretBytes& dk = u.session.data_key;
  std::string ct;
  {
    const SecretBytes pt = vault::encode_entry(e);
    ct = vault::seal_entry(dk, uid, id, pt.view());
  }
  EntryIndexer ix(dk, uid, &e);
  std::optional<storage::VaultEntry> row;
  bool full = false;
  co_await write_indexed(who, ix, uid, [&](Repository& r) {
    try {
      row = r.update_vault_entry(uid, id, ct, now_unix(), &ix, bytes());
    } catch (const storage::VaultFullError&) {
      full = true;
    }
  });
  if (full) throw ApiError(ErrorCode::conflict, full_message());
  if (!row) throw ApiError(ErrorCode::not_found, "Entry not found");
  co_return meta_of(*row);
}

Task<void> VaultService::remove(Caller& who, const Unlocked& u, int64_t id) {
  const int64_t uid = u.session.user_id;
  EntryIndexer ix(u.session.data_key, uid);
  bool done = false;
  co_await write_indexed(who, ix, uid,
                         [&](Repository& r) { done = r.delete_vault_entry(uid, id, &ix); });
  if (!done) throw ApiError(ErrorCode::not_found, "Entry not found");
}

}  // namespace sr::services
