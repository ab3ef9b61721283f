// The storage contract. A Repository is bound to one database connection and is used by one thread
// at a time; its methods are synchronous, atomic (each one its own transaction unless stated) and
// fully parameterized. Two implementations: sqlite/ and postgres/. One conformance suite
// (tests/unit/storage) runs against both.
//
// Errors: UnavailableError (util/error.hpp) when the database cannot be reached or a statement
// times out; ConflictError on a uniqueness violation; anything else is a bug and surfaces as 500.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "util/task.hpp"

namespace sr::storage {

struct User {
  int64_t id = 0;
  std::string username;  // as typed at signup
  std::string email;     // stored lowercased
  std::string password_hash;
  int64_t created_at = 0;  // unix seconds
};

struct Session {
  std::string id;  // opaque random string
  int64_t user_id = 0;
  std::string refresh_jti;  // the only refresh jti of this session that may still be spent
  int64_t created_at = 0, last_used_at = 0, expires_at = 0;
  std::optional<int64_t> revoked_at;
  std::string user_agent, ip;
  int64_t vault_epoch =
      0;  // bumped by /vault/lock: ends the vault sessions sealed for this session
};

struct Handbook {
  std::optional<std::string> full_name;
  std::optional<int64_t> age;
  std::optional<std::string> phone, address, bio;
  int64_t updated_at = 0;
};

struct SocialLink {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string platform, url;
  int64_t created_at = 0;
};

struct VaultKey {
  int64_t user_id = 0;
  std::string kdf_salt;     // 16 random bytes
  int64_t kdf_mem_kib = 0;  // Argon2id cost, stored so it can be raised later
  int64_t kdf_passes = 0;
  std::string wrapped_key;  // versioned blob: XChaCha20-Poly1305(data key), binary
  int64_t generation = 0;   // bumped on vault password change: ends every vault session
  int64_t created_at = 0, updated_at = 0;
  // The format of this vault's list index (below) when the index is complete, 0 when there is
  // none yet or it was dropped. Set by create_vault_key and rebuild_vault_index, kept by the
  // entry writes, reset to 0 by any entry write that does not keep the index.
  int64_t index_version = 0;
};

struct VaultEntry {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string ciphertext;  // versioned blob, binary; every field of the entry is inside
  int64_t created_at = 0, updated_at = 0;
};

// One sealed chunk of a user's vault list index: the list fields (no secrets) of some of the
// user's entries, encrypted with the user's data key (vault/index.hpp, docs/crypto.md). A list
// of N entries reads and opens a chunk or two instead of N entry ciphertexts. Numbered per user;
// new entries join the highest chunk.
struct VaultIndexChunk {
  int64_t chunk = 0;
  std::string ciphertext;  // versioned blob, binary
};
// The most chunks of the list index read at once (<= 32 KiB each, vault/index.hpp: at most
// ~1 MiB): a list that needs more reads the rest in parts while it is being sent.
inline constexpr int64_t kIndexChunksPerRead = 32;
// Below every chunk number (list_vault_index's after_chunk for the first part).
inline constexpr int64_t kBeforeFirstChunk = std::numeric_limits<int64_t>::min();

// Keeps a user's list index in step with the writes of their entries. The repository calls it
// inside the write's transaction (the storage cannot read the chunks; the caller holds the data
// key), and only when the vault's index_version equals version(): a write either changes the
// entry and its chunk together or neither. A method that returns nullopt cannot keep the index
// (a chunk failed to open, the entry is not where the row says): the repository then sets
// index_version to 0 and the write itself goes on; the next list rebuilds the index. A method
// that throws rolls the whole write back.
class VaultIndexer {
 public:
  virtual ~VaultIndexer() = default;
  virtual int64_t version() const = 0;
  // e was inserted (id and times final). last is the user's highest chunk, nullopt when there is
  // none. Returns the chunk that holds e now: last's number (last is replaced) or a higher one
  // (a new chunk).
  virtual std::optional<VaultIndexChunk> added(const VaultEntry& e,
                                               const std::optional<VaultIndexChunk>& last) = 0;
  // e (as stored now) was updated in place; c is the chunk its row names. Returns c's new blob.
  virtual std::optional<std::string> updated(const VaultEntry& e, const VaultIndexChunk& c) = 0;
  // Entry id, which c holds, was deleted. Returns c's new blob, or "" when c is now empty (its
  // row is deleted).
  virtual std::optional<std::string> removed(int64_t id, const VaultIndexChunk& c) = 0;
  // The whole index from every entry of the user (id order): chunks in order, each with the ids
  // it holds (every entry in exactly one), numbered from first_chunk on. The storage passes one
  // above every chunk the user has now: a rebuilt index never reuses a number, so a list being
  // streamed from the old one (it reads the chunks above the last it sent) finds the new one
  // from its beginning, never from somewhere in its middle.
  struct Built {
    VaultIndexChunk chunk;
    std::vector<int64_t> ids;
  };
  virtual std::optional<std::vector<Built>> build(const std::vector<VaultEntry>& entries,
                                                  int64_t first_chunk) = 0;
};

// The two-step sign-in of a user (SPEC 13; migration 4). Secrets are sealed by the caller
// (auth::TotpKeys): the storage never sees a TOTP secret, a code or an mfa_token in clear.
struct TotpState {
  std::optional<std::string> secret;   // the sealed secret in use: 2FA is on
  std::optional<std::string> pending;  // the sealed secret of a setup not yet confirmed
  int64_t last_step = 0;               // replay guard: the highest TOTP step spent
  std::optional<int64_t> enabled_at;
  int64_t recovery_codes_left = 0;  // unused codes of the current set
};

// A second factor that the caller has checked and wants spent: a TOTP step (its code matched
// `sealed_secret`, the user's secret as the caller read it) or a recovery code (its keyed hash).
struct SecondFactor {
  std::optional<int64_t> totp_step;
  std::string sealed_secret;  // with totp_step
  std::string recovery_hash;  // without totp_step
};

// A pending second step of a signin (the mfa_token). Only the token's keyed hash is stored.
struct MfaChallenge {
  std::string token_hash;
  int64_t user_id = 0;
  std::string password_binding;  // keyed hash of the password hash it was issued under
  int64_t created_at = 0, expires_at = 0;
  int64_t attempts = 0;             // code attempts counted so far
  std::optional<int64_t> spent_at;  // set by its success
};

// The size bound of a vault (SPEC 14: vault_max_bytes). An entry counts as its JSON rendering,
// which is its sealed row less a fixed overhead (vault/crypto.hpp: kEntryOverhead), so the
// storage can sum it from the rows' lengths without the key. Checked inside the write's
// transaction, after the user's lock (PostgreSQL) or on the one writer (SQLite): concurrent
// writes cannot together pass it. max == 0: no bound.
struct VaultBytes {
  int64_t max = 0;
  int64_t overhead = 0;  // bytes of a sealed row that are not the rendering
};

// An entry write that would take the vault beyond VaultBytes::max (nothing written).
class VaultFullError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class MfaFinish {
  ok,              // the challenge is spent and the factor consumed, together
  challenge_gone,  // spent, expired, deleted or not this user's: nothing changed
  code_rejected,   // the factor was refused (step not after the last, code used or unknown,
                   // secret changed): nothing changed
};

// The reads of one request, answered in one unit of work: the pipeline asks for the caller's
// session together with whatever the route shows, so an authenticated GET is one trip to the
// database. On PostgreSQL the queries travel together in pipeline mode (one round trip); on
// SQLite they run in the caller's one read transaction. Every row asked for by user is filtered
// by want.user_id; the caller checks the session before it uses anything else.
struct ReadBatch {
  struct Want {
    std::string session;  // non-empty: load this session
    int64_t user_id = 0;  // owner of everything below
    bool user = false, handbook = false, links = false, vault_key = false, vault_entries = false;
    int64_t vault_entry = 0;   // > 0: load this entry of the user
    bool vault_index = false;  // the first kIndexChunksPerRead chunks of the list index
  } want;
  std::optional<Session> session;
  std::optional<User> user;
  std::optional<Handbook> handbook;
  std::vector<SocialLink> links;
  std::optional<VaultKey> vault_key;
  std::vector<VaultEntry> vault_entries;
  std::optional<VaultEntry> vault_entry;
  std::vector<VaultIndexChunk> vault_index;
};

class Repository {
 public:
  virtual ~Repository() = default;

