// Migration 3 (SPEC 19): PostgreSQL's text columns become TEXT, in place. A database made by the
// previous release's migrations (1 and 2), holding rows written the way that release wrote them
// (non-ASCII text as UTF-8 bytes, binary blobs), is migrated and read back through the
// repository; its lookups still use their indexes; a value that is not UTF-8 stops the migration
// with a message that says where, and changes nothing. SQLite's migration 3 changes nothing: its
// upgrade is checked the same way.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "fixture.hpp"
#include "storage/migrations/migrations.hpp"
#include "storage/postgres/pg_repository.hpp"
#include "util/error.hpp"

namespace sr::storage::test {
namespace {

using postgres::Params;
using postgres::PgRepository;

// Text as the old release stored it and as it must come back.
const std::string kName = "Zoë Ñandú";
const std::string kNorm = "zoë ñandú";
const std::string kEmail = "zoë@exämple.com";
const std::string kHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
const std::string kFullName = "山田 太郎";
const std::string kPhone = "+81 ３-１２３４";
const std::string kBio = "line one\nשלום \xe2\x80\xae 🔒 \\ ' \" $1";
const std::string kPlatform = "Mastodon";
const std::string kUrl = "https://例え.jp/@zoë";
const std::string kSid = "sid-ü-Q2xpZW50";
const std::string kJti = "jti-ö";
const std::string kAgent = "Mozilla/5.0 (X11; Ünïcødé) Gecko/20100101";
const std::string kIp = "2001:db8::1";
const std::string kSpent = "spent-jti-ß";
// Binary columns keep their bytes, NUL and all.
const std::string kSalt("\0\x01\xff\x80salt-bytes\0\0", 16);
const std::string kWrapped("\x00v1\x80\xfe\xff wrapped", 14);
const std::string kCipher("ct\0\xc3\x28\xff", 6);
const std::string kChunk("chunk\0\xed\xa0\x80", 9);

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

class TextMigrationTest : public StorageTest {
 protected:
  // A string column's value as the old release wrote it (PostgreSQL: BYTEA; SQLite: TEXT), and a
  // blob's. Built from the constants above, never from outside data.
  std::string text(const std::string& s) const {
    return pg() ? "'\\x" + hex(s) + "'::bytea" : "CAST(X'" + hex(s) + "' AS TEXT)";
  }
  std::string blob(const std::string& s) const {
    return pg() ? "'\\x" + hex(s) + "'::bytea" : "X'" + hex(s) + "'";
  }

  void exec(const std::string& sql) {
    if (pg())
      pg_exec(url_, sql.c_str());
    else
      sqlite_exec(db_path_, sql.c_str());
  }

  // What an older build's migrate() left: schema_migrations and the given migrations.
  void make_old_database(const std::vector<int>& versions) {
    st_->close();
    st_.reset();
    if (pg()) {
      pg_exec(url_, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    } else {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_path_ + suffix);
    }
    exec(pg() ? "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT "
                "NOT NULL)"
              : "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER "
                "NOT NULL)");
    for (const auto& m : pg() ? migrations::postgresql() : migrations::sqlite()) {
      if (std::find(versions.begin(), versions.end(), m.version) == versions.end()) continue;
      exec(m.sql);
      exec("INSERT INTO schema_migrations (version, applied_at) VALUES (" +
           std::to_string(m.version) + ", 0)");
    }
  }

  // One user owning a row in every table, the way the old release wrote them.
  void insert_old_rows() {
    const std::string user = "(SELECT id FROM users WHERE email = " + text(kEmail) + ")";
    exec("INSERT INTO users (username, username_norm, email, password_hash, created_at) VALUES (" +
         text(kName) + ", " + text(kNorm) + ", " + text(kEmail) + ", " + text(kHash) + ", 100)");
    exec(
        "INSERT INTO personal_handbook (user_id, full_name, age, phone, address, bio, "
        "updated_at) VALUES (" +
        user + ", " + text(kFullName) + ", 42, " + text(kPhone) + ", NULL, " + text(kBio) + ", 7)");
    exec("INSERT INTO social_links (user_id, platform, url, created_at) VALUES (" + user + ", " +
         text(kPlatform) + ", " + text(kUrl) + ", 8)");
    exec(
        "INSERT INTO sessions (id, user_id, refresh_jti, created_at, last_used_at, expires_at, "
        "revoked_at, user_agent, ip, vault_epoch) VALUES (" +
        text(kSid) + ", " + user + ", " + text(kJti) + ", 10, 11, 99999, NULL, " + text(kAgent) +
        ", " + text(kIp) + ", 2)");
    exec("INSERT INTO token_blocklist (jti, session_id, user_id, expires_at) VALUES (" +
         text(kSpent) + ", " + text(kSid) + ", " + user + ", 99999)");
    exec(
        "INSERT INTO vault_keys (user_id, kdf_salt, kdf_mem_kib, kdf_passes, wrapped_key, "
        "generation, created_at, updated_at, index_version) VALUES (" +
        user + ", " + blob(kSalt) + ", 19456, 2, " + blob(kWrapped) + ", 3, 5, 6, 1)");
    exec("INSERT INTO vault (user_id, ciphertext, created_at, updated_at, index_chunk) VALUES (" +
         user + ", " + blob(kCipher) + ", 20, 21, 0)");
    exec("INSERT INTO vault_index (user_id, chunk, ciphertext) VALUES (" + user + ", 0, " +
         blob(kChunk) + ")");
  }

