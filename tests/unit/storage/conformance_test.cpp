// Every Repository method, against both backends.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <thread>

#include "fixture.hpp"
#include "storage/postgres/pg_repository.hpp"
#include "storage/sqlite/sqlite_repository.hpp"
#include "util/error.hpp"

namespace sr::storage::test {
namespace {

TEST_P(StorageTest, DialectAndPing) {
  EXPECT_STREQ(st_->dialect(), pg() ? "postgresql" : "sqlite");
  EXPECT_NO_THROW(r([](Repository& r) { r.ping(); }));
  EXPECT_NO_THROW(w([](Repository& r) { r.ping(); }));
}

TEST_P(StorageTest, Users) {
  int64_t id = w([](Repository& r) {
    return r.create_user("Alice", "alice", "alice@example.com", "h1", 1234);
  });
  EXPECT_GT(id, 0);
  auto u = r([&](Repository& r) { return r.find_user(id); });
  ASSERT_TRUE(u);
  EXPECT_EQ(u->id, id);
  EXPECT_EQ(u->username, "Alice");
  EXPECT_EQ(u->email, "alice@example.com");
  EXPECT_EQ(u->password_hash, "h1");
  EXPECT_EQ(u->created_at, 1234);

  auto by_name = r([](Repository& r) { return r.find_user_by_login("alice"); });
  ASSERT_TRUE(by_name);
  EXPECT_EQ(by_name->id, id);
  auto by_mail = r([](Repository& r) { return r.find_user_by_login("alice@example.com"); });
  ASSERT_TRUE(by_mail);
  EXPECT_EQ(by_mail->id, id);
  EXPECT_FALSE(r([](Repository& r) { return r.find_user_by_login("Alice"); }));  // caller folds
  EXPECT_FALSE(r([](Repository& r) { return r.find_user_by_login("bob"); }));
  EXPECT_FALSE(r([](Repository& r) { return r.find_user(999999); }));

  // Uniqueness: normalized username, and email.
  EXPECT_THROW(
      w([](Repository& r) { r.create_user("ALICE", "alice", "other@example.com", "h", 1); }),
      sr::ConflictError);
  EXPECT_THROW(w([](Repository& r) { r.create_user("bob", "bob", "alice@example.com", "h", 1); }),
               sr::ConflictError);
  int64_t bob =
      w([](Repository& r) { return r.create_user("Bob", "bob", "bob@example.com", "h", 1); });
  EXPECT_NE(bob, id);

  // update_password_hash is a compare-and-swap on the stored hash.
  EXPECT_TRUE(w([&](Repository& r) { return r.update_password_hash(id, "h1", "h2"); }));
  EXPECT_EQ(r([&](Repository& r) { return r.find_user(id); })->password_hash, "h2");
  EXPECT_FALSE(w([&](Repository& r) { return r.update_password_hash(id, "h1", "h3"); }));
  EXPECT_EQ(r([&](Repository& r) { return r.find_user(id); })->password_hash, "h2");
  EXPECT_FALSE(w([](Repository& r) { return r.update_password_hash(999999, "h", "x"); }));

  EXPECT_TRUE(w([&](Repository& r) { return r.delete_user(id); }));
  EXPECT_FALSE(w([&](Repository& r) { return r.delete_user(id); }));
  EXPECT_FALSE(r([&](Repository& r) { return r.find_user(id); }));
  // The name is free again.
  EXPECT_NO_THROW(
      w([](Repository& r) { r.create_user("Alice", "alice", "alice@example.com", "h", 1); }));
}

TEST_P(StorageTest, LoginPrefersUsernameOverEmail) {
  // A user whose username equals another user's email: the username match wins, deterministically.
  int64_t a =
      w([](Repository& r) { return r.create_user("x@y.z", "x@y.z", "a@example.com", "h", 1); });
  w([](Repository& r) { return r.create_user("b", "b", "x@y.z", "h", 1); });
  EXPECT_EQ(r([](Repository& r) { return r.find_user_by_login("x@y.z"); })->id, a);
}

TEST_P(StorageTest, Sessions) {
  int64_t uid = make_user("u");
  Session s = make_session(uid, "s1", 1000, 5000);
  auto f = r([](Repository& r) { return r.find_session("s1"); });
  ASSERT_TRUE(f);
  EXPECT_EQ(f->id, "s1");
  EXPECT_EQ(f->user_id, uid);
  EXPECT_EQ(f->refresh_jti, "jti-s1");
  EXPECT_EQ(f->created_at, 1000);
  EXPECT_EQ(f->last_used_at, 1000);
  EXPECT_EQ(f->expires_at, 5000);
  EXPECT_FALSE(f->revoked_at);
  EXPECT_EQ(f->user_agent, "ua");
  EXPECT_EQ(f->ip, "127.0.0.1");
  EXPECT_EQ(f->vault_epoch, 0);
  EXPECT_FALSE(r([](Repository& r) { return r.find_session("nope"); }));
  EXPECT_THROW(w([&](Repository& r) { r.create_session(s); }), sr::ConflictError);

  // rotate_refresh is a compare-and-swap on the jti.
  EXPECT_FALSE(w([](Repository& r) { return r.rotate_refresh("s1", "wrong", "j2", 9000, 1100); }));
  EXPECT_TRUE(w([](Repository& r) { return r.rotate_refresh("s1", "jti-s1", "j2", 9000, 1100); }));
  EXPECT_FALSE(w([](Repository& r) { return r.rotate_refresh("s1", "jti-s1", "j3", 9000, 1100); }));
  f = r([](Repository& r) { return r.find_session("s1"); });
  EXPECT_EQ(f->refresh_jti, "j2");
  EXPECT_EQ(f->expires_at, 9000);
  EXPECT_EQ(f->last_used_at, 1100);
  EXPECT_FALSE(w([](Repository& r) { return r.rotate_refresh("nope", "j2", "j3", 9000, 1100); }));

  // touch: at most one write a minute.
  w([](Repository& r) { r.touch_session("s1", 1150); });
  EXPECT_EQ(r([](Repository& r) { return r.find_session("s1"); })->last_used_at, 1100);
  w([](Repository& r) { r.touch_session("s1", 1161); });
  EXPECT_EQ(r([](Repository& r) { return r.find_session("s1"); })->last_used_at, 1161);
  w([](Repository& r) { r.touch_session("nope", 5000); });  // no error

  // vault epoch
  EXPECT_EQ(w([](Repository& r) { return r.bump_vault_epoch("s1"); }), 1);
  EXPECT_EQ(w([](Repository& r) { return r.bump_vault_epoch("s1"); }), 2);
  EXPECT_EQ(r([](Repository& r) { return r.find_session("s1"); })->vault_epoch, 2);
  EXPECT_EQ(w([](Repository& r) { return r.bump_vault_epoch("nope"); }), 0);

  // revoke
  EXPECT_TRUE(w([](Repository& r) { return r.revoke_session("s1", 1200); }));
  EXPECT_FALSE(w([](Repository& r) { return r.revoke_session("s1", 1300); }));
  EXPECT_EQ(r([](Repository& r) { return r.find_session("s1"); })->revoked_at, 1200);
  EXPECT_FALSE(w([](Repository& r) { return r.rotate_refresh("s1", "j2", "j3", 9000, 1300); }));
  EXPECT_FALSE(w([](Repository& r) { return r.revoke_session("nope", 1300); }));
}

TEST_P(StorageTest, RevokeAndListSessions) {
  int64_t uid = make_user("u");
  int64_t other = make_user("o");
  make_session(uid, "c", 3000);
  make_session(uid, "a", 1000);
  make_session(uid, "b", 2000);
  make_session(uid, "expired", 500, 1500);
  make_session(other, "theirs", 1000);

  auto ids = [&](int64_t now) {
    std::vector<std::string> out;
    for (auto& s : r([&](Repository& r) { return r.list_active_sessions(uid, now); }))
      out.push_back(s.id);
    return out;
  };
  EXPECT_EQ(ids(1400), (std::vector<std::string>{"expired", "a", "b", "c"}));  // oldest first
  EXPECT_EQ(ids(1500), (std::vector<std::string>{"a", "b", "c"}));             // expires_at > now

  EXPECT_EQ(w([&](Repository& r) { return r.revoke_user_sessions(uid, "b", 1600); }), 3);
  EXPECT_EQ(ids(1700), (std::vector<std::string>{"b"}));
  EXPECT_EQ(w([&](Repository& r) { return r.revoke_user_sessions(uid, "", 1700); }), 1);
  EXPECT_TRUE(ids(1700).empty());
  EXPECT_EQ(w([&](Repository& r) { return r.revoke_user_sessions(uid, "", 1800); }), 0);
  // Another user's sessions are untouched.
  EXPECT_FALSE(r([](Repository& r) { return r.find_session("theirs"); })->revoked_at);
  EXPECT_EQ(r([&](Repository& r) { return r.list_active_sessions(other, 1800); }).size(), 1u);
}

TEST_P(StorageTest, ChangePasswordIsOneTransaction) {
  int64_t uid = make_user("u"), other = make_user("o");
  make_session(uid, "keep", 1000);
  make_session(uid, "a", 1000);
  make_session(uid, "b", 1000);
  make_session(other, "theirs", 1000);
  EXPECT_EQ(w([&](Repository& r) { return r.change_password(uid, "new-hash", "keep", 1500); }), 2);
  EXPECT_EQ(r([&](Repository& r) { return r.find_user(uid); })->password_hash, "new-hash");
  auto alive = [&](const char* sid) {
    return !r([&](Repository& r) { return r.find_session(sid); })->revoked_at.has_value();
  };
  EXPECT_TRUE(alive("keep"));
  EXPECT_FALSE(alive("a"));
  EXPECT_FALSE(alive("b"));
  EXPECT_TRUE(alive("theirs"));

  // The second statement fails (a trigger refuses the revocation): the first, the new hash, is
  // undone with it.
  make_session(uid, "c", 1000);
  w([&](Repository& r) {
    if (pg())
      static_cast<postgres::PgRepository&>(r).conn().exec_script(
          "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
          "$$BEGIN RAISE EXCEPTION 'refused'; END$$; "
          "CREATE TRIGGER refuse BEFORE UPDATE OF revoked_at ON sessions "
          "FOR EACH ROW EXECUTE FUNCTION refuse()");
    else
      static_cast<sqlite::SqliteRepository&>(r).db().exec(
          "CREATE TRIGGER refuse BEFORE UPDATE OF revoked_at ON sessions "
          "BEGIN SELECT RAISE(ABORT, 'refused'); END");
  });
  EXPECT_ANY_THROW(w([&](Repository& r) { return r.change_password(uid, "newer", "keep", 1600); }));
  EXPECT_TRUE(alive("c")) << "sessions were revoked by a password change that did not happen";
  EXPECT_EQ(r([&](Repository& r) { return r.find_user(uid); })->password_hash, "new-hash");
  // The connection is usable afterwards (the trigger still refuses revocations).
  EXPECT_TRUE(w([&](Repository& r) { return r.update_password_hash(uid, "new-hash", "x"); }));
}

TEST_P(StorageTest, CreateSessionWithAVerifiedHashOnlyWhileItIsCurrent) {
  const int64_t uid = make_user("u");      // hash "hash-u"
  Session s = make_session(uid, "plain");  // no hash given: unconditional
  const std::string right = "hash-u", stale = "hash-old";
  s.id = "checked";
  EXPECT_TRUE(w([&](Repository& r) { return r.create_session(s, &right); }));
  EXPECT_TRUE(r([&](Repository& r) { return r.find_session("checked"); }));
  s.id = "stale";
  EXPECT_FALSE(w([&](Repository& r) { return r.create_session(s, &stale); }));
  EXPECT_FALSE(r([&](Repository& r) { return r.find_session("stale"); }));
  s.id = "gone";
  s.user_id = 999999;  // a deleted account: no session, and no foreign-key error either
  EXPECT_FALSE(w([&](Repository& r) { return r.create_session(s, &right); }));
  EXPECT_FALSE(r([&](Repository& r) { return r.find_session("gone"); }));
}

// Makes a race deterministic: returns once another backend waits for a lock that `holder`'s open
// transaction holds (PostgreSQL's own pg_blocking_pids says so), or once `done` is set (the
// racing call did not wait at all: the test's assertions then show what it did). Fails after 10 s.
void wait_until_blocked_by(const std::string& url, RawPg& holder, const std::atomic<bool>& done) {
  RawPg watch(url);
  ASSERT_TRUE(watch.ok());
  const std::string q = "SELECT count(*) FROM pg_stat_activity WHERE " +
                        std::to_string(PQbackendPID(holder.c)) + " = ANY(pg_blocking_pids(pid))";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done.load() && watch.scalar(q) == "0") {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the racing call neither waited nor ended";
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// PostgreSQL: a signin's create_session that runs while a password change holds the user row
// waits for it and then sees the new hash (no session). Without the row lock its snapshot would
// still show the old hash and it would insert a session the change's revocation never saw.
TEST_P(StorageTest, CreateSessionRacingAPasswordChangeGetsNoSession) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL row locks (SQLite has one writer)";
  const int64_t uid = make_user("u");
  RawPg c(url_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.exec("BEGIN"));
  ASSERT_TRUE(
      c.exec("UPDATE users SET password_hash = 'hash-new' WHERE id = " + std::to_string(uid)));
  Session s = make_session(uid, "before");  // unconditional, before the change commits
  s.id = "racing";
  const std::string old_hash = "hash-u";
  std::optional<bool> created;
  std::atomic<bool> done{false};
  std::thread signin([&] {
    created = w([&](Repository& r) { return r.create_session(s, &old_hash); });
    done = true;
  });
  wait_until_blocked_by(url_, c, done);  // the signin waits for the change's row lock
  ASSERT_TRUE(c.exec("COMMIT"));
  signin.join();
  ASSERT_TRUE(created.has_value());
  EXPECT_FALSE(*created);
  EXPECT_FALSE(r([&](Repository& r) { return r.find_session("racing"); }));
}

// PostgreSQL, the other order: a signin's session insert holds the user row (FOR SHARE, as
// create_session with a verified hash takes it) when a password change starts. The change writes
// the hash first, so it waits for the signin to commit and its revocation then sees the session.
// (Revoking first would miss the uncommitted session and leave it alive.)
TEST_P(StorageTest, PasswordChangeRacingASigninRevokesItsSession) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL row locks (SQLite has one writer)";
  const int64_t uid = make_user("u");
  make_session(uid, "keep");
  RawPg c(url_);
  ASSERT_TRUE(c.ok());
  const std::string id = std::to_string(uid);
  ASSERT_TRUE(c.exec("BEGIN"));
  ASSERT_TRUE(c.exec("SELECT 1 FROM users WHERE id = " + id + " FOR SHARE"));
  ASSERT_TRUE(
      c.exec("INSERT INTO sessions (id, user_id, refresh_jti, created_at, last_used_at, "
             "expires_at, user_agent, ip) VALUES ('racing', " +
             id + ", 'j', 1000, 1000, 100000, 'ua', 'ip')"));
  std::optional<int64_t> revoked;
  std::atomic<bool> done{false};
  std::thread change([&] {
    revoked = w([&](Repository& r) { return r.change_password(uid, "new", "keep", 2000); });
    done = true;
  });
  wait_until_blocked_by(url_, c, done);  // the change waits for the signin's row lock
  ASSERT_TRUE(c.exec("COMMIT"));
  change.join();
  ASSERT_TRUE(revoked.has_value());
  EXPECT_EQ(*revoked, 1);
  auto racing = r([&](Repository& r) { return r.find_session("racing"); });
  ASSERT_TRUE(racing);
  EXPECT_TRUE(racing->revoked_at.has_value()) << "a session created during the change survived it";
  EXPECT_EQ(r([&](Repository& r) { return r.find_user(uid); })->password_hash, "new");
}

TEST_P(StorageTest, BlocklistAndPurge) {
  int64_t uid = make_user("u");
  make_session(uid, "old", 100, 1000);
  make_session(uid, "edge", 100, 2000);
  make_session(uid, "new", 100, 3000);
  w([&](Repository& r) {
    r.block_token("j-old", "old", uid, 1000);
    r.block_token("j-edge", "edge", uid, 2000);
    r.block_token("j-new", "new", uid, 3000);
    r.block_token("j-new", "new", uid, 3000);  // idempotent
  });
  EXPECT_TRUE(r([](Repository& r) { return r.is_token_blocked("j-old"); }));
  EXPECT_TRUE(r([](Repository& r) { return r.is_token_blocked("j-new"); }));
  EXPECT_FALSE(r([](Repository& r) { return r.is_token_blocked("j-none"); }));

  // Strictly before now: rows expiring exactly at `now` stay.
  EXPECT_EQ(w([](Repository& r) { return r.purge_expired(2000); }), 2);
  EXPECT_FALSE(r([](Repository& r) { return r.find_session("old"); }));
  EXPECT_TRUE(r([](Repository& r) { return r.find_session("edge"); }));
  EXPECT_FALSE(r([](Repository& r) { return r.is_token_blocked("j-old"); }));
  EXPECT_TRUE(r([](Repository& r) { return r.is_token_blocked("j-edge"); }));
  EXPECT_EQ(w([](Repository& r) { return r.purge_expired(2000); }), 0);
  EXPECT_EQ(w([](Repository& r) { return r.purge_expired(10000); }), 4);
  EXPECT_FALSE(r([](Repository& r) { return r.is_token_blocked("j-new"); }));
}

TEST_P(StorageTest, Handbook) {
  int64_t uid = make_user("u");
  EXPECT_FALSE(r([&](Repository& r) { return r.get_handbook(uid); }));
  Handbook h;
  h.full_name = "Ada Lovelace";
  h.age = 36;
  h.bio = "";
  h.updated_at = 500;
  Handbook got = w([&](Repository& r) { return r.put_handbook(uid, h); });
  EXPECT_EQ(got.full_name, h.full_name);
  EXPECT_EQ(got.age, 36);
  EXPECT_FALSE(got.phone);
  EXPECT_FALSE(got.address);
  ASSERT_TRUE(got.bio);  // empty string is not NULL
  EXPECT_EQ(*got.bio, "");
  EXPECT_EQ(got.updated_at, 500);

  Handbook h2;
  h2.phone = "+1 555";
  h2.address = "1 Main St";
  h2.updated_at = 600;
  got = w([&](Repository& r) { return r.put_handbook(uid, h2); });
  EXPECT_FALSE(got.full_name);  // replaced, not merged
  EXPECT_FALSE(got.age);
  EXPECT_EQ(got.phone, "+1 555");
  auto again = r([&](Repository& r) { return r.get_handbook(uid); });
  ASSERT_TRUE(again);
  EXPECT_EQ(again->address, "1 Main St");
  EXPECT_EQ(again->updated_at, 600);
  EXPECT_FALSE(again->bio);
}

TEST_P(StorageTest, SocialLinks) {
  int64_t uid = make_user("u");
  int64_t other = make_user("o");
  EXPECT_TRUE(r([&](Repository& r) { return r.list_links(uid); }).empty());
  auto a =
      w([&](Repository& r) { return r.add_link(uid, "github", "https://github.com/u", 10, 3); });
  auto b = w([&](Repository& r) { return r.add_link(uid, "x", "https://x.com/u", 11, 3); });
  ASSERT_TRUE(a && b);
  EXPECT_LT(a->id, b->id);
  EXPECT_EQ(a->user_id, uid);
  EXPECT_EQ(a->platform, "github");
  EXPECT_EQ(a->url, "https://github.com/u");
  EXPECT_EQ(a->created_at, 10);
  auto theirs = w([&](Repository& r) { return r.add_link(other, "p", "u", 12, 3); });
  ASSERT_TRUE(theirs);

  auto list = r([&](Repository& r) { return r.list_links(uid); });
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, a->id);
  EXPECT_EQ(list[1].id, b->id);