  // Fills `b` as b.want asks. The default runs the single-row methods one after the other;
  // backends override it when they can do better (PostgreSQL: pipeline mode).
  virtual void read_batch(ReadBatch& b);

  // --- health
  virtual void ping() = 0;  // throws UnavailableError when the database is unreachable

  // --- users. username_norm = lowercase username; uniqueness on username_norm and on email.
  // Throws ConflictError when either is taken.
  virtual int64_t create_user(const std::string& username, const std::string& username_norm,
                              const std::string& email, const std::string& password_hash,
                              int64_t now) = 0;
  // login is compared against username_norm and against email (both already lowercased by caller).
  virtual std::optional<User> find_user_by_login(const std::string& login_lower) = 0;
  virtual std::optional<User> find_user(int64_t id) = 0;
  // Replaces the hash only while the stored one is still expected_hash (compare-and-swap): a
  // signin that re-hashes the password it verified must not undo a password change that
  // committed in the meantime. false when the hash changed or the user is gone.
  virtual bool update_password_hash(int64_t user_id, const std::string& expected_hash,
                                    const std::string& hash) = 0;
  // A password change in one transaction: stores the new hash, then revokes the user's sessions
  // other than keep_sid, both or neither; returns how many sessions it revoked. The hash comes
  // first: on PostgreSQL its row lock orders the change against a racing create_session with a
  // verified hash (that one either sees the new hash, or commits first and is revoked here).
  virtual int64_t change_password(int64_t user_id, const std::string& hash,
                                  const std::string& keep_sid, int64_t now) = 0;
  // Deletes the user; every row of theirs goes with it (ON DELETE CASCADE).
  virtual bool delete_user(int64_t user_id) = 0;