  // Every row insert_old_rows() wrote comes back through the repository, byte for byte; the
  // lookups and unique keys work.
  void expect_old_rows_read_back() {
    auto u = r([&](Repository& r) { return r.find_user_by_login(kNorm); });
    ASSERT_TRUE(u);
    EXPECT_EQ(u->username, kName);
    EXPECT_EQ(u->email, kEmail);
    EXPECT_EQ(u->password_hash, kHash);
    EXPECT_EQ(u->created_at, 100);
    const int64_t uid = u->id;
    EXPECT_EQ(r([&](Repository& r) { return r.find_user_by_login(kEmail); })->id, uid);
    EXPECT_FALSE(r([&](Repository& r) { return r.find_user_by_login("zoe ñandú"); }));

    ReadBatch b;
    b.want = {.session = kSid,
              .user_id = uid,
              .user = true,
              .handbook = true,
              .links = true,
              .vault_key = true,
              .vault_entries = true,
              .vault_index = true};
    r([&](Repository& r) { r.read_batch(b); });
    ASSERT_TRUE(b.session && b.user && b.handbook && b.vault_key);
    EXPECT_EQ(b.session->id, kSid);
    EXPECT_EQ(b.session->user_id, uid);
    EXPECT_EQ(b.session->refresh_jti, kJti);
    EXPECT_EQ(b.session->user_agent, kAgent);
    EXPECT_EQ(b.session->ip, kIp);
    EXPECT_EQ(b.session->vault_epoch, 2);
    EXPECT_FALSE(b.session->revoked_at);
    EXPECT_EQ(b.user->username, kName);
    EXPECT_EQ(b.handbook->full_name, kFullName);
    EXPECT_EQ(b.handbook->age, 42);
    EXPECT_EQ(b.handbook->phone, kPhone);
    EXPECT_FALSE(b.handbook->address);
    EXPECT_EQ(b.handbook->bio, kBio);
    ASSERT_EQ(b.links.size(), 1u);
    EXPECT_EQ(b.links[0].platform, kPlatform);
    EXPECT_EQ(b.links[0].url, kUrl);
    EXPECT_EQ(b.vault_key->kdf_salt, kSalt);
    EXPECT_EQ(b.vault_key->wrapped_key, kWrapped);
    EXPECT_EQ(b.vault_key->generation, 3);
    EXPECT_EQ(b.vault_key->index_version, 1);
    ASSERT_EQ(b.vault_entries.size(), 1u);
    EXPECT_EQ(b.vault_entries[0].ciphertext, kCipher);
    ASSERT_EQ(b.vault_index.size(), 1u);
    EXPECT_EQ(b.vault_index[0].ciphertext, kChunk);
    auto s = r([&](Repository& r) { return r.find_session(kSid); });
    EXPECT_TRUE(s && s->user_agent == kAgent);
    EXPECT_TRUE(r([&](Repository& r) { return r.is_token_blocked(kSpent); }));
    EXPECT_FALSE(r([&](Repository& r) { return r.is_token_blocked(kJti); }));

    // Writes go on against the converted columns, and their unique keys still hold.
    EXPECT_THROW(w([&](Repository& r) { r.create_user("Other", kNorm, "o@x", "h", 1); }),
                 sr::ConflictError);
    EXPECT_THROW(w([&](Repository& r) { r.create_user("Other", "other", kEmail, "h", 1); }),
                 sr::ConflictError);
    EXPECT_TRUE(w([&](Repository& r) { return r.rotate_refresh(kSid, kJti, "jti-ø", 99999, 12); }));
    EXPECT_EQ(r([&](Repository& r) { return r.find_session(kSid); })->refresh_jti, "jti-ø");
    int64_t other = w([](Repository& r) { return r.create_user("Ærø", "ærø", "ærø@x", "h", 2); });
    EXPECT_EQ(r([](Repository& r) { return r.find_user_by_login("ærø"); })->id, other);
  }