  auto up =
      w([&](Repository& r) { return r.update_link(uid, a->id, "gitlab", "https://gitlab.com/u"); });
  ASSERT_TRUE(up);
  EXPECT_EQ(up->platform, "gitlab");
  EXPECT_EQ(up->created_at, 10);
  EXPECT_FALSE(w([&](Repository& r) { return r.update_link(uid, theirs->id, "p", "u"); }));
  EXPECT_FALSE(w([&](Repository& r) { return r.update_link(uid, 999999, "p", "u"); }));
  EXPECT_EQ(r([&](Repository& r) { return r.list_links(other); })[0].platform, "p");

  EXPECT_TRUE(w([&](Repository& r) { return r.add_link(uid, "3", "3", 13, 3); }));
  EXPECT_FALSE(w([&](Repository& r) { return r.add_link(uid, "4", "4", 14, 3); }));  // cap
  EXPECT_EQ(r([&](Repository& r) { return r.list_links(uid); }).size(), 3u);

  EXPECT_FALSE(w([&](Repository& r) { return r.delete_link(uid, theirs->id); }));
  EXPECT_TRUE(w([&](Repository& r) { return r.delete_link(uid, a->id); }));
  EXPECT_FALSE(w([&](Repository& r) { return r.delete_link(uid, a->id); }));
  EXPECT_TRUE(w([&](Repository& r) { return r.add_link(uid, "4", "4", 14, 3); }));  // room again
  // A new link never reuses a deleted id.
  auto list2 = r([&](Repository& r) { return r.list_links(uid); });
  EXPECT_GT(list2.back().id, theirs->id);

