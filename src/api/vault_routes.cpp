// /vault/*: the password vault (SPEC 7 and 12). Entries are sealed with the user's data key; the
// data key exists in clear only inside a vault session token sealed with the server's key, and in
// memory for the duration of one request.
#include <sodium.h>

#include <limits>

#include "api/cookies.hpp"
#include "api/pipeline.hpp"
#include "api/routes.hpp"
#include "api/tokens.hpp"
#include "api/validation.hpp"
#include "observability/log.hpp"
#include "util/clock.hpp"
#include "vault/crypto.hpp"
#include "vault/index.hpp"

namespace sr::api {
namespace {

using http::Method;
using storage::Access;
using storage::Repository;

constexpr int64_t kMaxEntries = 10000;

struct Unlocked {
  vault::VaultSession vs;
  storage::VaultKey key;
};

// Wipes a std::string that held secret text before it is freed.
struct Wipe {
  std::string& s;
  ~Wipe() { sodium_memzero(s.data(), s.size()); }
};

// Reads the vault key with whatever else b wants (one trip to the database); 409 without one.
Task<storage::VaultKey> require_key(Call& call, storage::ReadBatch& b) {
  b.want.vault_key = true;
  co_await call.read(b);
  if (!b.vault_key) throw ApiError(ErrorCode::vault_not_initialized, "Vault is not set up");
  co_return std::move(*b.vault_key);
}

Task<storage::VaultKey> require_key(Call& call) {
  storage::ReadBatch b;
  co_return co_await require_key(call, b);
}

std::string_view vault_token(const Call& call) {
  std::string_view t = call.req.header("X-Vault-Token");
  if (t.empty()) t = find_cookie(call.req.header("Cookie"), call.ctx.cookies.vault);
  return t;
}

// The open vault session of this auth session, or nullopt when locked/expired/ended.
std::optional<vault::VaultSession> open_vault(const Call& call, const storage::VaultKey& key,
                                              int64_t now) {
  std::string_view token = vault_token(call);
  if (token.empty() || token.size() > 1024) return std::nullopt;
  auto vs = vault::open_session(token, call.ctx.vault_key);
  if (!vs) return std::nullopt;
  const auto& p = call.who();
  if (vs->user_id != p.user_id || vs->sid != p.session().id || now >= vs->expires_at ||
      vs->key_generation != key.generation || vs->epoch != p.session().vault_epoch)
    return std::nullopt;
  return vs;
}

// The open vault session (423-style vault_locked otherwise), read with whatever else b wants.
Task<Unlocked> require_unlocked(Call& call, storage::ReadBatch& b) {
  auto key = co_await require_key(call, b);
  const int64_t now = now_unix();
  auto vs = open_vault(call, key, now);
  if (!vs) throw ApiError(ErrorCode::vault_locked, "Vault is locked");
  // Sliding session (SPEC 12): renew once at least half of it is gone, never past vault_max_ttl
  // from unlock. Compared doubled: halving with integer division renewed early on odd lifetimes.
  const auto& cfg = call.ctx.cfg;
  const int64_t cap = vs->unlocked_at + cfg.vault_max_ttl;
  if (2 * (now - vs->issued_at) >= vs->expires_at - vs->issued_at && vs->expires_at < cap) {
    vs->issued_at = now;
    vs->expires_at = std::min(now + cfg.vault_ttl, cap);
    std::string t = vault::seal_session(*vs, call.ctx.vault_key);
    call.cookies.push_back(vault_cookie(call.ctx, t, vs->expires_at - now));
    call.headers.emplace_back("X-Vault-Token", t);
  }
  co_return Unlocked{std::move(*vs), std::move(key)};
}

Task<Unlocked> require_unlocked(Call& call) {
  storage::ReadBatch b;
  co_return co_await require_unlocked(call, b);
}

json::FieldRule secret_field(std::string name) {
  return json::str(std::move(name), 1, 1024, true);
}

const json::Schema& entry_schema() {
  static const json::Schema schema = [] {
    auto url = json::str("url", 1, 2048, false);
    url.check = check_url;
    url.nullable = true;
    auto notes = json::str("notes", 0, 10000, false);
    notes.single_line = false;
    notes.nullable = true;
    return json::Schema{json::str("domain", 1, 255, true), json::str("account_name", 1, 255, true),
                        json::str("pin_or_password", 1, 1024, true), url, notes};
  }();
  return schema;
}

// The plaintext of an entry: the validated fields as a JSON object.
std::string entry_plaintext(const json::Fields& f) {
  json::Writer w;
  w.begin_object();
  for (const char* k : {"domain", "account_name", "pin_or_password", "url", "notes"}) {
    if (auto v = f.str(k)) w.kv(k, *v);
  }
  w.end_object();
  return w.take();
}

// The shape of a stored plaintext. Its values were validated by entry_schema() before they were
// sealed, and the AEAD tag proves they are the ones we sealed for this user and entry: reading
// them back checks the shape only (no URL parse, no bounds), which made a 50-entry list ~10%
// cheaper.
const json::Schema& stored_schema() {
  static const json::Schema schema = [] {
    constexpr auto any = std::numeric_limits<std::size_t>::max();
    auto shape = [](json::FieldRule r) {
      r.single_line = false;
      r.nullable = !r.required;
      return r;
    };
    return json::Schema{
        shape(json::str("domain", 0, any, true)), shape(json::str("account_name", 0, any, true)),
        shape(json::str("pin_or_password", 0, any, true)), shape(json::str("url", 0, any, false)),
        shape(json::str("notes", 0, any, false))};
  }();
  return schema;
}

// The fields of a stored entry (their shape only: see stored_schema()).
json::Fields decrypt(const SecretBytes& dk, const storage::VaultEntry& e) {
  auto pt = vault::open_entry(dk, e.user_id, e.id, e.ciphertext);
  if (!pt) throw std::runtime_error("vault entry failed authentication");  // -> 500, logged
  return json::parse_request(pt->view(), stored_schema());
}

void write_entry(json::Writer& w, const json::Fields& f, const storage::VaultEntry& e,
                 bool with_secret) {
  w.begin_object()
      .kv("id", e.id)
      .kv("domain", *f.str("domain"))
      .kv("account_name", *f.str("account_name"));
  if (with_secret) w.kv("pin_or_password", *f.str("pin_or_password"));
  w.kv("url", f.str("url"))
      .kv("notes", f.str("notes"))
      .kv("created_at", rfc3339(e.created_at))
      .kv("updated_at", rfc3339(e.updated_at))
      .end_object();
}

// What the list shows of an entry: the item stored in the list index.
std::string list_item(const json::Fields& f, const storage::VaultEntry& e) {
  json::Writer w;
  write_entry(w, f, e, false);
  return w.take();
}

// Strings that held entry fields, wiped before they are freed.
struct WipedStrings {
  std::vector<std::string> v;
  WipedStrings() = default;
  WipedStrings(const WipedStrings&) = delete;
  WipedStrings& operator=(const WipedStrings&) = delete;
  ~WipedStrings() {
    for (auto& s : v) sodium_memzero(s.data(), s.size());
  }
};

// A list index that does not open, parse or hold what its rows say: tampering or corruption.
// The index is then rebuilt from the entries (by the list, or after a write dropped it).
void index_rejected(const Call& call, int64_t uid) {
  obs::security_event("vault.index.rejected", call.req.request_id, call.ip, {{"user_id", uid}});
}

// Keeps the list index (vault/index.hpp) for the storage, inside its write transactions, with
// the data key of this request. `fields` are the entry being added or updated.
class EntryIndexer final : public storage::VaultIndexer {
 public:
  EntryIndexer(const Call& call, const SecretBytes& dk, int64_t user_id,
               const json::Fields* fields = nullptr)
      : call_(call), dk_(dk), uid_(user_id), fields_(fields) {}