  int latest() const {
    return (pg() ? migrations::postgresql() : migrations::sqlite()).back().version;
  }
};

TEST_P(TextMigrationTest, UpgradeKeepsEveryRowAndEveryLookup) {
  make_old_database({1, 2});
  insert_old_rows();
  st_ = open();
  ASSERT_EQ(st_->schema_version(), 2);
  st_->migrate();
  EXPECT_EQ(st_->schema_version(), latest());
  expect_old_rows_read_back();

  if (!pg()) return;
  // The columns have the types SPEC 19 asks for: text as TEXT, blobs as BYTEA.
  RawPg raw(url_);
  ASSERT_TRUE(raw.ok());
  auto types = raw.rows(
      "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
      "WHERE table_schema = 'public' AND data_type IN ('text', 'bytea') ORDER BY 1");
  std::string text_cols, bytea_cols;
  for (const auto& t : types) (t[1] == "text" ? text_cols : bytea_cols) += t[0] + " ";
  EXPECT_EQ(text_cols,
            "personal_handbook.address personal_handbook.bio personal_handbook.full_name "
            "personal_handbook.phone sessions.id sessions.ip sessions.refresh_jti "
            "sessions.user_agent social_links.platform social_links.url token_blocklist.jti "
            "token_blocklist.session_id users.email users.password_hash users.username "
            "users.username_norm ");
  EXPECT_EQ(bytea_cols,
            "mfa_challenges.password_binding mfa_challenges.token_hash recovery_codes.code_hash "
            "user_totp.pending user_totp.secret vault.ciphertext vault_index.ciphertext "
            "vault_keys.kdf_salt vault_keys.wrapped_key ");

  // The lookups the repository prepares take text parameters and run on their indexes: the
  // statements as the storage's own connection prepared them, planned again here with sequential
  // scans off (a lookup that cannot use its index would still show a Seq Scan).
  std::vector<std::vector<std::string>> prepared;
  st_->run_sync(Access::read, [&](Repository& r) {
    ASSERT_TRUE(r.find_user_by_login(kNorm));
    ASSERT_TRUE(r.find_session(kSid));
    ASSERT_TRUE(r.is_token_blocked(kSpent));
    auto res = static_cast<PgRepository&>(r).conn().exec(
        "SELECT statement, parameter_types::text FROM pg_prepared_statements", Params());
    for (int i = 0; i < res.rows(); ++i) prepared.push_back({res.bytes(i, 0), res.bytes(i, 1)});
  });
  auto plan_of = [&](const std::string& fragment, const std::string& value) {
    for (const auto& p : prepared) {
      if (p[0].find(fragment) == std::string::npos) continue;
      EXPECT_EQ(p[1], "{text}") << p[0];
      EXPECT_TRUE(raw.exec("DEALLOCATE ALL"));
      EXPECT_TRUE(raw.exec("SET enable_seqscan = off"));
      EXPECT_TRUE(raw.exec("PREPARE q(text) AS " + p[0]));
      char* lit = PQescapeLiteral(raw.c, value.data(), value.size());
      std::string plan;
      for (const auto& row : raw.rows("EXPLAIN EXECUTE q(" + std::string(lit) + ")"))
        plan += row[0] + "\n";
      PQfreemem(lit);
      return plan;
    }
    ADD_FAILURE() << "no prepared statement with " << fragment;
    return std::string();
  };
  auto login = plan_of("username_norm = $1 OR email = $1", kNorm);
  EXPECT_NE(login.find("users_username_norm_key"), std::string::npos) << login;
  EXPECT_NE(login.find("users_email_key"), std::string::npos) << login;
  EXPECT_EQ(login.find("Seq Scan"), std::string::npos) << login;
  auto session = plan_of("FROM sessions WHERE id = $1", kSid);
  EXPECT_NE(session.find("sessions_pkey"), std::string::npos) << session;
  EXPECT_EQ(session.find("Seq Scan"), std::string::npos) << session;
  auto blocked = plan_of("FROM token_blocklist WHERE jti = $1", kSpent);
  EXPECT_NE(blocked.find("token_blocklist_pkey"), std::string::npos) << blocked;
  EXPECT_EQ(blocked.find("Seq Scan"), std::string::npos) << blocked;
}

// A database migrated by a build that had migration 4 (two-step sign-in) but not yet 3 (main
// between the two): migrate() applies every version the database lacks, 3 included, not only
// those above its highest.
TEST_P(TextMigrationTest, UpgradeOfADatabaseThatHasFourButNotThree) {
  make_old_database({1, 2, 4});
  insert_old_rows();
  st_ = open();
  ASSERT_EQ(st_->schema_version(), 4);
  st_->migrate();
  expect_old_rows_read_back();
  if (!pg()) return;
  RawPg raw(url_);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw.scalar("SELECT string_agg(version::text, ',' ORDER BY version) FROM "
                       "schema_migrations"),
            "1,2,3,4");
  EXPECT_EQ(raw.scalar("SELECT data_type FROM information_schema.columns WHERE table_name = "
                       "'users' AND column_name = 'username_norm'"),
            "text");
}

// A value the old BYTEA columns held that is not UTF-8 (possible only by writing the database
// around strongroom): the migration stops, says which column and which rows, shows none of the
// bytes, and changes nothing; once the value is corrected the migration goes through.
TEST_P(TextMigrationTest, PgNonUtf8ValueStopsTheMigrationAndChangesNothing) {
  if (!pg()) GTEST_SKIP() << "SQLite's migration 3 converts nothing";
  make_old_database({1, 2});
  insert_old_rows();
  const std::string latin1 = "Zo\xeb secret-ish";  // ISO 8859-1, not UTF-8
  exec("INSERT INTO users (username, username_norm, email, password_hash, created_at) VALUES (" +
       text(latin1) + ", 'x', 'x@x', 'h', 1)");
  exec("UPDATE personal_handbook SET bio = " + text(std::string("nul\0byte", 8)));
  RawPg raw(url_);
  ASSERT_TRUE(raw.ok());
  const std::string bad_id = raw.rows("SELECT id FROM users WHERE username_norm = 'x'")[0][0];
  const std::string owner = raw.rows("SELECT user_id FROM personal_handbook")[0][0];

  st_ = open();
  auto migrate_error = [&]() -> std::string {
    try {
      st_->migrate();
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  std::string msg = migrate_error();
  EXPECT_NE(msg.find("users.username holds 1 value(s) that are not valid UTF-8"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("users.id: " + bad_id), std::string::npos) << msg;
  EXPECT_EQ(msg.find("secret-ish"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("\xeb"), std::string::npos) << msg;
  EXPECT_EQ(st_->schema_version(), 2);
  // Nothing changed: the column is still BYTEA and the bytes are as they were.
  EXPECT_EQ(raw.rows("SELECT data_type FROM information_schema.columns WHERE table_name = "
                     "'users' AND column_name = 'username'")[0][0],
            "bytea");
  EXPECT_EQ(raw.rows("SELECT encode(username, 'hex') FROM users WHERE id = " + bad_id)[0][0],
            hex(latin1));

  // Corrected (as an operator would, in psql): the next column with a bad value is named.
  ASSERT_TRUE(
      raw.exec("UPDATE users SET username = convert_to(convert_from(username, 'LATIN1'), "
               "'UTF8') WHERE id = " +
               bad_id));
  msg = migrate_error();
  EXPECT_NE(msg.find("personal_handbook.bio holds 1 value(s)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("personal_handbook.user_id: " + owner), std::string::npos) << msg;
  EXPECT_EQ(st_->schema_version(), 2);

  ASSERT_TRUE(raw.exec("UPDATE personal_handbook SET bio = NULL"));
  EXPECT_EQ(migrate_error(), "");
  EXPECT_EQ(st_->schema_version(), latest());
  EXPECT_EQ(r([&](Repository& r) { return r.find_user_by_login("x"); })->username,
            "Zoë secret-ish");
  EXPECT_EQ(r([&](Repository& r) { return r.find_user_by_login(kEmail); })->username, kName);
}

// In a database whose encoding is neither UTF8 nor SQL_ASCII, PostgreSQL would transcode our
// UTF-8 and refuse what it cannot represent: the migration refuses to start instead.
TEST_P(TextMigrationTest, PgNonUtf8DatabaseIsRefused) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  const auto slash = url_.rfind('/');
  ASSERT_NE(slash, std::string::npos);
  const std::string db = url_.substr(slash + 1) + "_latin1";
  pg_exec(url_, ("DROP DATABASE IF EXISTS " + db).c_str());
  pg_exec(url_, ("CREATE DATABASE " + db +
                 " ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
                    .c_str());
  StorageOptions o;
  o.url = url_.substr(0, slash + 1) + db;
  auto st = open_storage(o);
  try {
    st->migrate();
    ADD_FAILURE() << "migrated a LATIN1 database";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("needs a UTF8 database, and this one is LATIN1"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(st->schema_version(), 0);  // one transaction: migrations 1 and 2 went back too
  st->close();
  pg_exec(url_, ("DROP DATABASE " + db).c_str());
}

INSTANTIATE_TEST_SUITE_P(Backends, TextMigrationTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql), backend_name);

}  // namespace
}  // namespace sr::storage::test