  EXPECT_THROW(w([](Repository& r) { r.add_link(999999, "p", "u", 1, 50); }), sr::ConflictError);
}

TEST_P(StorageTest, VaultKeys) {
  int64_t uid = make_user("u");
  EXPECT_FALSE(r([&](Repository& r) { return r.get_vault_key(uid); }));
  VaultKey k;
  k.user_id = uid;
  k.kdf_salt = std::string("\0\x01\xff salt\0\0", 10);
  k.kdf_mem_kib = 19456;
  k.kdf_passes = 2;
  k.wrapped_key = std::string("\x00v1\x80\x00", 5);
  k.generation = 1;
  k.created_at = 100;
  k.updated_at = 100;
  EXPECT_TRUE(w([&](Repository& r) { return r.create_vault_key(k); }));
  EXPECT_FALSE(w([&](Repository& r) { return r.create_vault_key(k); }));
  auto g = r([&](Repository& r) { return r.get_vault_key(uid); });
  ASSERT_TRUE(g);
  EXPECT_EQ(g->user_id, uid);
  EXPECT_EQ(g->kdf_salt, k.kdf_salt);
  EXPECT_EQ(g->kdf_mem_kib, 19456);
  EXPECT_EQ(g->kdf_passes, 2);
  EXPECT_EQ(g->wrapped_key, k.wrapped_key);
  EXPECT_EQ(g->generation, 1);
  EXPECT_EQ(g->created_at, 100);
  EXPECT_EQ(g->updated_at, 100);

  VaultKey k2 = k;
  k2.kdf_salt = "newsaltnewsalt16";
  k2.kdf_mem_kib = 65536;
  k2.kdf_passes = 3;
  k2.wrapped_key = "new wrapped";
  k2.updated_at = 200;
  EXPECT_FALSE(w([&](Repository& r) { return r.update_vault_key(k2, 7); }));  // stale generation
  EXPECT_TRUE(w([&](Repository& r) { return r.update_vault_key(k2, 1); }));
  EXPECT_FALSE(w([&](Repository& r) { return r.update_vault_key(k2, 1); }));  // already bumped
  g = r([&](Repository& r) { return r.get_vault_key(uid); });
  EXPECT_EQ(g->generation, 2);
  EXPECT_EQ(g->kdf_salt, "newsaltnewsalt16");
  EXPECT_EQ(g->kdf_mem_kib, 65536);
  EXPECT_EQ(g->kdf_passes, 3);
  EXPECT_EQ(g->wrapped_key, "new wrapped");
  EXPECT_EQ(g->created_at, 100);
  EXPECT_EQ(g->updated_at, 200);
  VaultKey orphan = k;
  orphan.user_id = 999999;
  EXPECT_THROW(w([&](Repository& r) { r.create_vault_key(orphan); }), sr::ConflictError);
}