  // --- sessions
  // Inserts s. With verified_hash (a signin: the hash its password was checked against), only
  // while that is still the user's hash: a signin racing a password change gets no session
  // (false), rather than a session the change's revocation missed. ConflictError when the user
  // does not exist and no hash was given.
  virtual bool create_session(const Session& s, const std::string* verified_hash = nullptr) = 0;
  virtual std::optional<Session> find_session(const std::string& id) = 0;
  // Compare-and-swap of the refresh jti: succeeds (true) only when the session is not revoked and
  // its refresh_jti is old_jti. Two concurrent rotations with one token: at most one true.
  virtual bool rotate_refresh(const std::string& sid, const std::string& old_jti,
                              const std::string& new_jti, int64_t new_expires_at, int64_t now) = 0;
  // Sets last_used_at = now only when it is older than now - 60 (at most one write a minute).
  virtual void touch_session(const std::string& sid, int64_t now) = 0;
  virtual bool revoke_session(const std::string& sid, int64_t now) = 0;
  // Revokes the user's sessions other than except_sid (all when except_sid is empty); returns
  // count.
  virtual int64_t revoke_user_sessions(int64_t user_id, const std::string& except_sid,
                                       int64_t now) = 0;
  // Not revoked and expires_at > now, oldest first.
  virtual std::vector<Session> list_active_sessions(int64_t user_id, int64_t now) = 0;
  virtual int64_t bump_vault_epoch(const std::string& sid) = 0;  // returns the new epoch

  // --- token blocklist (spent refresh jtis and revoked access jtis)
  virtual void block_token(const std::string& jti, const std::string& sid, int64_t user_id,
                           int64_t expires_at) = 0;
  virtual bool is_token_blocked(const std::string& jti) = 0;

  // Deletes sessions, blocklist rows and mfa challenges whose expiry is before now; returns rows
  // removed.
  virtual int64_t purge_expired(int64_t now) = 0;

  // --- personal handbook
  virtual std::optional<Handbook> get_handbook(int64_t user_id) = 0;
  virtual Handbook put_handbook(int64_t user_id, const Handbook& h) = 0;  // upsert; returns stored