  int64_t version() const override { return vault::kIndexVersion; }

  std::optional<storage::VaultIndexChunk> added(
      const storage::VaultEntry& e, const std::optional<storage::VaultIndexChunk>& last) override {
    std::string item = list_item(*fields_, e);
    Wipe wipe{item};
    if (last) {
      auto pt = vault::open_index_chunk(dk_, uid_, last->chunk, last->ciphertext);
      std::optional<vault::ChunkView> v;
      if (pt) v = vault::parse_index_chunk(pt->view());
      // Ids only grow, so the new entry goes last; anything else is not an index we keep.
      if (!v || (!v->items.empty() && v->items.back().id >= e.id)) return rejected();
      if (!vault::chunk_full(v->items)) {
        v->items.push_back({e.id, item});
        return storage::VaultIndexChunk{last->chunk, seal(last->chunk, v->items)};
      }
    }
    const int64_t next = last ? last->chunk + 1 : 1;
    const vault::IndexItem one[] = {{e.id, item}};
    return storage::VaultIndexChunk{next, seal(next, one)};
  }

  std::optional<std::string> updated(const storage::VaultEntry& e,
                                     const storage::VaultIndexChunk& c) override {
    std::string item = list_item(*fields_, e);
    Wipe wipe{item};
    return edit(c, e.id, [&](auto&, auto it) { it->json = item; });
  }

