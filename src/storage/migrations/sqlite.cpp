#include "storage/migrations/migrations.hpp"

namespace sr::storage::migrations {

namespace {

// Times are unix seconds. AUTOINCREMENT so that an id is never reused after a delete (vault
// ciphertexts bind their id; API clients may hold on to ids). Every child table is indexed by
// user_id, which is both its lookup path and what ON DELETE CASCADE needs to be cheap.
constexpr const char* kV1 = R"sql(
CREATE TABLE users (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  username      TEXT    NOT NULL,
  username_norm TEXT    NOT NULL UNIQUE,
  email         TEXT    NOT NULL UNIQUE,
  password_hash TEXT    NOT NULL,
  created_at    INTEGER NOT NULL
);

CREATE TABLE personal_handbook (
  user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  full_name  TEXT,
  age        INTEGER,
  phone      TEXT,
  address    TEXT,
  bio        TEXT,
  updated_at INTEGER NOT NULL
);

CREATE TABLE social_links (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  platform   TEXT    NOT NULL,
  url        TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX social_links_by_user ON social_links(user_id, id);

CREATE TABLE vault_keys (
  user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  kdf_salt    BLOB    NOT NULL,
  kdf_mem_kib INTEGER NOT NULL,
  kdf_passes  INTEGER NOT NULL,
  wrapped_key BLOB    NOT NULL,
  generation  INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE vault (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  ciphertext BLOB    NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX vault_by_user ON vault(user_id, id);

CREATE TABLE sessions (
  id           TEXT    PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  refresh_jti  TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  revoked_at   INTEGER,
  user_agent   TEXT    NOT NULL,
  ip           TEXT    NOT NULL,
  vault_epoch  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_user ON sessions(user_id, created_at);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);

CREATE TABLE token_blocklist (
  jti        TEXT    PRIMARY KEY,
  session_id TEXT    NOT NULL,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL
);
CREATE INDEX token_blocklist_by_expiry ON token_blocklist(expires_at);
CREATE INDEX token_blocklist_by_user ON token_blocklist(user_id);
)sql";

// The vault list index (vault/index.hpp): sealed chunks of what the list shows, the chunk each
// entry is in, and the index format each vault's index is complete in (0: none; vaults from
// before this migration get theirs built by their next list).
constexpr const char* kV2 = R"sql(
ALTER TABLE vault_keys ADD COLUMN index_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE vault ADD COLUMN index_chunk INTEGER;
CREATE TABLE vault_index (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  chunk      INTEGER NOT NULL,
  ciphertext BLOB    NOT NULL,
  UNIQUE (user_id, chunk)
);
)sql";

// PostgreSQL's migration 3 turns its BYTEA text columns into TEXT; SQLite's were TEXT from the
// start. The version exists in both dialects so that one number means one schema.
constexpr const char* kV3 = "-- nothing to change: text columns are TEXT already";

// Two-step sign-in (SPEC 13). Version 4 on both dialects (3 is reserved for PostgreSQL's text
// columns, SPEC 19). user_totp: the sealed TOTP secret in use (2FA is on when it is set), the
// sealed secret of a setup not yet confirmed, and the replay guard's last spent step.
// recovery_codes: keyed hashes only; a used code keeps its row (used_at) until the set is replaced.
// mfa_challenges: a signin's pending second step, by the keyed hash of its mfa_token.
constexpr const char* kV4 = R"sql(
CREATE TABLE user_totp (
  user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  secret     BLOB,
  pending    BLOB,
  last_step  INTEGER NOT NULL DEFAULT 0,
  enabled_at INTEGER,
  updated_at INTEGER NOT NULL
);
CREATE TABLE recovery_codes (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash  BLOB    NOT NULL,
  created_at INTEGER NOT NULL,
  used_at    INTEGER,
  UNIQUE (user_id, code_hash)
);
CREATE TABLE mfa_challenges (
  token_hash       BLOB    PRIMARY KEY,
  user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  password_binding BLOB    NOT NULL,
  created_at       INTEGER NOT NULL,
  expires_at       INTEGER NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  spent_at         INTEGER
);
CREATE INDEX mfa_challenges_by_user ON mfa_challenges(user_id);
CREATE INDEX mfa_challenges_by_expiry ON mfa_challenges(expires_at);
)sql";

constexpr Migration kAll[] = {
    {1, "initial schema", kV1},
    {2, "vault list index", kV2},
    {3, "text columns as text", kV3},
    {4, "two-step sign-in", kV4},
};

}  // namespace

std::span<const Migration> sqlite() {
  return kAll;
}

}  // namespace sr::storage::migrations