TEST_P(StorageTest, VaultEntries) {
  int64_t uid = make_user("u");
  int64_t other = make_user("o");
  auto seal = [](int64_t id) { return std::string("ct\0:", 4) + std::to_string(id); };
  auto e1 = w([&](Repository& r) { return r.add_vault_entry(uid, 10, 3, seal); });
  ASSERT_TRUE(e1);
  EXPECT_GT(e1->id, 0);
  EXPECT_EQ(e1->user_id, uid);
  EXPECT_EQ(e1->ciphertext, seal(e1->id));  // sealed with its own id
  EXPECT_EQ(e1->created_at, 10);
  EXPECT_EQ(e1->updated_at, 10);
  auto stored = r([&](Repository& r) { return r.get_vault_entry(uid, e1->id); });
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->ciphertext, seal(e1->id));

  auto e2 = w([&](Repository& r) { return r.add_vault_entry(uid, 11, 3, seal); });
  auto theirs = w([&](Repository& r) { return r.add_vault_entry(other, 11, 3, seal); });
  ASSERT_TRUE(e2 && theirs);
  auto list = r([&](Repository& r) { return r.list_vault_entries(uid); });
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, e1->id);
  EXPECT_EQ(list[1].id, e2->id);
  EXPECT_FALSE(r([&](Repository& r) { return r.get_vault_entry(uid, theirs->id); }));

  // A failing seal leaves nothing behind.
  EXPECT_THROW(w([&](Repository& r) {
                 r.add_vault_entry(uid, 12, 3, [](int64_t) -> std::string {
                   throw std::logic_error("seal failed");
                 });
               }),
               std::logic_error);
  EXPECT_EQ(r([&](Repository& r) { return r.list_vault_entries(uid); }).size(), 2u);

  auto e3 = w([&](Repository& r) { return r.add_vault_entry(uid, 13, 3, seal); });
  ASSERT_TRUE(e3);
  EXPECT_FALSE(w([&](Repository& r) { return r.add_vault_entry(uid, 14, 3, seal); }));  // cap

  auto up = w([&](Repository& r) { return r.update_vault_entry(uid, e1->id, "new ct", 20); });
  ASSERT_TRUE(up);
  EXPECT_EQ(up->ciphertext, "new ct");
  EXPECT_EQ(up->created_at, 10);
  EXPECT_EQ(up->updated_at, 20);
  EXPECT_FALSE(w([&](Repository& r) { return r.update_vault_entry(uid, theirs->id, "x", 20); }));
  EXPECT_EQ(r([&](Repository& r) { return r.get_vault_entry(other, theirs->id); })->ciphertext,
            seal(theirs->id));

  EXPECT_FALSE(w([&](Repository& r) { return r.delete_vault_entry(uid, theirs->id); }));
  EXPECT_TRUE(w([&](Repository& r) { return r.delete_vault_entry(uid, e1->id); }));
  EXPECT_FALSE(w([&](Repository& r) { return r.delete_vault_entry(uid, e1->id); }));
  EXPECT_FALSE(r([&](Repository& r) { return r.get_vault_entry(uid, e1->id); }));
  auto e4 = w([&](Repository& r) { return r.add_vault_entry(uid, 15, 3, seal); });
  ASSERT_TRUE(e4);
  EXPECT_GT(e4->id, theirs->id);  // ids are never reused
  EXPECT_THROW(w([&](Repository& r) { r.add_vault_entry(999999, 1, 3, seal); }), sr::ConflictError);
}

