// Hostile strings go in and come back byte for byte, and never change the meaning of a query.
// PostgreSQL keeps text in TEXT columns (SPEC 19), which cannot hold a NUL byte or invalid UTF-8
// (the API never stores either): there such strings round-trip through the binary columns, are
// refused loudly by the text ones (nothing stored), and find nothing when looked up.
#include <gtest/gtest.h>

#include "fixture.hpp"
#include "util/error.hpp"
#include "util/utf8.hpp"

namespace sr::storage::test {
namespace {

std::vector<std::string> hostile_strings() {
  return {
      "'; DROP TABLE users; --",
      "Robert'); DELETE FROM sessions WHERE ('1'='1",
      "\" OR \"\"=\"",
      "a;b;c -- comment /* block */",
      std::string("nul\0inside", 10),
      std::string("\0", 1),
      std::string("\0\0trailing\0", 11),
      "\xff\xfe\x80\xc3\x28 invalid utf-8 \xed\xa0\x80",
      "emoji \xf0\x9f\x94\x92 and \xe2\x80\xae rtl",
      "%s%n%x \\x00 \\\\ $1 ? :name",
      std::string(1 << 20, 'A') + "\x01\xff'",              // 1 MiB and a bit
      std::string(1 << 20, 'A') + "\xc3\xa9\xe2\x82\xac'",  // 1 MiB of text, and "é€"
      "",
  };
}

bool is_text(const std::string& s) {
  return s.find('\0') == std::string::npos && sr::utf8_length(s).has_value();
}

// A write of `s` into a text column on PostgreSQL: refused with an error that is neither a
// conflict nor an outage (a bug in the caller: 500), leaving nothing behind.
template <class F>
void expect_refused_as_text(F&& write) {
  try {
    write();
    ADD_FAILURE() << "PostgreSQL stored a string TEXT cannot hold";
  } catch (const sr::ConflictError& e) {
    ADD_FAILURE() << "mapped to ConflictError: " << e.what();
  } catch (const sr::UnavailableError& e) {
    ADD_FAILURE() << "mapped to UnavailableError: " << e.what();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("22021"), std::string::npos) << e.what();
  }
}

TEST_P(StorageTest, NonTextStringsInTextColumnsArePgRefusedAndFindNothing) {
  if (!pg()) GTEST_SKIP() << "SQLite keeps them byte for byte (HostileStringsRoundTripByteForByte)";
  int64_t uid = make_user("owner");
  Session ok = make_session(uid, "live");
  int n = 0;
  for (const auto& s : hostile_strings()) {
    if (is_text(s)) continue;
    ++n;
    SCOPED_TRACE("string #" + std::to_string(n));
    // Keys are capped at 1 KiB (see below): the tail keeps the bytes TEXT cannot hold.
    const std::string key =
        s.substr(s.size() > 1024 ? s.size() - 1024 : 0) + "#" + std::to_string(n);
    expect_refused_as_text(
        [&] { w([&](Repository& r) { r.create_user(key, key, key, "h", 1); }); });
    expect_refused_as_text(
        [&] { w([&](Repository& r) { r.create_user("n" + key, "ok", "ok@x", s, 1); }); });
    EXPECT_FALSE(r([&](Repository& r) { return r.find_user_by_login(key); }));
    EXPECT_FALSE(r([&](Repository& r) { return r.find_user_by_login("ok"); }));

    Session bad = ok;
    bad.id = key;
    expect_refused_as_text([&] { w([&](Repository& r) { r.create_session(bad); }); });
    bad.id = "other" + std::to_string(n);
    bad.user_agent = s;
    expect_refused_as_text([&] { w([&](Repository& r) { r.create_session(bad); }); });
    EXPECT_FALSE(r([&](Repository& r) { return r.find_session(key); }));
    EXPECT_FALSE(r([&](Repository& r) { return r.find_session(bad.id); }));
    ReadBatch b;
    b.want = {.session = key, .user_id = uid, .user = true};
    r([&](Repository& r) { r.read_batch(b); });
    EXPECT_FALSE(b.session);
    EXPECT_TRUE(b.user);
    ReadBatch direct;  // the same through a request's read (PostgreSQL: without a job)
    direct.want = b.want;
    net_->read(*st_, direct);
    EXPECT_FALSE(direct.session);
    EXPECT_TRUE(direct.user);

    expect_refused_as_text([&] { w([&](Repository& r) { r.block_token(key, "live", uid, 9); }); });
    EXPECT_FALSE(r([&](Repository& r) { return r.is_token_blocked(key); }));

    Handbook h;
    h.bio = s;
    h.updated_at = 1;
    expect_refused_as_text([&] { w([&](Repository& r) { r.put_handbook(uid, h); }); });
    EXPECT_FALSE(r([&](Repository& r) { return r.get_handbook(uid); }));
    expect_refused_as_text([&] { w([&](Repository& r) { r.add_link(uid, "p", s, 1, 50); }); });
    EXPECT_TRUE(r([&](Repository& r) { return r.list_links(uid); }).empty());
  }
  EXPECT_GT(n, 0);
  // The connections that refused serve the next calls, and the live rows are untouched.
  auto s = r([](Repository& r) { return r.find_session("live"); });
  ASSERT_TRUE(s);
  EXPECT_EQ(s->user_agent, ok.user_agent);
  EXPECT_TRUE(w([&](Repository& r) { return r.add_link(uid, "p", "u", 1, 50); }));
}

TEST_P(StorageTest, HostileStringsRoundTripByteForByte) {
  auto hs = hostile_strings();
  for (size_t i = 0; i < hs.size(); ++i) {
    SCOPED_TRACE("string #" + std::to_string(i));
    const std::string& s = hs[i];
    const std::string tag = std::to_string(i);
    // The binary columns: a vault key's salt and wrapped key, an entry's ciphertext.
    auto binary_round_trip = [&](int64_t uid) {
      VaultKey k;
      k.user_id = uid;
      k.kdf_salt = s;
      k.wrapped_key = s;
      EXPECT_TRUE(w([&](Repository& r) { return r.create_vault_key(k); }));
      auto kg = r([&](Repository& r) { return r.get_vault_key(uid); });
      EXPECT_TRUE(kg->kdf_salt == s && kg->wrapped_key == s);
      auto e = w(
          [&](Repository& r) { return r.add_vault_entry(uid, 5, 10, [&](int64_t) { return s; }); });
      ASSERT_TRUE(e);
      EXPECT_TRUE(r([&](Repository& r) { return r.get_vault_entry(uid, e->id); })->ciphertext == s);
    };
    if (pg() && !is_text(s)) {  // binary columns only; the text ones: the test above
      binary_round_trip(make_user("bin" + tag));
      continue;
    }
    // Unique columns get a distinguishing suffix; the hostile bytes stay inside. Indexed keys are
    // capped at 1 KiB (PostgreSQL's b-tree refuses entries over ~2.7 KB; the API's own limits on
    // usernames, emails and token ids are far below that); every other column takes the full MiB.
    const std::string key = s.substr(0, 1024);
    std::string uname = key + "#u" + tag, mail = key + "#e" + tag, sid = key + "#s" + tag,
                jti = key + "#j" + tag;
    int64_t uid = w([&](Repository& r) { return r.create_user(s, uname, mail, s, 1); });
    auto u = r([&](Repository& r) { return r.find_user(uid); });
    ASSERT_TRUE(u);
    EXPECT_TRUE(u->username == s);
    EXPECT_TRUE(u->email == mail);
    EXPECT_TRUE(u->password_hash == s);
    auto byname = r([&](Repository& r) { return r.find_user_by_login(uname); });
    ASSERT_TRUE(byname);
    EXPECT_EQ(byname->id, uid);
    EXPECT_EQ(r([&](Repository& r) { return r.find_user_by_login(mail); })->id, uid);
    // A prefix (e.g. up to the NUL) must not match.
    if (s.find('\0') != std::string::npos) {
      EXPECT_FALSE(
          r([&](Repository& r) { return r.find_user_by_login(std::string(uname.c_str())); }));
    }

    Session ss;
    ss.id = sid;
    ss.user_id = uid;
    ss.refresh_jti = s;
    ss.created_at = 1;
    ss.last_used_at = 1;
    ss.expires_at = 99999;
    ss.user_agent = s;
    ss.ip = s;
    w([&](Repository& r) { r.create_session(ss); });
    auto fs = r([&](Repository& r) { return r.find_session(sid); });
    ASSERT_TRUE(fs);
    EXPECT_TRUE(fs->id == sid);
    EXPECT_TRUE(fs->refresh_jti == s);
    EXPECT_TRUE(fs->user_agent == s);
    EXPECT_TRUE(fs->ip == s);
    EXPECT_TRUE(w([&](Repository& r) { return r.rotate_refresh(sid, s, s + "2", 99999, 2); }));

    w([&](Repository& r) { r.block_token(jti, sid, uid, 99999); });
    EXPECT_TRUE(r([&](Repository& r) { return r.is_token_blocked(jti); }));

    Handbook h;
    h.full_name = s;
    h.phone = s;
    h.address = s;
    h.bio = s;
    h.updated_at = 3;
    auto hb = w([&](Repository& r) { return r.put_handbook(uid, h); });
    EXPECT_TRUE(hb.full_name == s && hb.phone == s && hb.address == s && hb.bio == s);
    auto hg = r([&](Repository& r) { return r.get_handbook(uid); });
    ASSERT_TRUE(hg);
    EXPECT_TRUE(hg->full_name == s && hg->phone == s && hg->address == s && hg->bio == s);

    auto l = w([&](Repository& r) { return r.add_link(uid, s, s, 4, 50); });
    ASSERT_TRUE(l);
    auto ll = r([&](Repository& r) { return r.list_links(uid); });
    ASSERT_EQ(ll.size(), 1u);
    EXPECT_TRUE(ll[0].platform == s && ll[0].url == s);

    binary_round_trip(uid);
  }
  // Nothing was dropped or rewritten along the way.
  r([&](Repository& r) {
    EXPECT_TRUE(r.find_user_by_login(hs[0] + "#u0"));
    EXPECT_TRUE(r.find_session(hs[0] + "#s0"));
  });
}

}  // namespace
}  // namespace sr::storage::test
