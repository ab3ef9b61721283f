#include "storage/postgres/pg_repository.hpp"

#include <array>
#include <bit>
#include <stdexcept>
#include <string_view>
#include <type_traits>

#include "storage/detail/vault_index.hpp"
#include "util/error.hpp"
#include "util/utf8.hpp"

namespace sr::storage::postgres {

namespace {

#define USER_COLS "id, username, email, password_hash, created_at"
#define SESSION_COLS                                                                             \
  "id, user_id, refresh_jti, created_at, last_used_at, expires_at, revoked_at, user_agent, ip, " \
  "vault_epoch"
#define LINK_COLS "id, user_id, platform, url, created_at"
#define ENTRY_COLS "id, user_id, ciphertext, created_at, updated_at"
#define HANDBOOK_COLS "full_name, age, phone, address, bio, updated_at"
#define VAULT_KEY_COLS                                                                            \
  "user_id, kdf_salt, kdf_mem_kib, kdf_passes, wrapped_key, generation, created_at, updated_at, " \
  "index_version"
#define CHUNK_COLS "chunk, ciphertext"

// Statements used by more than one method (a single-row method and read_batch, or a method and
// its pipelined form) are named here, so the text exists once. Conn prepares a statement per
// literal address, so a shared constant is also one prepared statement per connection.
constexpr char kBegin[] = "BEGIN";
constexpr char kCommit[] = "COMMIT";
constexpr char kFindUser[] = "SELECT " USER_COLS " FROM users WHERE id = $1";
constexpr char kFindSession[] = "SELECT " SESSION_COLS " FROM sessions WHERE id = $1";
constexpr char kGetHandbook[] =
    "SELECT " HANDBOOK_COLS " FROM personal_handbook WHERE user_id = $1";
constexpr char kListLinks[] =
    "SELECT " LINK_COLS " FROM social_links WHERE user_id = $1 ORDER BY id";
constexpr char kGetVaultKey[] = "SELECT " VAULT_KEY_COLS " FROM vault_keys WHERE user_id = $1";
constexpr char kListVaultEntries[] =
    "SELECT " ENTRY_COLS " FROM vault WHERE user_id = $1 ORDER BY id";
constexpr char kGetVaultEntry[] = "SELECT " ENTRY_COLS " FROM vault WHERE id = $1 AND user_id = $2";
// The per-user lock that serializes the capped inserts of one user (FOR NO KEY UPDATE: it does
// not block the FOR KEY SHARE locks of foreign-key checks).
constexpr char kRevokeUserSessions[] =
    "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL";
constexpr char kLockUser[] = "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE";
// The list index: every entry write locks the user's vault key row first (and reads the index
// format), so the chunk edits of one user are serialized; an add takes kLockUser before it.
// What a user's vault holds, as VaultBytes counts it ($2: the overhead of a sealed row).
constexpr char kVaultBytes[] =
    "SELECT coalesce(sum(octet_length(ciphertext)), 0) - $2 * count(*) FROM vault "
    "WHERE user_id = $1";
// A page of entries (keyset: the (user_id, id) index, whatever the vault holds).
constexpr char kListVaultEntriesAfter[] =
    "SELECT " ENTRY_COLS " FROM vault WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3";
constexpr char kLockIndex[] =
    "SELECT index_version FROM vault_keys WHERE user_id = $1 FOR NO KEY UPDATE";
constexpr char kDropIndex[] = "UPDATE vault_keys SET index_version = 0 WHERE user_id = $1";
constexpr char kListIndex[] = "SELECT " CHUNK_COLS
                              " FROM vault_index WHERE user_id = $1 AND chunk > $2 ORDER BY chunk "
                              "LIMIT $3";
constexpr char kPutChunk[] =
    "INSERT INTO vault_index (user_id, chunk, ciphertext) VALUES ($1, $2, $3) "
    "ON CONFLICT (user_id, chunk) DO UPDATE SET ciphertext = excluded.ciphertext";
constexpr char kDeleteChunk[] = "DELETE FROM vault_index WHERE user_id = $1 AND chunk = $2";
// The chunk an entry's row names (for update and delete).
constexpr char kChunkOfEntry[] =
    "SELECT i.chunk, i.ciphertext FROM vault v JOIN vault_index i "
    "ON i.user_id = v.user_id AND i.chunk = v.index_chunk WHERE v.id = $1 AND v.user_id = $2";

// Row i of r, its columns from c on (c > 0: one part of read_batch's joined statement). Rows: a
// Result, or the Records of the joined statement.
template <class Rows>
User read_user(const Rows& r, int i, int c = 0) {
  return User{r.i64(i, c), r.bytes(i, c + 1), r.bytes(i, c + 2), r.bytes(i, c + 3),
              r.i64(i, c + 4)};
}

template <class Rows>
Session read_session(const Rows& r, int i, int c = 0) {
  Session s;
  s.id = r.bytes(i, c);
  s.user_id = r.i64(i, c + 1);
  s.refresh_jti = r.bytes(i, c + 2);
  s.created_at = r.i64(i, c + 3);
  s.last_used_at = r.i64(i, c + 4);
  s.expires_at = r.i64(i, c + 5);
  s.revoked_at = r.opt_i64(i, c + 6);
  s.user_agent = r.bytes(i, c + 7);
  s.ip = r.bytes(i, c + 8);
  s.vault_epoch = r.i64(i, c + 9);
  return s;
}

template <class Rows>
SocialLink read_link(const Rows& r, int i, int c = 0) {
  return SocialLink{r.i64(i, c), r.i64(i, c + 1), r.bytes(i, c + 2), r.bytes(i, c + 3),
                    r.i64(i, c + 4)};
}

template <class Rows>
VaultEntry read_entry(const Rows& r, int i, int c = 0) {
  return VaultEntry{r.i64(i, c), r.i64(i, c + 1), r.bytes(i, c + 2), r.i64(i, c + 3),
                    r.i64(i, c + 4)};
}

template <class Rows>
Handbook read_handbook(const Rows& r, int i, int c = 0) {
  return Handbook{r.opt_bytes(i, c),     r.opt_i64(i, c + 1),   r.opt_bytes(i, c + 2),
                  r.opt_bytes(i, c + 3), r.opt_bytes(i, c + 4), r.i64(i, c + 5)};
}

template <class Rows>
VaultKey read_vault_key(const Rows& r, int i, int c = 0) {
  return VaultKey{r.i64(i, c),     r.bytes(i, c + 1), r.i64(i, c + 2),
                  r.i64(i, c + 3), r.bytes(i, c + 4), r.i64(i, c + 5),
                  r.i64(i, c + 6), r.i64(i, c + 7),   r.i64(i, c + 8)};
}

template <class Rows>
VaultIndexChunk read_chunk(const Rows& r, int i, int c = 0) {
  return VaultIndexChunk{r.i64(i, c), r.bytes(i, c + 1)};
}

// The parts of a ReadBatch: each is one of the single methods' statements on its own, and joins
// the others in read_batch's one statement. There, $1 is the session id, $2 the user, $3 the
// vault entry; every part is a LEFT JOIN on its key, so a missing row is a part of NULLs and the
// rest still comes back.
enum Part {
  kSessionPart,
  kUserPart,
  kHandbookPart,
  kVaultKeyPart,
  kVaultEntryPart,
  kLinksPart,
  kVaultEntriesPart,
  kVaultIndexPart,
  kParts
};
struct PartSql {
  const char* alone;  // the single method's statement
  const char* join;   // "table alias ON ..."
  const char* alias;
  const char* cols;
  int present;        // a column that is NOT NULL in every row of the table
  const char* order;  // lists: their order
};
constexpr PartSql kPartSql[kParts] = {
    {kFindSession, "sessions s ON s.id = $1", "s", SESSION_COLS, 0, nullptr},
    {kFindUser, "users u ON u.id = $2", "u", USER_COLS, 0, nullptr},
    {kGetHandbook, "personal_handbook h ON h.user_id = $2", "h", HANDBOOK_COLS, 5, nullptr},
    {kGetVaultKey, "vault_keys k ON k.user_id = $2", "k", VAULT_KEY_COLS, 0, nullptr},
    {kGetVaultEntry, "vault e ON e.id = $3 AND e.user_id = $2", "e", ENTRY_COLS, 0, nullptr},
    {kListLinks, "social_links l ON l.user_id = $2", "l", LINK_COLS, 0, "l.id"},
    {kListVaultEntries, "vault v ON v.user_id = $2", "v", ENTRY_COLS, 0, "v.id"},
    // The list index is read kIndexChunksPerRead chunks at a time (its LIMIT bounds the memory
    // of a list): it never joins, a LEFT JOIN would bring every chunk.
    {kListIndex, nullptr, "x", CHUNK_COLS, 0, "x.chunk"},
};
// The number of columns of each part (its cols are "a, b, c"), counted at compile time: counted
// per request, the commas cost 3.2k instructions of a PostgreSQL /personal/me (callgrind).
constexpr std::array<int, kParts> kWidth = [] {
  std::array<int, kParts> w{};
  for (int p = 0; p < kParts; ++p) {
    w[p] = 1;
    for (const char* c = kPartSql[p].cols; *c; ++c) w[p] += *c == ',';
  }
  return w;
}();
static_assert(kWidth[kSessionPart] == 10 && kWidth[kUserPart] == 5 && kWidth[kHandbookPart] == 6);
constexpr unsigned kListParts =
    (1u << kLinksPart) | (1u << kVaultEntriesPart) | (1u << kVaultIndexPart);
constexpr unsigned kNeverJoined = 1u << kVaultIndexPart;  // parts without a join

// The joined statement of a set of parts (bit i: part i; at most one list, rows of the list with
// the single-row parts repeated on each). Its columns come as one record per row, `SELECT ROW(s.id,
// ..., h.bio) FROM ...` (read with Records): libpq parses a column description per column and
// execution, and a joined read has 15-36 columns. Built once per set from the constants above,
// never from data; each text lives as long as the program, so a connection prepares it once.
const char* joined_statement(unsigned parts) {
  static const std::array<std::string, 1u << kParts> table = [] {
    std::array<std::string, 1u << kParts> t;
    for (unsigned m = 0; m < t.size(); ++m) {
      if (std::popcount(m) < 2 || std::popcount(m & kListParts) > 1 || (m & kNeverJoined)) continue;
      std::string select, from = " FROM (SELECT 1) AS one", order;
      for (int p = 0; p < kParts; ++p) {
        if (!(m & (1u << p))) continue;
        const PartSql& ps = kPartSql[p];
        for (std::string_view cols = ps.cols; !cols.empty();) {
          auto comma = cols.find(", ");
          select += (select.empty() ? "SELECT ROW(" : ", ") + std::string(ps.alias) + "." +
                    std::string(cols.substr(0, comma));
          cols = comma == std::string_view::npos ? "" : cols.substr(comma + 2);
        }
        from += " LEFT JOIN " + std::string(ps.join);
        if (ps.order) order = std::string(" ORDER BY ") + ps.order;
      }
      t[m] = select + ")" + from + order;
    }
    return t;
  }();
  return table[parts].c_str();
}

// Whether `index` keeps this vault's index, from kLockIndex's result (no row: no vault).
bool keeps(const Result& lock, const VaultIndexer* index) {
  const int64_t v = lock.rows() ? lock.i64(0, 0) : 0;
  return v != 0 && index && v == index->version();
}
bool has_index(const Result& lock) {
  return lock.rows() && lock.i64(0, 0) != 0;
}

template <class T, class F>
std::optional<T> first_row(const Result& r, F read) {
  if (r.rows() == 0) return std::nullopt;
  return read(r, 0, 0);
}

template <class T, class F>
std::vector<T> all_rows(const Result& r, F read) {
  std::vector<T> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.push_back(read(r, i, 0));
  return out;
}

// PostgreSQL's TEXT cannot hold a NUL byte or invalid UTF-8, so no stored key is such a string: a
// lookup by one finds nothing, without sending the server a parameter it would refuse. (Writes
// of such text fail loudly instead: the API never makes them.)
bool storable(const std::string& s) {
  return s.find('\0') == std::string::npos && sr::utf8_length(s).has_value();
}

// A missing user (the lock found no row) is the same outcome as the foreign-key violation the
// insert would raise.
[[noreturn]] void no_such_user() {
  throw sr::ConflictError("the referenced row does not exist");
}

}  // namespace

Conn& PgRepository::tx_conn() {
  if (!own_)
    throw std::logic_error(
        "postgresql: a write or a transaction in a job run with Access::read (use Access::write)");
  return *own_;
}

void PgRepository::read_batch(ReadBatch& b) {
  Batch q;
  const unsigned plan = plan_read(b.want, q);
  if (!plan) return;
  auto r = l_.pipeline(q);
  take_read(b, plan, r);
}

unsigned PgRepository::plan_read(const ReadBatch::Want& w, Batch& q) {
  // One statement for the session and every single-row part and one list (an authenticated GET
  // is one statement: one plan, one snapshot, one result); a second list, which would multiply
  // the rows, goes as its own statement in the same pipeline: one round trip either way.
  unsigned parts = 0;
  if (!w.session.empty() && storable(w.session)) parts |= 1u << kSessionPart;
  if (w.user) parts |= 1u << kUserPart;
  if (w.handbook) parts |= 1u << kHandbookPart;
  if (w.vault_key) parts |= 1u << kVaultKeyPart;
  if (w.vault_entry > 0) parts |= 1u << kVaultEntryPart;
  if (w.links) parts |= 1u << kLinksPart;
  if (w.vault_entries) parts |= 1u << kVaultEntriesPart;
  if (w.vault_index) parts |= 1u << kVaultIndexPart;
  if (!parts) return 0;
  unsigned joined = 0, alone = 0;
  for (int p = 0; p < kParts; ++p) {
    const unsigned bit = 1u << p;
    if (!(parts & bit)) continue;
    if (!(bit & kNeverJoined) && (!(bit & kListParts) || !(joined & kListParts)))
      joined |= bit;
    else
      alone |= bit;
  }
  if (std::popcount(joined) < 2) {  // one part: its own statement
    alone |= joined;
    joined = 0;
  }
  // Every parameter is bound even where the statement does not use it: a session id TEXT cannot
  // hold (not storable, so not a part) would fail the whole statement, so $1 is then empty.
  static const std::string kNoSession;
  const std::string& sid = parts & (1u << kSessionPart) ? w.session : kNoSession;
  if (joined) q.add(joined_statement(joined)).t(sid).i(w.user_id).i(w.vault_entry);
  for (int p = 0; p < kParts; ++p) {
    if (!(alone & (1u << p))) continue;
    Params& ps = q.add(kPartSql[p].alone);
    if (p == kSessionPart)
      ps.t(w.session);
    else if (p == kVaultEntryPart)
      ps.i(w.vault_entry).i(w.user_id);
    else if (p == kVaultIndexPart)
      ps.i(w.user_id).i(kBeforeFirstChunk).i(kIndexChunksPerRead);
    else
      ps.i(w.user_id);
  }
  return joined | alone << kParts;
}

void PgRepository::take_read(ReadBatch& b, unsigned plan, const std::vector<Result>& r) {
  const unsigned joined = plan & ((1u << kParts) - 1), alone = plan >> kParts;
  if (r.size() != static_cast<std::size_t>((joined ? 1 : 0) + std::popcount(alone)))
    throw std::logic_error("postgresql: read_batch got a result per statement it did not send");

  // Part p of result `res`, its columns from c: a single row (from row 0; absent when its
  // NOT NULL column is NULL, or there is no row) or a list (every row that has one).
  auto take = [&](int p, const auto& res, int c) {
    using Rows = std::decay_t<decltype(res)>;
    const int present = c + kPartSql[p].present;
    auto rows = [&](auto read, auto& out) {
      for (int i = 0; i < res.rows(); ++i)
        if (!res.is_null(i, present)) out.push_back(read(res, i, c));
    };
    const bool one = res.rows() > 0 && !res.is_null(0, present);
    switch (p) {
      case kSessionPart:
        if (one) b.session = read_session(res, 0, c);
        break;
      case kUserPart:
        if (one) b.user = read_user(res, 0, c);
        break;
      case kHandbookPart:
        if (one) b.handbook = read_handbook(res, 0, c);
        break;
      case kVaultKeyPart:
        if (one) b.vault_key = read_vault_key(res, 0, c);
        break;
      case kVaultEntryPart:
        if (one) b.vault_entry = read_entry(res, 0, c);
        break;
      case kLinksPart:
        rows(read_link<Rows>, b.links);
        break;
      case kVaultEntriesPart:
        rows(read_entry<Rows>, b.vault_entries);
        break;
      case kVaultIndexPart:
        rows(read_chunk<Rows>, b.vault_index);
        break;
    }
  };
  std::size_t next = 0;  // results come back in the order the statements were added
  if (joined) {
    int fields = 0;
    for (int p = 0; p < kParts; ++p)
      if (joined & (1u << p)) fields += kWidth[p];
    const Records rec(r[next], fields);
    int c = 0;
    for (int p = 0; p < kParts; ++p) {
      if (!(joined & (1u << p))) continue;
      take(p, rec, c);
      c += kWidth[p];
    }
    ++next;
  }
  for (int p = 0; p < kParts; ++p)
    if (alone & (1u << p)) take(p, r[next++], 0);
}

void PgRepository::ping() {
  l_.exec("SELECT 1", Params());
}

int64_t PgRepository::create_user(const std::string& username, const std::string& username_norm,
                                  const std::string& email, const std::string& password_hash,
                                  int64_t now) {
  auto r = l_.exec(
      "INSERT INTO users (username, username_norm, email, password_hash, created_at) "
      "VALUES ($1, $2, $3, $4, $5) RETURNING id",
      Params().t(username).t(username_norm).t(email).t(password_hash).i(now));
  return r.i64(0, 0);
}

std::optional<User> PgRepository::find_user_by_login(const std::string& login_lower) {
  if (!storable(login_lower)) return std::nullopt;
  auto r = l_.exec("SELECT " USER_COLS
                   " FROM users WHERE username_norm = $1 OR email = $1 "
                   "ORDER BY (username_norm = $1) DESC LIMIT 1",
                   Params().t(login_lower));
  if (r.rows() == 0) return std::nullopt;
  return read_user(r, 0);
}

std::optional<User> PgRepository::find_user(int64_t id) {
  return first_row<User>(l_.exec(kFindUser, Params().i(id)), read_user<Result>);
}

bool PgRepository::update_password_hash(int64_t user_id, const std::string& expected_hash,
                                        const std::string& hash) {
  return l_.exec("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
                 Params().t(hash).i(user_id).t(expected_hash))
             .affected() > 0;
}

int64_t PgRepository::change_password(int64_t user_id, const std::string& hash,
                                      const std::string& keep_sid, int64_t now) {
  // One round trip and one transaction: if either statement fails the pipeline skips the rest and
  // the transaction is rolled back (Conn::pipeline), so neither happened.
  // The hash first: its row lock makes a racing create_session with a verified hash wait, and
  // a session that was created before it is seen (and revoked) by the revocation after it.
  Batch b;
  b.add(kBegin);
  b.add("UPDATE users SET password_hash = $1 WHERE id = $2").t(hash).i(user_id);
  b.add(kRevokeUserSessions).i(now).i(user_id).t(keep_sid);
  b.add(kCommit);
  auto r = tx_conn().pipeline(b);
  return r[2].affected();
}

bool PgRepository::delete_user(int64_t user_id) {
  return l_.exec("DELETE FROM users WHERE id = $1", Params().i(user_id)).affected() > 0;
}

bool PgRepository::create_session(const Session& s, const std::string* verified_hash) {
  Params p;
  p.t(s.id)
      .i(s.user_id)
      .t(s.refresh_jti)
      .i(s.created_at)
      .i(s.last_used_at)
      .i(s.expires_at)
      .oi(s.revoked_at)
      .t(s.user_agent)
      .t(s.ip)
      .i(s.vault_epoch);
  if (!verified_hash) {
    return l_.exec("INSERT INTO sessions (" SESSION_COLS
                   ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                   p)
               .affected() > 0;
  }
  // FOR SHARE: a password change holding the user row makes this wait and then see the new hash
  // (no row); one that comes after waits for this insert and then revokes the session.
  p.t(*verified_hash);
  return l_.exec("INSERT INTO sessions (" SESSION_COLS
                 ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE EXISTS "
                 "(SELECT 1 FROM users WHERE id = $2 AND password_hash = $11 FOR SHARE)",
                 p)
             .affected() > 0;
}

std::optional<Session> PgRepository::find_session(const std::string& id) {
  if (!storable(id)) return std::nullopt;
  return first_row<Session>(l_.exec(kFindSession, Params().t(id)), read_session<Result>);
}

bool PgRepository::rotate_refresh(const std::string& sid, const std::string& old_jti,
                                  const std::string& new_jti, int64_t new_expires_at, int64_t now) {
  // One UPDATE with the old jti in its WHERE: under READ COMMITTED the second of two concurrent
  // rotations re-checks the row after the first commits, sees a different jti and updates nothing.
  return l_.exec(
               "UPDATE sessions SET refresh_jti = $1, expires_at = $2, last_used_at = $3 "
               "WHERE id = $4 AND refresh_jti = $5 AND revoked_at IS NULL",
               Params().t(new_jti).i(new_expires_at).i(now).t(sid).t(old_jti))
             .affected() == 1;
}

void PgRepository::touch_session(const std::string& sid, int64_t now) {
  l_.exec("UPDATE sessions SET last_used_at = $1 WHERE id = $2 AND last_used_at < $3",
          Params().i(now).t(sid).i(now - 60));
}

bool PgRepository::revoke_session(const std::string& sid, int64_t now) {
  return l_.exec("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                 Params().i(now).t(sid))
             .affected() > 0;
}

int64_t PgRepository::revoke_user_sessions(int64_t user_id, const std::string& except_sid,
                                           int64_t now) {
  return l_.exec(kRevokeUserSessions, Params().i(now).i(user_id).t(except_sid)).affected();
}

std::vector<Session> PgRepository::list_active_sessions(int64_t user_id, int64_t now) {
  auto r = l_.exec("SELECT " SESSION_COLS
                   " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 "
                   "ORDER BY created_at, id",
                   Params().i(user_id).i(now));
  std::vector<Session> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_session(r, i));
  return out;
}

int64_t PgRepository::bump_vault_epoch(const std::string& sid) {
  auto r = l_.exec(
      "UPDATE sessions SET vault_epoch = vault_epoch + 1 WHERE id = $1 RETURNING vault_epoch",
      Params().t(sid));
  return r.rows() ? r.i64(0, 0) : 0;
}

void PgRepository::block_token(const std::string& jti, const std::string& sid, int64_t user_id,
                               int64_t expires_at) {
  l_.exec(
      "INSERT INTO token_blocklist (jti, session_id, user_id, expires_at) "
      "VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
      Params().t(jti).t(sid).i(user_id).i(expires_at));
}

bool PgRepository::is_token_blocked(const std::string& jti) {
  if (!storable(jti)) return false;
  return l_.exec("SELECT 1 FROM token_blocklist WHERE jti = $1", Params().t(jti)).rows() > 0;
}

int64_t PgRepository::purge_expired(int64_t now) {
  // One statement, so one atomic snapshot and one round trip.
  auto r = l_.exec(
      "WITH s AS (DELETE FROM sessions WHERE expires_at < $1 RETURNING 1), "
      "b AS (DELETE FROM token_blocklist WHERE expires_at < $1 RETURNING 1), "
      "m AS (DELETE FROM mfa_challenges WHERE expires_at < $1 RETURNING 1) "
      "SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM b) + (SELECT count(*) FROM m)",
      Params().i(now));
  return r.i64(0, 0);
}

std::optional<Handbook> PgRepository::get_handbook(int64_t user_id) {
  return first_row<Handbook>(l_.exec(kGetHandbook, Params().i(user_id)), read_handbook<Result>);
}

Handbook PgRepository::put_handbook(int64_t user_id, const Handbook& h) {
  auto r = l_.exec("INSERT INTO personal_handbook (user_id, " HANDBOOK_COLS
                   ") VALUES ($1, $2, $3, $4, $5, $6, $7) "
                   "ON CONFLICT (user_id) DO UPDATE SET full_name = excluded.full_name, "
                   "age = excluded.age, phone = excluded.phone, address = excluded.address, "
                   "bio = excluded.bio, updated_at = excluded.updated_at "
                   "RETURNING " HANDBOOK_COLS,
                   Params()
                       .i(user_id)
                       .ot(h.full_name)
                       .oi(h.age)
                       .ot(h.phone)
                       .ot(h.address)
                       .ot(h.bio)
                       .i(h.updated_at));
  return read_handbook(r, 0);
}

std::vector<SocialLink> PgRepository::list_links(int64_t user_id) {
  return all_rows<SocialLink>(l_.exec(kListLinks, Params().i(user_id)), read_link<Result>);
}

std::optional<SocialLink> PgRepository::add_link(int64_t user_id, const std::string& platform,
                                                 const std::string& url, int64_t now, int64_t cap) {
  // One round trip: BEGIN; lock the user; the conditional insert; COMMIT, in one pipeline. The
  // server runs them in order, so the insert is a new statement that starts after the lock is
  // held: its snapshot sees every insert committed before we got the lock, and the count cannot
  // race. If any statement fails, the rest are skipped and the transaction is rolled back.
  Batch b;
  b.add(kBegin);
  b.add(kLockUser).i(user_id);
  b.add(
       "INSERT INTO social_links (user_id, platform, url, created_at) "
       "SELECT $1, $2, $3, $4 "
       "WHERE (SELECT count(*) FROM social_links WHERE user_id = $1) < $5 "
       "RETURNING " LINK_COLS)
      .i(user_id)
      .t(platform)
      .t(url)
      .i(now)
      .i(cap);
  b.add(kCommit);
  auto r = tx_conn().pipeline(b);
  const Result &lock = r[1], &ins = r[2];
  // No user: the insert's foreign key check fails (ConflictError, thrown by pipeline()) unless the
  // count already refused it, which must not read as "cap reached".
  if (lock.rows() == 0 && ins.rows() == 0) no_such_user();
  return first_row<SocialLink>(ins, read_link<Result>);
}

std::optional<SocialLink> PgRepository::update_link(int64_t user_id, int64_t id,
                                                    const std::string& platform,
                                                    const std::string& url) {
  auto r = l_.exec(
      "UPDATE social_links SET platform = $1, url = $2 "
      "WHERE id = $3 AND user_id = $4 RETURNING " LINK_COLS,
      Params().t(platform).t(url).i(id).i(user_id));
  if (r.rows() == 0) return std::nullopt;
  return read_link(r, 0);
}

bool PgRepository::delete_link(int64_t user_id, int64_t id) {
  return l_.exec("DELETE FROM social_links WHERE id = $1 AND user_id = $2",
                 Params().i(id).i(user_id))
             .affected() > 0;
}

std::optional<VaultKey> PgRepository::get_vault_key(int64_t user_id) {
  return first_row<VaultKey>(l_.exec(kGetVaultKey, Params().i(user_id)), read_vault_key<Result>);
}

bool PgRepository::create_vault_key(const VaultKey& k) {
  return l_.exec("INSERT INTO vault_keys (" VAULT_KEY_COLS
                 ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (user_id) DO NOTHING",
                 Params()
                     .i(k.user_id)
                     .b(k.kdf_salt)
                     .i(k.kdf_mem_kib)
                     .i(k.kdf_passes)
                     .b(k.wrapped_key)
                     .i(k.generation)
                     .i(k.created_at)
                     .i(k.updated_at)
                     .i(k.index_version))
             .affected() == 1;
}

bool PgRepository::update_vault_key(const VaultKey& k, int64_t expected_generation) {
  return l_.exec(
               "UPDATE vault_keys SET kdf_salt = $1, kdf_mem_kib = $2, kdf_passes = $3, "
               "wrapped_key = $4, generation = generation + 1, updated_at = $5 "
               "WHERE user_id = $6 AND generation = $7",
               Params()
                   .b(k.kdf_salt)
                   .i(k.kdf_mem_kib)
                   .i(k.kdf_passes)
                   .b(k.wrapped_key)
                   .i(k.updated_at)
                   .i(k.user_id)
                   .i(expected_generation))
             .affected() == 1;
}

std::optional<VaultEntry> PgRepository::add_vault_entry(
    int64_t user_id, int64_t now, int64_t cap, const std::function<std::string(int64_t id)>& seal,
    VaultIndexer* index, const VaultBytes& bytes) {
  // Not one pipeline: seal(id) needs the id the insert returns, and the ciphertext and the chunk
  // must be written in the same transaction. So two round trips: (BEGIN; locks; capped insert
  // RETURNING id; the highest chunk), then seal(id) and the chunk edit on the client, then
  // (UPDATE; chunk; COMMIT). The transaction stays open across the client's work; a throw or a
  // failure rolls everything back.
  Conn& c = tx_conn();
  Tx tx(c, Tx::adopt);  // rolls back whatever the first pipeline left open
  Batch first;
  first.add(kBegin);
  first.add(kLockUser).i(user_id);
  first.add(kLockIndex).i(user_id);
  first.add(kVaultBytes).i(user_id).i(bytes.overhead);  // under the user's lock: race-free
  first
      .add(
          "INSERT INTO vault (user_id, ciphertext, created_at, updated_at) "
          "SELECT $1, '\\x'::bytea, $2, $2 "
          "WHERE (SELECT count(*) FROM vault WHERE user_id = $1) < $3 RETURNING id")
      .i(user_id)
      .i(now)
      .i(cap);
  first
      .add(
          "SELECT chunk, ciphertext FROM vault_index WHERE user_id = $1 ORDER BY chunk DESC LIMIT "
          "1")
      .i(user_id);
  auto r = c.pipeline(first);
  const Result &lock = r[1], &key = r[2], &ins = r[4];
  if (lock.rows() == 0) no_such_user();
  if (ins.rows() == 0) return std::nullopt;
  VaultEntry e{ins.i64(0, 0), user_id, {}, now, now};
  e.ciphertext = seal(e.id);  // a throwing seal rolls everything back
  if (bytes.max > 0 &&
      r[3].i64(0, 0) + static_cast<int64_t>(e.ciphertext.size()) - bytes.overhead > bytes.max)
    return std::nullopt;  // rolled back by tx, the reserved id with it
  std::optional<VaultIndexChunk> chunk;
  if (keeps(key, index)) {
    auto last = first_row<VaultIndexChunk>(r[5], read_chunk<Result>);
    chunk = index->added(e, last);
    if (chunk && last && chunk->chunk < last->chunk) chunk.reset();
  }
  std::optional<int64_t> chunk_no;
  if (chunk) chunk_no = chunk->chunk;
  Batch second;
  second.add("UPDATE vault SET ciphertext = $1, index_chunk = $2 WHERE id = $3")
      .b(e.ciphertext)
      .oi(chunk_no)
      .i(e.id);
  if (chunk)
    second.add(kPutChunk).i(user_id).i(chunk->chunk).b(chunk->ciphertext);
  else if (has_index(key))
    second.add(kDropIndex).i(user_id);
  second.add(kCommit);
  c.pipeline(second);
  tx.committed();
  return e;
}

void PgRepository::finish_index_edit(
    int64_t user_id, const Result& lock, const VaultIndexer* index, const Result& chunk,
    const std::function<std::optional<std::string>(const VaultIndexChunk&)>& edit) {
  std::optional<std::string> next;
  std::optional<VaultIndexChunk> c;
  const bool keep = keeps(lock, index);
  if (keep) c = first_row<VaultIndexChunk>(chunk, read_chunk<Result>);
  if (c) next = edit(*c);
  Batch b;
  if (next && next->empty())
    b.add(kDeleteChunk).i(user_id).i(c->chunk);
  else if (next)
    b.add(kPutChunk).i(user_id).i(c->chunk).b(*next);
  else if (has_index(lock))
    b.add(kDropIndex).i(user_id);
  b.add(kCommit);
  tx_conn().pipeline(b);
}

std::vector<VaultIndexChunk> PgRepository::list_vault_index(int64_t user_id, int64_t after_chunk,
                                                            int64_t limit) {
  return all_rows<VaultIndexChunk>(l_.exec(kListIndex, Params().i(user_id).i(after_chunk).i(limit)),
                                   read_chunk<Result>);
}

std::optional<std::vector<VaultIndexChunk>> PgRepository::rebuild_vault_index(int64_t user_id,
                                                                              VaultIndexer& index) {
  Conn& c = tx_conn();
  Tx tx(c, Tx::adopt);
  Batch first;
  first.add(kBegin);
  first.add(kLockIndex).i(user_id);
  first.add(kListVaultEntries).i(user_id);
  first.add("SELECT (COALESCE(MAX(chunk), 0) + 1)::bigint FROM vault_index WHERE user_id = $1")
      .i(user_id);
  auto r = c.pipeline(first);
  if (r[1].rows() == 0) return std::nullopt;  // no vault
  const auto entries = all_rows<VaultEntry>(r[2], read_entry<Result>);
  const int64_t first_chunk = r[3].i64(0, 0);
  auto built = index.build(entries, first_chunk);
  if (!built) return std::nullopt;
  detail::check_built(*built, entries, first_chunk);
  Batch second;
  second.add("DELETE FROM vault_index WHERE user_id = $1").i(user_id);
  for (const auto& b : *built) {
    second.add(kPutChunk).i(user_id).i(b.chunk.chunk).b(b.chunk.ciphertext);
    second.add("UPDATE vault SET index_chunk = $1 WHERE user_id = $2 AND id BETWEEN $3 AND $4")
        .i(b.chunk.chunk)
        .i(user_id)
        .i(b.ids.front())
        .i(b.ids.back());
  }
  second.add("UPDATE vault_keys SET index_version = $1 WHERE user_id = $2")
      .i(index.version())
      .i(user_id);
  second.add(kCommit);
  c.pipeline(second);
  tx.committed();
  std::vector<VaultIndexChunk> out;
  for (auto& b : *built) out.push_back(std::move(b.chunk));
  return out;
}

std::vector<VaultEntry> PgRepository::list_vault_entries(int64_t user_id) {
  return all_rows<VaultEntry>(l_.exec(kListVaultEntries, Params().i(user_id)), read_entry<Result>);
}

std::vector<VaultEntry> PgRepository::list_vault_entries_after(int64_t user_id, int64_t after,
                                                               int64_t limit) {
  return all_rows<VaultEntry>(
      l_.exec(kListVaultEntriesAfter, Params().i(user_id).i(after).i(limit)), read_entry<Result>);
}

std::optional<VaultEntry> PgRepository::get_vault_entry(int64_t user_id, int64_t id) {
  return first_row<VaultEntry>(l_.exec(kGetVaultEntry, Params().i(id).i(user_id)),
                               read_entry<Result>);
}

std::optional<VaultEntry> PgRepository::update_vault_entry(int64_t user_id, int64_t id,
                                                           const std::string& ciphertext,
                                                           int64_t now, VaultIndexer* index,
                                                           const VaultBytes& bytes) {
  // Two round trips: (BEGIN; lock; the entry's old size; UPDATE RETURNING; the entry's chunk;
  // the vault's size), the chunk edit on the client, (chunk; COMMIT).
  Conn& c = tx_conn();
  Tx tx(c, Tx::adopt);
  Batch first;
  first.add(kBegin);
  first.add(kLockIndex).i(user_id);
  first.add("SELECT octet_length(ciphertext) FROM vault WHERE id = $1 AND user_id = $2")
      .i(id)
      .i(user_id);
  first
      .add(
          "UPDATE vault SET ciphertext = $1, updated_at = $2 "
          "WHERE id = $3 AND user_id = $4 RETURNING " ENTRY_COLS)
      .b(ciphertext)
      .i(now)
      .i(id)
      .i(user_id);
  first.add(kChunkOfEntry).i(id).i(user_id);
  first.add(kVaultBytes).i(user_id).i(bytes.overhead);
  auto r = c.pipeline(first);
  if (r[3].rows() == 0) return std::nullopt;  // rolled back by tx
  if (bytes.max > 0 && static_cast<int64_t>(ciphertext.size()) > r[2].i64(0, 0) &&
      r[5].i64(0, 0) > bytes.max)
    throw VaultFullError("vault size bound");  // rolled back by tx
  VaultEntry e = read_entry(r[3], 0);
  finish_index_edit(user_id, r[1], index, r[4],
                    [&](const VaultIndexChunk& c) { return index->updated(e, c); });
  tx.committed();
  return e;
}

bool PgRepository::delete_vault_entry(int64_t user_id, int64_t id, VaultIndexer* index) {
  Conn& c = tx_conn();
  Tx tx(c, Tx::adopt);
  Batch first;
  first.add(kBegin);
  first.add(kLockIndex).i(user_id);
  first.add(kChunkOfEntry).i(id).i(user_id);
  first.add("DELETE FROM vault WHERE id = $1 AND user_id = $2").i(id).i(user_id);
  auto r = c.pipeline(first);
  if (r[3].affected() == 0) return false;
  finish_index_edit(user_id, r[1], index, r[2],
                    [&](const VaultIndexChunk& c) { return index->removed(id, c); });
  tx.committed();
  return true;
}

}  // namespace sr::storage::postgres