  std::optional<std::string> removed(int64_t id, const storage::VaultIndexChunk& c) override {
    return edit(c, id, [](auto& items, auto it) { items.erase(it); });
  }

  std::optional<std::vector<Built>> build(
      const std::vector<storage::VaultEntry>& entries) override {
    WipedStrings json;
    json.v.reserve(entries.size());
    for (const auto& e : entries) json.v.push_back(list_item(decrypt(dk_, e), e));
    std::vector<Built> out;
    std::vector<vault::IndexItem> items;
    auto close = [&] {
      const int64_t no = static_cast<int64_t>(out.size()) + 1;
      Built b{{no, seal(no, items)}, {}};
      for (const auto& it : items) b.ids.push_back(it.id);
      out.push_back(std::move(b));
      items.clear();
    };
    for (std::size_t i = 0; i < entries.size(); ++i) {
      items.push_back({entries[i].id, json.v[i]});
      if (vault::chunk_full(items)) close();
    }
    if (!items.empty()) close();
    return out;
  }

 private:
  std::string seal(int64_t chunk, std::span<const vault::IndexItem> items) const {
    const SecretBytes pt = vault::encode_index_chunk(items);
    return vault::seal_index_chunk(dk_, uid_, chunk, pt.view());
  }

  // Opens c, applies f to the item with this id, seals the rest ("" when nothing is left);
  // nullopt when c does not open or does not hold id.
  template <class F>
  std::optional<std::string> edit(const storage::VaultIndexChunk& c, int64_t id, F f) const {
    auto pt = vault::open_index_chunk(dk_, uid_, c.chunk, c.ciphertext);
    std::optional<vault::ChunkView> v;
    if (pt) v = vault::parse_index_chunk(pt->view());
    if (!v) return rejected();
    auto& items = v->items;
    auto it = std::lower_bound(items.begin(), items.end(), id,
                               [](const vault::IndexItem& x, int64_t want) { return x.id < want; });
    if (it == items.end() || it->id != id) return rejected();
    f(items, it);
    if (items.empty()) return std::string();
    return seal(c.chunk, items);
  }

  // The storage then drops the index and keeps the write; the next list rebuilds it.
  std::nullopt_t rejected() const {
    index_rejected(call_, uid_);
    return std::nullopt;
  }