  // --- social links (creation order = id order)
  virtual std::vector<SocialLink> list_links(int64_t user_id) = 0;
  // nullopt when the user already has `cap` links (checked race-free inside the transaction).
  virtual std::optional<SocialLink> add_link(int64_t user_id, const std::string& platform,
                                             const std::string& url, int64_t now, int64_t cap) = 0;
  // nullopt when no such link of this user.
  virtual std::optional<SocialLink> update_link(int64_t user_id, int64_t id,
                                                const std::string& platform,
                                                const std::string& url) = 0;
  virtual bool delete_link(int64_t user_id, int64_t id) = 0;

  // --- vault keys
  virtual std::optional<VaultKey> get_vault_key(int64_t user_id) = 0;
  virtual bool create_vault_key(const VaultKey& k) = 0;  // false when one exists
  // Replaces salt/params/wrapped key and bumps generation, only if generation == expected.
  virtual bool update_vault_key(const VaultKey& k, int64_t expected_generation) = 0;

  // --- vault entries. Every write keeps the list index through `index` (see VaultIndexer); a
  // write without one (or with another version) sets the vault's index_version to 0.
  // Inserts an entry in one transaction: reserves the id, calls seal(id) for the ciphertext (the id
  // is bound into the associated data), stores it. nullopt when the user has `cap` entries, or
  // when the new entry would take the vault beyond `bytes`.
  virtual std::optional<VaultEntry> add_vault_entry(
      int64_t user_id, int64_t now, int64_t cap, const std::function<std::string(int64_t id)>& seal,
      VaultIndexer* index = nullptr, const VaultBytes& bytes = {}) = 0;
  virtual std::vector<VaultEntry> list_vault_entries(int64_t user_id) = 0;
  // A page of the user's entries in id order (keyset pagination): those with id > after, at most
  // limit of them. Bounded by limit whatever the vault holds.
  virtual std::vector<VaultEntry> list_vault_entries_after(int64_t user_id, int64_t after,
                                                           int64_t limit) = 0;
  virtual std::optional<VaultEntry> get_vault_entry(int64_t user_id, int64_t id) = 0;
  // nullopt when no such entry of the user. VaultFullError (nothing written) when the entry grows
  // and the vault ends up beyond `bytes`; an entry that shrinks or keeps its size always passes.
  virtual std::optional<VaultEntry> update_vault_entry(int64_t user_id, int64_t id,
                                                       const std::string& ciphertext, int64_t now,
                                                       VaultIndexer* index = nullptr,
                                                       const VaultBytes& bytes = {}) = 0;
  virtual bool delete_vault_entry(int64_t user_id, int64_t id, VaultIndexer* index = nullptr) = 0;

  // --- the vault list index
  // At most limit chunks numbered above after_chunk, in chunk order: a list
  // reads a large index a part at a time (kIndexChunksPerRead).
  virtual std::vector<VaultIndexChunk> list_vault_index(int64_t user_id, int64_t after_chunk,
                                                        int64_t limit) = 0;
  // In one transaction: builds the index from every entry of the user (index.build, numbered
  // from one above the highest chunk number the user has), replaces the old chunks and sets
  // index_version. Returns the new chunks; nullopt (nothing written)
  // when the user has no vault or build returned nullopt.
  virtual std::optional<std::vector<VaultIndexChunk>> rebuild_vault_index(int64_t user_id,
                                                                          VaultIndexer& index) = 0;

  // --- two-step sign-in (SPEC 13)
  // nullopt when the user never started a setup (2FA off, nothing pending).
  virtual std::optional<TotpState> get_totp(int64_t user_id) = 0;
  // Stores `sealed` as the user's pending secret, replacing a pending one. false (nothing
  // written) when 2FA is already on. ConflictError when the user does not exist.
  virtual bool set_totp_pending(int64_t user_id, const std::string& sealed, int64_t now) = 0;
  // The confirmation, in one transaction: the pending secret -- still `pending`, the one the
  // caller checked the code against -- becomes the secret in use, with last_step = step; the
  // recovery codes become `code_hashes` (the old set, if any, is deleted); every session of the
  // user but keep_sid is revoked. Returns how many sessions it revoked; nullopt (nothing
  // written) when 2FA is on or `pending` is not the pending secret (a setup replaced it).
  virtual std::optional<int64_t> enable_totp(int64_t user_id, const std::string& pending,
                                             int64_t step,
                                             const std::vector<std::string>& code_hashes,
                                             const std::string& keep_sid, int64_t now) = 0;
  // Turns 2FA off: deletes the secret (and a pending one), the recovery codes and the user's
  // pending mfa challenges, in one transaction. false when 2FA was not on (nothing deleted).
  virtual bool disable_totp(int64_t user_id) = 0;
  // Spends a second factor, atomically (of two concurrent calls with one code, one wins): a TOTP
  // step only when 2FA is on with f.sealed_secret and step > last_step (which becomes step); a
  // recovery code only when it is an unused code of the user's current set (it becomes used).
  virtual bool use_second_factor(int64_t user_id, const SecondFactor& f, int64_t now) = 0;
  // Replaces the user's recovery codes with code_hashes, while 2FA is on (false otherwise).
  virtual bool replace_recovery_codes(int64_t user_id, const std::vector<std::string>& code_hashes,
                                      int64_t now) = 0;

