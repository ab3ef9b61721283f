#include "storage/sqlite/sqlite_repository.hpp"

#include "storage/detail/vault_index.hpp"

namespace sr::storage::sqlite {

namespace {

User read_user(const Query& q) {
  return User{q.i64(0), q.text(1), q.text(2), q.text(3), q.i64(4)};
}

Session read_session(const Query& q) {
  Session s;
  s.id = q.text(0);
  s.user_id = q.i64(1);
  s.refresh_jti = q.text(2);
  s.created_at = q.i64(3);
  s.last_used_at = q.i64(4);
  s.expires_at = q.i64(5);
  s.revoked_at = q.opt_i64(6);
  s.user_agent = q.text(7);
  s.ip = q.text(8);
  s.vault_epoch = q.i64(9);
  return s;
}

SocialLink read_link(const Query& q) {
  return SocialLink{q.i64(0), q.i64(1), q.text(2), q.text(3), q.i64(4)};
}

VaultEntry read_entry(const Query& q) {
  return VaultEntry{q.i64(0), q.i64(1), q.blob(2), q.i64(3), q.i64(4)};
}

#define SESSION_COLS                                                                             \
  "id, user_id, refresh_jti, created_at, last_used_at, expires_at, revoked_at, user_agent, ip, " \
  "vault_epoch"
#define LINK_COLS "id, user_id, platform, url, created_at"
#define ENTRY_COLS "id, user_id, ciphertext, created_at, updated_at"

// What a user's vault holds, as VaultBytes counts it (inside the write's transaction: SQLite has
// one writer, so no other write can change it before the commit).
int64_t vault_bytes(Db& db, int64_t user_id, int64_t overhead) {
  Query q(
      db,
      "SELECT coalesce(sum(length(ciphertext)), 0) - ? * count(*) FROM vault WHERE user_id = ?");
  q.bind(overhead).bind(user_id);
  q.step();
  return q.i64(0);
}
#define HANDBOOK_COLS "full_name, age, phone, address, bio, updated_at"
#define VAULT_KEY_COLS                                                                            \
  "user_id, kdf_salt, kdf_mem_kib, kdf_passes, wrapped_key, generation, created_at, updated_at, " \
  "index_version"

}  // namespace

void SqliteRepository::ping() {
  Query q(db_, "SELECT 1");
  q.run();
}

int64_t SqliteRepository::create_user(const std::string& username, const std::string& username_norm,
                                      const std::string& email, const std::string& password_hash,
                                      int64_t now) {
  Query q(db_,
          "INSERT INTO users (username, username_norm, email, password_hash, created_at) "
          "VALUES (?, ?, ?, ?, ?) RETURNING id");
  q.bind(username).bind(username_norm).bind(email).bind(password_hash).bind(now);
  if (!q.step()) throw std::runtime_error("sqlite: insert returned no id");
  int64_t id = q.i64(0);
  q.run();
  return id;
}

std::optional<User> SqliteRepository::find_user_by_login(const std::string& login_lower) {
  // A username match wins over an email match should both exist for different users.
  Query q(db_,
          "SELECT id, username, email, password_hash, created_at FROM users "
          "WHERE username_norm = ?1 OR email = ?1 ORDER BY username_norm = ?1 DESC LIMIT 1");
  q.bind(login_lower);
  if (!q.step()) return std::nullopt;
  return read_user(q);
}

std::optional<User> SqliteRepository::find_user(int64_t id) {
  Query q(db_, "SELECT id, username, email, password_hash, created_at FROM users WHERE id = ?");
  q.bind(id);
  if (!q.step()) return std::nullopt;
  return read_user(q);
}

bool SqliteRepository::update_password_hash(int64_t user_id, const std::string& expected_hash,
                                            const std::string& hash) {
  Query q(db_, "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?");
  q.bind(hash).bind(user_id).bind(expected_hash).run();
  return q.changes() > 0;
}

int64_t SqliteRepository::change_password(int64_t user_id, const std::string& hash,
                                          const std::string& keep_sid, int64_t now) {
  Tx tx(db_);
  Query(db_, "UPDATE users SET password_hash = ? WHERE id = ?").bind(hash).bind(user_id).run();
  const int64_t revoked = revoke_user_sessions(user_id, keep_sid, now);
  tx.commit();
  return revoked;
}

bool SqliteRepository::delete_user(int64_t user_id) {
  Query q(db_, "DELETE FROM users WHERE id = ?");
  q.bind(user_id).run();
  return q.changes() > 0;
}

bool SqliteRepository::create_session(const Session& s, const std::string* verified_hash) {
  // SQLite has one writer: nothing can change the hash between the check and the insert.
  Query q(db_, verified_hash
                   ? "INSERT INTO sessions (" SESSION_COLS
                     ") SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
                     "WHERE EXISTS (SELECT 1 FROM users WHERE id = ? AND password_hash = ?)"
                   : "INSERT INTO sessions (" SESSION_COLS
                     ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(s.id)
      .bind(s.user_id)
      .bind(s.refresh_jti)
      .bind(s.created_at)
      .bind(s.last_used_at)
      .bind(s.expires_at)
      .bind(s.revoked_at)
      .bind(s.user_agent)
      .bind(s.ip)
      .bind(s.vault_epoch);
  if (verified_hash) q.bind(s.user_id).bind(*verified_hash);
  q.run();
  return q.changes() > 0;
}

std::optional<Session> SqliteRepository::find_session(const std::string& id) {
  Query q(db_, "SELECT " SESSION_COLS " FROM sessions WHERE id = ?");
  q.bind(id);
  if (!q.step()) return std::nullopt;
  return read_session(q);
}

bool SqliteRepository::rotate_refresh(const std::string& sid, const std::string& old_jti,
                                      const std::string& new_jti, int64_t new_expires_at,
                                      int64_t now) {
  Query q(db_,
          "UPDATE sessions SET refresh_jti = ?, expires_at = ?, last_used_at = ? "
          "WHERE id = ? AND refresh_jti = ? AND revoked_at IS NULL");
  q.bind(new_jti).bind(new_expires_at).bind(now).bind(sid).bind(old_jti).run();
  return q.changes() == 1;
}

void SqliteRepository::touch_session(const std::string& sid, int64_t now) {
  Query q(db_, "UPDATE sessions SET last_used_at = ? WHERE id = ? AND last_used_at < ?");
  q.bind(now).bind(sid).bind(now - 60).run();
}

bool SqliteRepository::revoke_session(const std::string& sid, int64_t now) {
  Query q(db_, "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
  q.bind(now).bind(sid).run();
  return q.changes() > 0;
}

int64_t SqliteRepository::revoke_user_sessions(int64_t user_id, const std::string& except_sid,
                                               int64_t now) {
  Query q(db_,
          "UPDATE sessions SET revoked_at = ? "
          "WHERE user_id = ? AND id <> ? AND revoked_at IS NULL");
  q.bind(now).bind(user_id).bind(except_sid).run();
  return q.changes();
}

std::vector<Session> SqliteRepository::list_active_sessions(int64_t user_id, int64_t now) {
  Query q(db_, "SELECT " SESSION_COLS
               " FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? "
               "ORDER BY created_at, rowid");
  q.bind(user_id).bind(now);
  std::vector<Session> out;
  while (q.step()) out.push_back(read_session(q));
  return out;
}

int64_t SqliteRepository::bump_vault_epoch(const std::string& sid) {
  Query q(db_,
          "UPDATE sessions SET vault_epoch = vault_epoch + 1 WHERE id = ? RETURNING vault_epoch");
  q.bind(sid);
  if (!q.step()) return 0;
  int64_t epoch = q.i64(0);
  q.run();
  return epoch;
}

void SqliteRepository::block_token(const std::string& jti, const std::string& sid, int64_t user_id,
                                   int64_t expires_at) {
  Query q(db_,
          "INSERT INTO token_blocklist (jti, session_id, user_id, expires_at) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (jti) DO NOTHING");
  q.bind(jti).bind(sid).bind(user_id).bind(expires_at).run();
}

bool SqliteRepository::is_token_blocked(const std::string& jti) {
  Query q(db_, "SELECT 1 FROM token_blocklist WHERE jti = ?");
  q.bind(jti);
  return q.step();
}

int64_t SqliteRepository::purge_expired(int64_t now) {
  Tx tx(db_);
  int64_t n = 0;
  {
    Query q(db_, "DELETE FROM sessions WHERE expires_at < ?");
    q.bind(now).run();
    n += q.changes();
  }
  {
    Query q(db_, "DELETE FROM token_blocklist WHERE expires_at < ?");
    q.bind(now).run();
    n += q.changes();
  }
  {
    Query q(db_, "DELETE FROM mfa_challenges WHERE expires_at < ?");
    q.bind(now).run();
    n += q.changes();
  }
  tx.commit();
  return n;
}

std::optional<Handbook> SqliteRepository::get_handbook(int64_t user_id) {
  Query q(db_, "SELECT " HANDBOOK_COLS " FROM personal_handbook WHERE user_id = ?");
  q.bind(user_id);
  if (!q.step()) return std::nullopt;
  return Handbook{q.opt_text(0), q.opt_i64(1),  q.opt_text(2),
                  q.opt_text(3), q.opt_text(4), q.i64(5)};
}

Handbook SqliteRepository::put_handbook(int64_t user_id, const Handbook& h) {
  Query q(db_, "INSERT INTO personal_handbook (user_id, " HANDBOOK_COLS
               ") VALUES (?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (user_id) DO UPDATE SET full_name = excluded.full_name, "
               "age = excluded.age, phone = excluded.phone, address = excluded.address, "
               "bio = excluded.bio, updated_at = excluded.updated_at "
               "RETURNING " HANDBOOK_COLS);
  q.bind(user_id)
      .bind(h.full_name)
      .bind(h.age)
      .bind(h.phone)
      .bind(h.address)
      .bind(h.bio)
      .bind(h.updated_at);
  if (!q.step()) throw std::runtime_error("sqlite: upsert returned no row");
  Handbook out{q.opt_text(0), q.opt_i64(1), q.opt_text(2), q.opt_text(3), q.opt_text(4), q.i64(5)};
  q.run();
  return out;
}

std::vector<SocialLink> SqliteRepository::list_links(int64_t user_id) {
  Query q(db_, "SELECT " LINK_COLS " FROM social_links WHERE user_id = ? ORDER BY id");
  q.bind(user_id);
  std::vector<SocialLink> out;
  while (q.step()) out.push_back(read_link(q));
  return out;
}

std::optional<SocialLink> SqliteRepository::add_link(int64_t user_id, const std::string& platform,
                                                     const std::string& url, int64_t now,
                                                     int64_t cap) {
  // Writes are serialized on one connection and BEGIN IMMEDIATE holds the write lock from the
  // count to the insert: no other writer can slip in between.
  Tx tx(db_);
  {
    Query c(db_, "SELECT count(*) FROM social_links WHERE user_id = ?");
    c.bind(user_id);
    c.step();
    if (c.i64(0) >= cap) return std::nullopt;
  }
  std::optional<SocialLink> out;
  {
    Query q(db_,
            "INSERT INTO social_links (user_id, platform, url, created_at) VALUES (?, ?, ?, ?) "
            "RETURNING " LINK_COLS);
    q.bind(user_id).bind(platform).bind(url).bind(now);
    if (!q.step()) throw std::runtime_error("sqlite: insert returned no row");
    out = read_link(q);
    q.run();
  }
  tx.commit();
  return out;
}

std::optional<SocialLink> SqliteRepository::update_link(int64_t user_id, int64_t id,
                                                        const std::string& platform,
                                                        const std::string& url) {
  Query q(db_,
          "UPDATE social_links SET platform = ?, url = ? WHERE id = ? AND user_id = ? "
          "RETURNING " LINK_COLS);
  q.bind(platform).bind(url).bind(id).bind(user_id);
  if (!q.step()) return std::nullopt;
  auto out = read_link(q);
  q.run();
  return out;
}

bool SqliteRepository::delete_link(int64_t user_id, int64_t id) {
  Query q(db_, "DELETE FROM social_links WHERE id = ? AND user_id = ?");
  q.bind(id).bind(user_id).run();
  return q.changes() > 0;
}

std::optional<VaultKey> SqliteRepository::get_vault_key(int64_t user_id) {
  Query q(db_, "SELECT " VAULT_KEY_COLS " FROM vault_keys WHERE user_id = ?");
  q.bind(user_id);
  if (!q.step()) return std::nullopt;
  return VaultKey{q.i64(0), q.blob(1), q.i64(2), q.i64(3), q.blob(4),
                  q.i64(5), q.i64(6),  q.i64(7), q.i64(8)};
}

bool SqliteRepository::create_vault_key(const VaultKey& k) {
  Query q(db_, "INSERT INTO vault_keys (" VAULT_KEY_COLS
               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO NOTHING");
  q.bind(k.user_id)
      .bind_blob(k.kdf_salt)
      .bind(k.kdf_mem_kib)
      .bind(k.kdf_passes)
      .bind_blob(k.wrapped_key)
      .bind(k.generation)
      .bind(k.created_at)
      .bind(k.updated_at)
      .bind(k.index_version)
      .run();
  return q.changes() == 1;
}

bool SqliteRepository::update_vault_key(const VaultKey& k, int64_t expected_generation) {
  Query q(db_,
          "UPDATE vault_keys SET kdf_salt = ?, kdf_mem_kib = ?, kdf_passes = ?, wrapped_key = ?, "
          "generation = generation + 1, updated_at = ? WHERE user_id = ? AND generation = ?");
  q.bind_blob(k.kdf_salt)
      .bind(k.kdf_mem_kib)
      .bind(k.kdf_passes)
      .bind_blob(k.wrapped_key)
      .bind(k.updated_at)
      .bind(k.user_id)
      .bind(expected_generation)
      .run();
  return q.changes() == 1;
}

// --- the list index: every entry write below runs in one Tx with the change to its chunk.

bool SqliteRepository::keeps_index(int64_t user_id, const VaultIndexer* index) {
  Query q(db_, "SELECT index_version FROM vault_keys WHERE user_id = ?");
  q.bind(user_id);
  const int64_t v = q.step() ? q.i64(0) : 0;
  if (v != 0 && index && v == index->version()) return true;
  if (v != 0) drop_index(user_id);
  return false;
}

void SqliteRepository::drop_index(int64_t user_id) {
  Query(db_, "UPDATE vault_keys SET index_version = 0 WHERE user_id = ?").bind(user_id).run();
}

void SqliteRepository::put_chunk(int64_t user_id, const VaultIndexChunk& c) {
  Query(db_,
        "INSERT INTO vault_index (user_id, chunk, ciphertext) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id, chunk) DO UPDATE SET ciphertext = excluded.ciphertext")
      .bind(user_id)
      .bind(c.chunk)
      .bind_blob(c.ciphertext)
      .run();
}

void SqliteRepository::edit_chunk(
    int64_t user_id, std::optional<int64_t> chunk,
    const std::function<std::optional<std::string>(const VaultIndexChunk&)>& edit) {
  std::optional<VaultIndexChunk> c;
  if (chunk) {
    Query q(db_, "SELECT ciphertext FROM vault_index WHERE user_id = ? AND chunk = ?");
    q.bind(user_id).bind(*chunk);
    if (q.step()) c = VaultIndexChunk{*chunk, q.blob(0)};
  }
  std::optional<std::string> next;
  if (c) next = edit(*c);
  if (!next) return drop_index(user_id);
  if (next->empty()) {
    Query(db_, "DELETE FROM vault_index WHERE user_id = ? AND chunk = ?")
        .bind(user_id)
        .bind(*chunk)
        .run();
  } else {
    put_chunk(user_id, {*chunk, std::move(*next)});
  }
}

std::vector<VaultIndexChunk> SqliteRepository::list_vault_index(int64_t user_id,
                                                                int64_t after_chunk,
                                                                int64_t limit) {
  Query q(db_,
          "SELECT chunk, ciphertext FROM vault_index WHERE user_id = ? AND chunk > ? "
          "ORDER BY chunk LIMIT ?");
  q.bind(user_id).bind(after_chunk).bind(limit);
  std::vector<VaultIndexChunk> out;
  while (q.step()) out.push_back({q.i64(0), q.blob(1)});
  return out;
}

std::optional<std::vector<VaultIndexChunk>> SqliteRepository::rebuild_vault_index(
    int64_t user_id, VaultIndexer& index) {
  Tx tx(db_);
  {
    Query q(db_, "SELECT 1 FROM vault_keys WHERE user_id = ?");
    if (!q.bind(user_id).step()) return std::nullopt;
  }
  int64_t first_chunk = 1;
  {
    Query q(db_, "SELECT COALESCE(MAX(chunk), 0) + 1 FROM vault_index WHERE user_id = ?");
    if (q.bind(user_id).step()) first_chunk = q.i64(0);
  }
  const auto entries = list_vault_entries(user_id);
  auto built = index.build(entries, first_chunk);
  if (!built) return std::nullopt;
  detail::check_built(*built, entries, first_chunk);
  Query(db_, "DELETE FROM vault_index WHERE user_id = ?").bind(user_id).run();
  std::vector<VaultIndexChunk> out;
  for (auto& b : *built) {
    put_chunk(user_id, b.chunk);
    if (!b.ids.empty()) {
      Query(db_, "UPDATE vault SET index_chunk = ? WHERE user_id = ? AND id BETWEEN ? AND ?")
          .bind(b.chunk.chunk)
          .bind(user_id)
          .bind(b.ids.front())
          .bind(b.ids.back())
          .run();
    }
    out.push_back(std::move(b.chunk));
  }
  Query(db_, "UPDATE vault_keys SET index_version = ? WHERE user_id = ?")
      .bind(index.version())
      .bind(user_id)
      .run();
  tx.commit();
  return out;
}

std::optional<VaultEntry> SqliteRepository::add_vault_entry(
    int64_t user_id, int64_t now, int64_t cap, const std::function<std::string(int64_t id)>& seal,
    VaultIndexer* index, const VaultBytes& bytes) {
  Tx tx(db_);
  {
    Query c(db_, "SELECT count(*) FROM vault WHERE user_id = ?");
    c.bind(user_id);
    c.step();
    if (c.i64(0) >= cap) return std::nullopt;
  }
  int64_t id = 0;
  {
    Query q(db_,
            "INSERT INTO vault (user_id, ciphertext, created_at, updated_at) "
            "VALUES (?, x'', ?, ?) RETURNING id");
    q.bind(user_id).bind(now).bind(now);
    if (!q.step()) throw std::runtime_error("sqlite: insert returned no id");
    id = q.i64(0);
    q.run();
  }
  VaultEntry e{id, user_id, seal(id), now, now};  // a throwing seal rolls everything back
  std::optional<int64_t> chunk;
  if (keeps_index(user_id, index)) {
    std::optional<VaultIndexChunk> last;
    {
      Query q(db_,
              "SELECT chunk, ciphertext FROM vault_index WHERE user_id = ? "
              "ORDER BY chunk DESC LIMIT 1");
      if (q.bind(user_id).step()) last = VaultIndexChunk{q.i64(0), q.blob(1)};
    }
    auto c = index->added(e, last);
    if (c && (!last || c->chunk >= last->chunk)) {
      put_chunk(user_id, *c);
      chunk = c->chunk;
    } else {
      drop_index(user_id);
    }
  }
  Query(db_, "UPDATE vault SET ciphertext = ?, index_chunk = ? WHERE id = ?")
      .bind_blob(e.ciphertext)
      .bind(chunk)
      .bind(id)
      .run();
  if (bytes.max > 0 && vault_bytes(db_, user_id, bytes.overhead) > bytes.max)
    return std::nullopt;  // rolled back by tx, with the id and the chunk
  tx.commit();
  return e;
}

std::vector<VaultEntry> SqliteRepository::list_vault_entries(int64_t user_id) {
  Query q(db_, "SELECT " ENTRY_COLS " FROM vault WHERE user_id = ? ORDER BY id");
  q.bind(user_id);
  std::vector<VaultEntry> out;
  while (q.step()) out.push_back(read_entry(q));
  return out;
}

std::vector<VaultEntry> SqliteRepository::list_vault_entries_after(int64_t user_id, int64_t after,
                                                                   int64_t limit) {
  Query q(db_, "SELECT " ENTRY_COLS " FROM vault WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?");
  q.bind(user_id).bind(after).bind(limit);
  std::vector<VaultEntry> out;
  while (q.step()) out.push_back(read_entry(q));
  return out;
}

std::optional<VaultEntry> SqliteRepository::get_vault_entry(int64_t user_id, int64_t id) {
  Query q(db_, "SELECT " ENTRY_COLS " FROM vault WHERE id = ? AND user_id = ?");
  q.bind(id).bind(user_id);
  if (!q.step()) return std::nullopt;
  return read_entry(q);
}

std::optional<VaultEntry> SqliteRepository::update_vault_entry(int64_t user_id, int64_t id,
                                                               const std::string& ciphertext,
                                                               int64_t now, VaultIndexer* index,
                                                               const VaultBytes& bytes) {
  Tx tx(db_);
  std::optional<VaultEntry> out;
  std::optional<int64_t> chunk;
  int64_t old_size = 0;
  if (bytes.max > 0) {
    Query q(db_, "SELECT length(ciphertext) FROM vault WHERE id = ? AND user_id = ?");
    if (!q.bind(id).bind(user_id).step()) return std::nullopt;
    old_size = q.i64(0);
  }
  {
    Query q(db_,
            "UPDATE vault SET ciphertext = ?, updated_at = ? WHERE id = ? AND user_id = ? "
            "RETURNING " ENTRY_COLS ", index_chunk");
    q.bind_blob(ciphertext).bind(now).bind(id).bind(user_id);
    if (!q.step()) return std::nullopt;
    out = read_entry(q);
    chunk = q.opt_i64(5);
    q.run();
  }
  if (bytes.max > 0 && static_cast<int64_t>(ciphertext.size()) > old_size &&
      vault_bytes(db_, user_id, bytes.overhead) > bytes.max)
    throw VaultFullError("vault size bound");  // rolled back by tx
  if (keeps_index(user_id, index))
    edit_chunk(user_id, chunk, [&](const VaultIndexChunk& c) { return index->updated(*out, c); });
  tx.commit();
  return out;
}

bool SqliteRepository::delete_vault_entry(int64_t user_id, int64_t id, VaultIndexer* index) {
  Tx tx(db_);
  std::optional<int64_t> chunk;
  {
    Query q(db_, "DELETE FROM vault WHERE id = ? AND user_id = ? RETURNING index_chunk");
    q.bind(id).bind(user_id);
    if (!q.step()) return false;
    chunk = q.opt_i64(0);
    q.run();
  }
  if (keeps_index(user_id, index))
    edit_chunk(user_id, chunk, [&](const VaultIndexChunk& c) { return index->removed(id, c); });
  tx.commit();
  return true;
}

}  // namespace sr::storage::sqlite