TEST_P(StorageTest, DeleteUserCascades) {
  int64_t uid = make_user("u");
  int64_t keep = make_user("keep");
  make_session(uid, "s-u");
  make_session(keep, "s-keep");
  w([&](Repository& r) {
    r.block_token("j-u", "s-u", uid, 99999);
    r.block_token("j-keep", "s-keep", keep, 99999);
    Handbook h;
    h.full_name = "x";
    r.put_handbook(uid, h);
    r.put_handbook(keep, h);
    r.add_link(uid, "p", "u", 1, 50);
    r.add_link(keep, "p", "u", 1, 50);
    VaultKey k;
    k.user_id = uid;
    k.kdf_salt = "s";
    k.wrapped_key = "k";
    r.create_vault_key(k);
    k.user_id = keep;
    r.create_vault_key(k);
    r.add_vault_entry(uid, 1, 10, [](int64_t) { return std::string("c"); });
    r.add_vault_entry(keep, 1, 10, [](int64_t) { return std::string("c"); });
  });
  EXPECT_TRUE(w([&](Repository& r) { return r.delete_user(uid); }));
  r([&](Repository& r) {
    EXPECT_FALSE(r.find_session("s-u"));
    EXPECT_FALSE(r.is_token_blocked("j-u"));
    EXPECT_FALSE(r.get_handbook(uid));
    EXPECT_TRUE(r.list_links(uid).empty());
    EXPECT_FALSE(r.get_vault_key(uid));
    EXPECT_TRUE(r.list_vault_entries(uid).empty());
    // The other user keeps everything.
    EXPECT_TRUE(r.find_session("s-keep"));
    EXPECT_TRUE(r.is_token_blocked("j-keep"));
    EXPECT_TRUE(r.get_handbook(keep));
    EXPECT_EQ(r.list_links(keep).size(), 1u);
    EXPECT_TRUE(r.get_vault_key(keep));
    EXPECT_EQ(r.list_vault_entries(keep).size(), 1u);
  });
}

TEST_P(StorageTest, ExceptionsFromWorkPropagateAndStorageStaysUsable) {
  EXPECT_THROW(w([](Repository&) { throw std::domain_error("boom"); }), std::domain_error);
  EXPECT_THROW(r([](Repository&) { throw std::domain_error("boom"); }), std::domain_error);
  EXPECT_NO_THROW(make_user("after"));
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql), backend_name);

}  // namespace
}  // namespace sr::storage::test