  // --- pending second steps (mfa challenges). Expired ones are removed by purge_expired.
  // ConflictError when the user does not exist or the hash is taken.
  virtual void create_mfa_challenge(const MfaChallenge& c) = 0;
  // Counts one code attempt, atomically: only while the challenge is unspent, expires_at > now
  // and fewer than max_attempts were counted. Returns the challenge with this attempt counted;
  // nullopt (nothing counted) otherwise. Any number of instances may race: at most
  // max_attempts calls ever succeed.
  virtual std::optional<MfaChallenge> claim_mfa_attempt(const std::string& token_hash, int64_t now,
                                                        int64_t max_attempts) = 0;
  // A second step's success, in one transaction: spends the challenge (unspent, unexpired, of
  // user_id) and the factor (as use_second_factor), both or neither. Of concurrent calls on one
  // challenge at most one returns ok.
  virtual MfaFinish finish_mfa(const std::string& token_hash, int64_t user_id,
                               const SecondFactor& f, int64_t now) = 0;
};

enum class Access { read, write };

// The storage engine: owns connections and the threads that use them. Network threads call run();
// the work executes where the backend decides (SQLite: reads inline on the calling thread with a
// per-thread connection, writes on one writer thread; PostgreSQL: on a fiber of the calling
// thread, whose waits for the database suspend only that fiber) and the coroutine resumes on the
// caller's executor. Network threads never block on the database for longer than one brief
// SQLite read.
class Storage {
 public:
  virtual ~Storage() = default;
  virtual Task<void> run(Access access, std::function<void(Repository&)> work) = 0;
  // Fills b as b.want asks, in one read: what an authenticated request reads before its handler
  // runs (one snapshot). The default runs Repository::read_batch as a read job; PostgreSQL sends
  // the statement from the caller's coroutine straight into its loop's pipeline, without a job
  // or a fiber. b must live until it completes.
  virtual Task<void> read(ReadBatch& b);
  // Blocking variant for the CLI (migrate) and tests.
  virtual void run_sync(Access access, const std::function<void(Repository&)>& work) = 0;
  // Applies pending migrations; throws std::runtime_error with a clear message when the database
  // is newer than this binary.
  virtual void migrate() = 0;
  virtual int schema_version() = 0;
  virtual const char* dialect() const = 0;  // "sqlite" | "postgresql"
  virtual void close() = 0;                 // finishes queued work, closes connections
};

struct StorageOptions {
  std::string url;     // sqlite:///path or postgresql://...
  int pool_size = 10;  // PostgreSQL connections
  int statement_timeout_ms = 5000;
  int connect_timeout_s = 1;
  // SQLite: this process owns the database file while it runs (the "unix-excl" VFS: one
  // process-wide lock, the WAL index in memory). Another process -- a second server, the sqlite3
  // shell -- gets "database is locked". Saves a lock system call per read transaction and the
  // contention of the network threads on the shared WAL index (docs/storage.md).
  bool sqlite_exclusive = true;
};

// Creates the backend for the URL. Throws std::runtime_error (message free of passwords) when the
// URL is malformed or, for SQLite, the file cannot be opened.
std::unique_ptr<Storage> open_storage(const StorageOptions& opts);

}  // namespace sr::storage
