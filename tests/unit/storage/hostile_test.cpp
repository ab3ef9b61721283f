// Hostile strings go in and come back byte for byte, and never change the meaning of a query.
#include <gtest/gtest.h>

#include "fixture.hpp"

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
      std::string(1 << 20, 'A') + "\x01\xff'",  // 1 MiB and a bit
      "",
  };
}

TEST_P(StorageTest, HostileStringsRoundTripByteForByte) {
  auto hs = hostile_strings();
  for (size_t i = 0; i < hs.size(); ++i) {
    SCOPED_TRACE("string #" + std::to_string(i));
    const std::string& s = hs[i];
    const std::string tag = std::to_string(i);
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

    VaultKey k;
    k.user_id = uid;
    k.kdf_salt = s;
    k.wrapped_key = s;
    EXPECT_TRUE(w([&](Repository& r) { return r.create_vault_key(k); }));
    auto kg = r([&](Repository& r) { return r.get_vault_key(uid); });
    EXPECT_TRUE(kg->kdf_salt == s && kg->wrapped_key == s);

    auto e =
        w([&](Repository& r) { return r.add_vault_entry(uid, 5, 10, [&](int64_t) { return s; }); });
    ASSERT_TRUE(e);
    EXPECT_TRUE(r([&](Repository& r) { return r.get_vault_entry(uid, e->id); })->ciphertext == s);
  }
  // Nothing was dropped or rewritten along the way.
  r([&](Repository& r) {
    EXPECT_TRUE(r.find_user_by_login(hs[0] + "#u0"));
    EXPECT_TRUE(r.find_session(hs[0] + "#s0"));
  });
}

}  // namespace
}  // namespace sr::storage::test