  const Call& call_;
  const SecretBytes& dk_;
  int64_t uid_;
  const json::Fields* fields_;
};

// Checks a proposed vault password: policy, then (on the hash pool) that it is not the account
// password.
void check_vault_policy(const Call& call, std::string_view field, std::string_view pw,
                        const storage::User& u) {
  if (auto msg = auth::check_password_policy(pw, u.username, call.ctx.policy))
    fail_field(std::string(field), *msg);
}
Task<void> check_not_account_password(Call& call, std::string_view field, const SecretString& pw,
                                      const storage::User& u) {
  bool same = false;
  co_await call.ctx.hashes.run(
      [&] { same = auth::verify_password(pw, u.password_hash, call.ctx.argon2).ok; });
  if (same) fail_field(std::string(field), "must differ from the account password");
}

Task<storage::User> current_user(Call& call) {
  const int64_t uid = call.who().user_id;
  std::optional<storage::User> u;
  co_await call.ctx.db.run(Access::read, [&](Repository& r) { u = r.find_user(uid); });
  if (!u) throw ApiError(ErrorCode::token_revoked, "Session has been revoked");
  co_return std::move(*u);
}

// ---------------------------------------------------------------------------------------------

Task<http::Response> status(Call& call) {
  storage::ReadBatch b;
  b.want.vault_key = true;
  co_await call.read(b);
  const auto& k = b.vault_key;
  std::optional<vault::VaultSession> vs;
  if (k) vs = open_vault(call, *k, now_unix());
  json::Writer w;
  w.begin_object()
      .kv("initialized", k.has_value())
      .kv("unlocked", vs.has_value())
      .key("expires_at");
  if (vs)
    w.value(rfc3339(vs->expires_at));
  else
    w.value(nullptr);
  w.end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> setup(Call& call) {
  static const json::Schema schema{secret_field("vault_password")};
  auto f = call.body(schema);
  auto user = co_await current_user(call);
  check_vault_policy(call, "vault_password", *f.str("vault_password"), user);
  const int64_t uid = user.id;
  bool exists = false;
  co_await call.ctx.db.run(Access::read,
                           [&](Repository& r) { exists = r.get_vault_key(uid).has_value(); });
  if (exists) throw ApiError(ErrorCode::conflict, "Vault is already set up");
  SecretString pw = f.secret("vault_password");
  co_await check_not_account_password(call, "vault_password", pw, user);
  vault::Wrapped wrapped;
  co_await call.ctx.hashes.run([&] {
    SecretBytes dk = vault::new_data_key();
    wrapped = vault::wrap_data_key(dk, pw, uid, call.ctx.argon2);
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
  bool created = false;
  co_await call.ctx.db.run(Access::write, [&](Repository& r) { created = r.create_vault_key(k); });
  if (!created) throw ApiError(ErrorCode::conflict, "Vault is already set up");
  co_return call.respond(201, R"({"message":"Vault created"})");
}

Task<http::Response> unlock(Call& call) {
  static const json::Schema schema{secret_field("vault_password")};
  auto f = call.body(schema);
  const int64_t uid = call.who().user_id;
  const std::string limit_key = "user:" + std::to_string(uid);
  co_await call.limit("vault_unlock", limit_key);
  auto key = co_await require_key(call);
  SecretString pw = f.secret("vault_password");
  std::optional<SecretBytes> dk;
  co_await call.ctx.hashes.run([&] {
    dk = vault::unwrap_data_key({key.kdf_salt, key.kdf_mem_kib, key.kdf_passes, key.wrapped_key},
                                pw, uid);
  });
  if (!dk) {
    call.ctx.metrics.inc("auth_failures_total", "reason=\"invalid_vault_password\"");
    obs::security_event("vault.unlock.failure", call.req.request_id, call.ip, {{"user_id", uid}});
    throw ApiError(ErrorCode::invalid_vault_password, "Invalid vault password");
  }
  const int64_t now = now_unix();
  vault::VaultSession vs;
  vs.user_id = uid;
  vs.sid = call.who().session().id;
  vs.data_key = std::move(*dk);
  vs.unlocked_at = vs.issued_at = now;
  vs.expires_at = now + call.ctx.cfg.vault_ttl;
  vs.key_generation = key.generation;
  vs.epoch = call.who().session().vault_epoch;
  std::string token = vault::seal_session(vs, call.ctx.vault_key);
  call.cookies.push_back(vault_cookie(call.ctx, token, call.ctx.cfg.vault_ttl));
  obs::security_event("vault.unlock.success", call.req.request_id, call.ip, {{"user_id", uid}},
                      obs::Level::info);
  json::Writer w;
  w.begin_object()
      .kv("message", "Vault unlocked")
      .kv("expires_in", call.ctx.cfg.vault_ttl)
      .kv("vault_token", token)
      .end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> lock(Call& call) {
  // Named, not a discarded VaultKey temporary in the co_await expression (g++ 12 caveat).
  const storage::VaultKey key = co_await require_key(call);
  (void)key;
  const std::string sid = call.who().session().id;
  co_await call.ctx.db.run(Access::write, [&](Repository& r) { r.bump_vault_epoch(sid); });
  call.cookies.push_back(vault_cookie(call.ctx, "", 0));
  co_return call.respond(200, R"({"message":"Vault locked"})");
}

Task<http::Response> add(Call& call) {
  auto u = co_await require_unlocked(call);
  auto f = call.body(entry_schema());
  std::string pt = entry_plaintext(f);
  Wipe wipe{pt};
  const int64_t uid = u.vs.user_id;
  EntryIndexer ix(call, u.vs.data_key, uid, &f);
  std::optional<storage::VaultEntry> e;
  co_await call.ctx.db.run(Access::write, [&](Repository& r) {
    e = r.add_vault_entry(
        uid, now_unix(), kMaxEntries,
        [&](int64_t id) { return vault::seal_entry(u.vs.data_key, uid, id, pt); }, &ix);
  });
  if (!e) throw ApiError(ErrorCode::conflict, "At most 10000 vault entries per user");
  json::Writer w;
  w.begin_object().kv("id", e->id).kv("message", "Entry added").end_object();
  co_return call.respond(201, w.take());
}

// The list from the index: each chunk is opened straight into the response body, where its
// region of JSON items stays as it is. nullopt when the index cannot be used as it is: a chunk
// that does not open or parse, or ids that do not ascend from one chunk to the next (the caller
// rebuilds the index from the entries).
std::optional<std::string> render_list(const SecretBytes& dk, int64_t uid,
                                       const std::vector<storage::VaultIndexChunk>& chunks) {
  constexpr std::string_view head = R"({"entries":[)", tail = "]}";
  std::size_t room = head.size() + tail.size() + chunks.size();
  for (const auto& c : chunks) {
    auto n = vault::index_chunk_plaintext_size(c.ciphertext);
    if (!n) return std::nullopt;
    room += *n;
  }
  std::string body(room, '\0');
  Wipe wipe{body};  // unless it is handed out below (then it is empty)
  body.replace(0, head.size(), head);
  std::size_t at = head.size();
  int64_t last = 0;
  for (const auto& c : chunks) {
    char* out = body.data() + at;
    if (!vault::open_index_chunk_into(dk, uid, c.chunk, c.ciphertext, out)) return std::nullopt;
    auto v = vault::parse_index_chunk({out, *vault::index_chunk_plaintext_size(c.ciphertext)});
    if (!v || v->items.empty() || v->items.front().id <= last) return std::nullopt;
    last = v->items.back().id;
    at += v->region.size();  // the next chunk overwrites this one's table
    body[at++] = ',';
  }
  if (last != 0) --at;  // the last comma
  body.resize(at);      // drops the last table (ids and lengths)
  body += tail;
  return body;
}

// Builds the list index from the entries, in one write transaction (EntryIndexer::build).
Task<std::vector<storage::VaultIndexChunk>> rebuild_index(Call& call, const Unlocked& u) {
  const int64_t uid = u.vs.user_id;
  EntryIndexer ix(call, u.vs.data_key, uid);
  std::optional<std::vector<storage::VaultIndexChunk>> chunks;
  co_await call.ctx.db.run(Access::write,
                           [&](Repository& r) { chunks = r.rebuild_vault_index(uid, ix); });
  if (!chunks) throw ApiError(ErrorCode::vault_not_initialized, "Vault is not set up");
  obs::log(obs::Level::info, "vault.index.rebuilt", {{"user_id", uid}});
  co_return std::move(*chunks);
}

// Reads the list index (a chunk per up to 256 entries) rather than every entry: one AEAD open per
// chunk instead of one per entry. A vault without a complete index (made before the index
// existed, or dropped after a chunk failed to open in a write) and an index that does not open
// (tampered or corrupt: a security event) get it rebuilt here from the entries, which remain the
// source of truth; an entry that does not open is a 500, as in GET /vault/entries/{id}.
Task<http::Response> list(Call& call) {
  storage::ReadBatch b;
  b.want.vault_index = true;
  auto u = co_await require_unlocked(call, b);
  const int64_t uid = u.vs.user_id;
  std::vector<storage::VaultIndexChunk> chunks = std::move(b.vault_index);
  const bool current = u.key.index_version == vault::kIndexVersion;
  if (!current) chunks = co_await rebuild_index(call, u);
  auto body = render_list(u.vs.data_key, uid, chunks);
  if (!body && current) {
    index_rejected(call, uid);
    chunks = co_await rebuild_index(call, u);
    body = render_list(u.vs.data_key, uid, chunks);
  }
  if (!body) throw std::runtime_error("vault index out of order after a rebuild");
  co_return call.respond(200, std::move(*body));
}

Task<http::Response> get(Call& call) {
  storage::ReadBatch b;
  b.want.vault_entry = path_id(call.req.param("id"));
  auto u = co_await require_unlocked(call, b);
  const auto& e = b.vault_entry;
  if (!e) throw ApiError(ErrorCode::not_found, "Entry not found");
  json::Writer w;
  write_entry(w, decrypt(u.vs.data_key, *e), *e, true);
  co_return call.respond(200, w.take());
}

Task<http::Response> update(Call& call) {
  auto u = co_await require_unlocked(call);
  const int64_t id = path_id(call.req.param("id"));
  auto f = call.body(entry_schema());
  std::string pt = entry_plaintext(f);
  Wipe wipe{pt};
  const int64_t uid = u.vs.user_id;
  std::string ct = vault::seal_entry(u.vs.data_key, uid, id, pt);
  EntryIndexer ix(call, u.vs.data_key, uid, &f);
  std::optional<storage::VaultEntry> e;
  co_await call.ctx.db.run(Access::write, [&](Repository& r) {
    e = r.update_vault_entry(uid, id, ct, now_unix(), &ix);
  });
  if (!e) throw ApiError(ErrorCode::not_found, "Entry not found");
  json::Writer w;
  write_entry(w, f, *e, true);
  co_return call.respond(200, w.take());
}

Task<http::Response> remove(Call& call) {
  auto u = co_await require_unlocked(call);
  const int64_t id = path_id(call.req.param("id"));
  const int64_t uid = u.vs.user_id;
  EntryIndexer ix(call, u.vs.data_key, uid);
  bool done = false;
  co_await call.ctx.db.run(Access::write,
                           [&](Repository& r) { done = r.delete_vault_entry(uid, id, &ix); });
  if (!done) throw ApiError(ErrorCode::not_found, "Entry not found");
  co_return http::Response::no_content();
}

Task<http::Response> change_password(Call& call) {
  static const json::Schema schema{secret_field("current_vault_password"),
                                   secret_field("new_vault_password")};
  auto u = co_await require_unlocked(call);
  auto f = call.body(schema);
  auto user = co_await current_user(call);
  check_vault_policy(call, "new_vault_password", *f.str("new_vault_password"), user);
  const int64_t uid = user.id;
  const std::string limit_key = "vault-change-password:user:" + std::to_string(uid);
  co_await call.limit("sensitive", limit_key);
  SecretString cur = f.secret("current_vault_password"), next = f.secret("new_vault_password");
  std::optional<SecretBytes> dk;
  const auto& k = u.key;
  co_await call.ctx.hashes.run([&] {
    dk = vault::unwrap_data_key({k.kdf_salt, k.kdf_mem_kib, k.kdf_passes, k.wrapped_key}, cur, uid);
  });
  if (!dk) {
    obs::security_event("vault.password_change.failure", call.req.request_id, call.ip,
                        {{"user_id", uid}});
    throw ApiError(ErrorCode::invalid_vault_password, "Current vault password is incorrect");
  }
  co_await check_not_account_password(call, "new_vault_password", next, user);
  vault::Wrapped w;
  co_await call.ctx.hashes.run([&] { w = vault::wrap_data_key(*dk, next, uid, call.ctx.argon2); });
  storage::VaultKey nk = k;
  nk.kdf_salt = w.salt;
  nk.kdf_mem_kib = w.mem_kib;
  nk.kdf_passes = w.passes;
  nk.wrapped_key = w.blob;
  nk.updated_at = now_unix();
  bool ok = false;
  co_await call.ctx.db.run(Access::write,
                           [&](Repository& r) { ok = r.update_vault_key(nk, k.generation); });
  if (!ok) throw ApiError(ErrorCode::conflict, "The vault password was changed concurrently");
  // No renewed vault token: every vault session has ended.
  call.cookies.clear();
  call.cookies.push_back(vault_cookie(call.ctx, "", 0));
  std::erase_if(call.headers, [](const auto& h) { return h.first == "X-Vault-Token"; });
  obs::security_event("vault.password_change.success", call.req.request_id, call.ip,
                      {{"user_id", uid}}, obs::Level::info);
  co_return call.respond(200, R"({"message":"Vault password changed"})");
}

}  // namespace

void add_vault_routes(http::Router& r, Context& ctx) {
  r.add(Method::GET, "/vault/status", route(ctx, Gate::user, status));
  r.add(Method::POST, "/vault/setup", route(ctx, Gate::user, setup));
  r.add(Method::POST, "/vault/unlock-vault", route(ctx, Gate::user, unlock));
  r.add(Method::POST, "/vault/lock", route(ctx, Gate::user, lock));
  r.add(Method::POST, "/vault/add", route(ctx, Gate::user, add));
  r.add(Method::GET, "/vault/entries", route(ctx, Gate::user, list));
  r.add(Method::GET, "/vault/entries/{id}", route(ctx, Gate::user, get));
  r.add(Method::PUT, "/vault/entries/{id}", route(ctx, Gate::user, update));
  r.add(Method::DELETE_, "/vault/entries/{id}", route(ctx, Gate::user, remove));
  r.add(Method::POST, "/vault/change-password", route(ctx, Gate::user, change_password));
}

}  // namespace sr::api
