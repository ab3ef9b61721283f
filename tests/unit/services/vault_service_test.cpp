// services::VaultService against real SQLite and PostgreSQL: setup, unlock and the vault gate
// (binding to the auth session, sliding renewal, lock), entries with their list index, and the
// vault password change.
#include "services/vault_service.hpp"

#include <boost/json.hpp>

#include "service_fixture.hpp"
#include "services/entry_indexer.hpp"
#include "vault/index.hpp"

namespace sr::services::test {
namespace {

constexpr const char* kAccountPw = "account password that is long";
constexpr const char* kVaultPw = "vault password that is long";

class VaultServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    svc_ = std::make_unique<VaultService>(*st_, *passwords_, metrics_, session_key_,
                                          VaultOptions{300, 1800});
    uid_ = make_user_with("ada", kAccountPw);
    who_ = caller_for(uid_, "sid-ada");
  }

  std::optional<storage::VaultKey> key(int64_t uid) {
    return r([&](storage::Repository& repo) { return repo.get_vault_key(uid); });
  }
  // The caller's session as the gate would read it for the next request.
  void next_request(TestCaller& who) {
    const std::string sid = who.auth_session->id;
    who.auth_session = r([&](storage::Repository& repo) { return repo.find_session(sid); });
  }
  std::string set_up_and_unlock() {
    const SecretString pw = SecretString::from_view(kVaultPw);
    run(svc_->setup(*who_, pw));
    return run(svc_->unlock(*who_, pw)).token;
  }
  vault::Entry entry(const std::string& tag, bool with_optional = true) {
    vault::Entry e;
    e.domain = tag + ".example";
    e.account_name = "acct-" + tag;
    e.pin_or_password = "secret-" + tag;
    if (with_optional) {
      e.url = "https://" + tag + ".example/login";
      e.notes = "line one\nline two " + tag;
    }
    return e;
  }
  // The first part of the index, as the gate reads it with the session.
  std::vector<storage::VaultIndexChunk> first_part() {
    return r([&](storage::Repository& repo) {
      return repo.list_vault_index(uid_, storage::kBeforeFirstChunk, storage::kIndexChunksPerRead);
    });
  }
  std::size_t chunk_count() {
    return r([&](storage::Repository& repo) { return repo.list_vault_index(uid_, 0, 1 << 20); })
        .size();
  }
  // The whole list as the route sends it: the first part, then the rest part by part.
  boost::json::array list(const Unlocked& u, int* parts = nullptr) {
    VaultList l = run(svc_->list(*who_, u, first_part(), "[", "]"));
    std::string body = std::move(l.body);
    int n = 1;
    for (bool more = l.rest != nullptr; more; ++n) more = run(l.rest->next(body));
    if (parts) *parts = n;
    return boost::json::parse(body).as_array();
  }
  // Adds entries with 10,000-character notes (a few to a chunk) until the index holds more
  // chunks than one read returns; their ids.
  std::vector<int64_t> fill_past_one_read(const Unlocked& u) {
    std::vector<int64_t> ids;
    while (chunk_count() <= storage::kIndexChunksPerRead + 1) {
      for (int i = 0; i < 8; ++i) {
        vault::Entry e = entry("e" + std::to_string(ids.size()));
        e.notes = std::string(10000, 'n');
        ids.push_back(run(svc_->add(*who_, u, e)));
      }
    }
    return ids;
  }

  SecretBytes session_key_ = SecretBytes::random(32);
  std::unique_ptr<VaultService> svc_;
  int64_t uid_ = 0;
  std::unique_ptr<TestCaller> who_;
};

TEST_P(VaultServiceTest, SetupRefusesTheAccountPasswordAndASecondSetup) {
  const SecretString same = SecretString::from_view(kAccountPw);
  auto f = fields_of([&] { run(svc_->setup(*who_, same)); });
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].first, "vault_password");
  EXPECT_FALSE(key(uid_));
  const SecretString weak = SecretString::from_view("ada");
  EXPECT_EQ(fields_of([&] { run(svc_->setup(*who_, weak)); }).at(0).first, "vault_password");

  const SecretString pw = SecretString::from_view(kVaultPw);
  run(svc_->setup(*who_, pw));
  ASSERT_TRUE(key(uid_));
  EXPECT_EQ(key(uid_)->index_version, vault::kIndexVersion);
  EXPECT_EQ(code_of([&] { run(svc_->setup(*who_, pw)); }), ErrorCode::conflict);
}

TEST_P(VaultServiceTest, SetupIsLimitedBeforeAnyPasswordComparison) {
  who_->rows = {{LimitKey::user, "sensitive", {2, 3600}}};
  const SecretString weak = SecretString::from_view("ada");
  EXPECT_EQ(fields_of([&] { run(svc_->setup(*who_, weak)); }).at(0).first, "vault_password");
  EXPECT_TRUE(who_->checked.empty()) << "the limit is checked after validation";
  // Guesses of the account password: each answered, until the limit...
  const SecretString same = SecretString::from_view(kAccountPw);
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(fields_of([&] { run(svc_->setup(*who_, same)); }).at(0).first, "vault_password");
  // ...then refused before the comparison: the right guess no longer answers differently.
  EXPECT_EQ(code_of([&] { run(svc_->setup(*who_, same)); }), ErrorCode::rate_limited);
  const SecretString pw = SecretString::from_view(kVaultPw);
  EXPECT_EQ(code_of([&] { run(svc_->setup(*who_, pw)); }), ErrorCode::rate_limited);
  EXPECT_FALSE(key(uid_));
  EXPECT_EQ(who_->checked.size(), 4u);
}

TEST_P(VaultServiceTest, OpensVaultTellsWhetherAPasswordOpensTheVault) {
  const SecretString pw = SecretString::from_view(kVaultPw);
  EXPECT_FALSE(run(opens_vault(*st_, *passwords_, uid_, pw))) << "no vault yet";
  run(svc_->setup(*who_, pw));
  EXPECT_TRUE(run(opens_vault(*st_, *passwords_, uid_, pw)));
  const SecretString other = SecretString::from_view("vault password that is lonG");
  EXPECT_FALSE(run(opens_vault(*st_, *passwords_, uid_, other)));
  const int64_t grace = make_user_with("grace", kAccountPw);
  EXPECT_FALSE(run(opens_vault(*st_, *passwords_, grace, pw))) << "another user's vault";
}

TEST_P(VaultServiceTest, UnlockGivesASessionThatOpensForThisAuthSessionOnly) {
  const SecretString pw = SecretString::from_view(kVaultPw);
  EXPECT_EQ(code_of([&] { run(svc_->unlock(*who_, pw)); }), ErrorCode::vault_not_initialized);
  run(svc_->setup(*who_, pw));
  const SecretString wrong = SecretString::from_view("not the vault password");
  who_->rows = {{LimitKey::user, "vault_unlock", {2, 300}}};
  EXPECT_EQ(code_of([&] { run(svc_->unlock(*who_, wrong)); }), ErrorCode::invalid_vault_password);
  EXPECT_NE(metrics_.render().find("auth_failures_total{reason=\"invalid_vault_password\"} 1"),
            std::string::npos);
  const VaultUnlock u = run(svc_->unlock(*who_, pw));
  EXPECT_EQ(u.expires_in, 300);
  EXPECT_EQ(who_->checked, (std::vector<std::string>{"vault_unlock:user:" + std::to_string(uid_),
                                                     "vault_unlock:user:" + std::to_string(uid_)}));
  EXPECT_EQ(code_of([&] { run(svc_->unlock(*who_, pw)); }), ErrorCode::rate_limited);

  const Unlocked open = svc_->open(*who_, key(uid_), u.token);
  EXPECT_EQ(open.session.user_id, uid_);
  EXPECT_FALSE(open.renewed);
  const VaultStatus st = svc_->status(*who_, key(uid_), u.token);
  EXPECT_TRUE(st.initialized && st.unlocked);
  EXPECT_EQ(st.expires_at, open.session.expires_at);

  auto other_session = caller_for(uid_, "sid-ada-2");
  EXPECT_EQ(code_of([&] { svc_->open(*other_session, key(uid_), u.token); }),
            ErrorCode::vault_locked);
  EXPECT_FALSE(svc_->status(*other_session, key(uid_), u.token).unlocked);
  EXPECT_EQ(code_of([&] { svc_->open(*who_, key(uid_), "garbage"); }), ErrorCode::vault_locked);
  EXPECT_EQ(code_of([&] { svc_->open(*who_, key(uid_), std::string(2000, 'A')); }),
            ErrorCode::vault_locked);
  EXPECT_EQ(code_of([&] { svc_->open(*who_, std::nullopt, u.token); }),
            ErrorCode::vault_not_initialized);
}

TEST_P(VaultServiceTest, SessionSlidesOnceHalfIsGoneAndNeverPastTheCap) {
  set_up_and_unlock();
  const auto k = key(uid_);
  const int64_t now = now_unix();
  auto token = [&](int64_t unlocked_at, int64_t issued_at, int64_t expires_at) {
    vault::VaultSession vs;
    vs.user_id = uid_;
    vs.sid = who_->auth_session->id;
    vs.data_key = SecretBytes::random(32);
    vs.unlocked_at = unlocked_at;
    vs.issued_at = issued_at;
    vs.expires_at = expires_at;
    vs.key_generation = k->generation;
    vs.epoch = who_->auth_session->vault_epoch;
    return vault::seal_session(vs, session_key_);
  };
  // Less than half gone: as it is.
  EXPECT_FALSE(svc_->open(*who_, k, token(now - 100, now - 100, now + 200)).renewed);
  // Half gone: renewed for a whole lifetime.
  const Unlocked half = svc_->open(*who_, k, token(now - 150, now - 150, now + 150));
  ASSERT_TRUE(half.renewed);
  const Unlocked again = svc_->open(*who_, k, half.renewed->token);
  EXPECT_GE(again.session.expires_at, now + 300);
  EXPECT_LE(again.session.expires_at, now_unix() + 300);
  EXPECT_EQ(again.session.unlocked_at, now - 150);
  // Near the cap (unlocked_at + 1800): renewed up to the cap only; at the cap, not at all.
  const Unlocked capped = svc_->open(*who_, k, token(now - 1750, now - 200, now + 40));
  ASSERT_TRUE(capped.renewed);
  EXPECT_EQ(capped.session.expires_at, now - 1750 + 1800);
  EXPECT_FALSE(svc_->open(*who_, k, token(now - 1790, now - 200, now + 10)).renewed);
  // Expired: locked.
  EXPECT_EQ(code_of([&] { svc_->open(*who_, k, token(now - 400, now - 400, now - 100)); }),
            ErrorCode::vault_locked);
}

TEST_P(VaultServiceTest, LockEndsTheVaultSessionsOfTheAuthSession) {
  auto other = caller_for(make_user_with("grace", kAccountPw), "sid-grace");
  EXPECT_EQ(code_of([&] { run(svc_->lock(*other)); }), ErrorCode::vault_not_initialized);
  const std::string token = set_up_and_unlock();
  run(svc_->lock(*who_));
  next_request(*who_);
  EXPECT_EQ(code_of([&] { svc_->open(*who_, key(uid_), token); }), ErrorCode::vault_locked);
  run(svc_->lock(*who_));  // idempotent
}

TEST_P(VaultServiceTest, EntriesAndTheirListIndex) {
  const Unlocked u = svc_->open(*who_, key(uid_), set_up_and_unlock());
  std::vector<int64_t> ids;
  for (const char* tag : {"a", "b", "c"}) {
    const vault::Entry e = entry(tag, std::string(tag) != "b");
    ids.push_back(run(svc_->add(*who_, u, e)));
  }
  boost::json::array items = list(u);
  ASSERT_EQ(items.size(), 3u);
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& o = items[i].as_object();
    EXPECT_EQ(o.at("id").as_int64(), ids[i]);
    EXPECT_FALSE(o.contains("pin_or_password")) << "no secret in the list";
  }
  EXPECT_EQ(items[0].as_object().at("domain").as_string(), "a.example");
  EXPECT_TRUE(items[1].as_object().at("url").is_null());

  auto row = r([&](storage::Repository& repo) { return repo.get_vault_entry(uid_, ids[0]); });
  const OpenEntry got = svc_->get(u, row);
  EXPECT_EQ(got.fields.pin_or_password, "secret-a");
  EXPECT_EQ(got.fields.notes, "line one\nline two a");
  EXPECT_EQ(got.meta.id, ids[0]);
  EXPECT_EQ(code_of([&] { svc_->get(u, std::nullopt); }), ErrorCode::not_found);

  const vault::Entry changed = entry("z");
  const vault::EntryMeta m = run(svc_->update(*who_, u, ids[1], changed));
  EXPECT_EQ(m.id, ids[1]);
  EXPECT_EQ(list(u)[1].as_object().at("domain").as_string(), "z.example");
  EXPECT_EQ(code_of([&] { run(svc_->update(*who_, u, ids[2] + 100, changed)); }),
            ErrorCode::not_found);

  run(svc_->remove(*who_, u, ids[0]));
  EXPECT_EQ(list(u).size(), 2u);
  EXPECT_EQ(code_of([&] { run(svc_->remove(*who_, u, ids[0])); }), ErrorCode::not_found);
  EXPECT_EQ(key(uid_)->index_version, vault::kIndexVersion) << "kept by every write";

  // Another user's vault does not reach these entries.
  const int64_t grace_id = make_user_with("grace", kAccountPw);
  auto grace = caller_for(grace_id, "sid-grace");
  const SecretString pw = SecretString::from_view(kVaultPw);
  run(svc_->setup(*grace, pw));
  const Unlocked theirs = svc_->open(*grace, key(grace_id), run(svc_->unlock(*grace, pw)).token);
  EXPECT_EQ(code_of([&] { run(svc_->remove(*grace, theirs, ids[1])); }), ErrorCode::not_found);
  EXPECT_EQ(code_of([&] { run(svc_->update(*grace, theirs, ids[1], changed)); }),
            ErrorCode::not_found);
  EXPECT_EQ(list(u).size(), 2u);
}

TEST_P(VaultServiceTest, ListRebuildsAnIndexThatAWriteDidNotKeep) {
  const std::string token = set_up_and_unlock();
  const Unlocked u = svc_->open(*who_, key(uid_), token);
  run(svc_->add(*who_, u, entry("a")));
  // A write that does not keep the index (no indexer) drops it.
  const vault::Entry e = entry("b");
  w([&](storage::Repository& repo) {
    const SecretBytes pt = vault::encode_entry(e);
    return repo.add_vault_entry(uid_, 5, 100, [&](int64_t id) {
      return vault::seal_entry(u.session.data_key, uid_, id, pt.view());
    });
  });
  ASSERT_EQ(key(uid_)->index_version, 0);
  const Unlocked reopened = svc_->open(*who_, key(uid_), token);  // the next request
  boost::json::array items = list(reopened);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].as_object().at("domain").as_string(), "b.example");
  EXPECT_EQ(key(uid_)->index_version, vault::kIndexVersion);
}

TEST_P(VaultServiceTest, AListOfMoreChunksThanOneReadComesInParts) {
  const Unlocked u = svc_->open(*who_, key(uid_), set_up_and_unlock());
  EXPECT_EQ(list(u).size(), 0u);
  int parts = 0;
  run(svc_->add(*who_, u, entry("small")));
  EXPECT_EQ(list(u, &parts).size(), 1u);
  EXPECT_EQ(parts, 1) << "a small vault is one body";

  std::vector<int64_t> ids = fill_past_one_read(u);
  ids.insert(ids.begin(), list(u)[0].as_object().at("id").as_int64());
  const boost::json::array items = list(u, &parts);
  EXPECT_GE(parts, 2);
  ASSERT_EQ(items.size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(items[i].as_object().at("id").as_int64(), ids[i]) << i;

  // Writes between the parts: an entry deleted from a part already sent stays in it, one added
  // meanwhile comes at the end, and no entry comes twice.
  VaultList l = run(svc_->list(*who_, u, first_part(), "[", "]"));
  ASSERT_TRUE(l.rest);
  run(svc_->remove(*who_, u, ids.front()));
  const int64_t added = run(svc_->add(*who_, u, entry("late")));
  std::string body = std::move(l.body);
  while (run(l.rest->next(body))) {
  }
  const boost::json::array seen = boost::json::parse(body).as_array();
  ASSERT_EQ(seen.size(), ids.size() + 1);
  EXPECT_EQ(seen.front().as_object().at("id").as_int64(), ids.front());
  EXPECT_EQ(seen.back().as_object().at("id").as_int64(), added);
}

// The index rebuilt while a list is being sent, after most of what was sent is deleted (the
// rebuilt index is compacted: numbered as before, its chunks past the first part would hold
// entries far beyond it): the rest of the list finds the new index from its beginning and goes on
// from the last entry sent. Every entry once, in id order, none skipped.
TEST_P(VaultServiceTest, AListStreamedAcrossARebuildOfTheIndexIsWhole) {
  const Unlocked u = svc_->open(*who_, key(uid_), set_up_and_unlock());
  const std::vector<int64_t> ids = fill_past_one_read(u);
  const auto before = first_part();
  ASSERT_EQ(before.size(), static_cast<std::size_t>(storage::kIndexChunksPerRead));
  VaultList l = run(svc_->list(*who_, u, before, "[", "]"));
  ASSERT_TRUE(l.rest);
  const std::size_t sent = boost::json::parse(l.body + "]").as_array().size();
  ASSERT_GT(sent, 61u);
  ASSERT_LT(sent, ids.size());
  // 61: the rebuilt chunks do not end where the part did (at a few entries a chunk), so the rest
  // begins inside a chunk part of which was sent.
  for (std::size_t i = 1; i <= 61; ++i) run(svc_->remove(*who_, u, ids[i]));
  EntryIndexer ix(u.session.data_key, uid_);
  const auto rebuilt =
      w([&](storage::Repository& repo) { return repo.rebuild_vault_index(uid_, ix); });
  ASSERT_TRUE(rebuilt);
  ASSERT_LT(rebuilt->size(), before.size()) << "compacted";
  EXPECT_GT(rebuilt->front().chunk, before.back().chunk) << "numbered above every earlier chunk";
  std::string body = std::move(l.body);
  while (run(l.rest->next(body))) {
  }
  const boost::json::array seen = boost::json::parse(body).as_array();
  ASSERT_EQ(seen.size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(seen[i].as_object().at("id").as_int64(), ids[i]) << i;
  EXPECT_EQ(list(u).size(), ids.size() - 61) << "the next list is the rebuilt index";
}

// Re-seals the chunk of an updated entry with one byte changed: a chunk that no longer opens.
class SpoilingIndexer final : public storage::VaultIndexer {
 public:
  explicit SpoilingIndexer(EntryIndexer& real) : real_(real) {}
  int64_t version() const override { return real_.version(); }
  std::optional<storage::VaultIndexChunk> added(
      const storage::VaultEntry& e, const std::optional<storage::VaultIndexChunk>& l) override {
    return real_.added(e, l);
  }
  std::optional<std::string> updated(const storage::VaultEntry& e,
                                     const storage::VaultIndexChunk& c) override {
    auto blob = real_.updated(e, c);
    if (blob) blob->back() ^= 1;
    return blob;
  }
  std::optional<std::string> removed(int64_t id, const storage::VaultIndexChunk& c) override {
    return real_.removed(id, c);
  }
  std::optional<std::vector<Built>> build(const std::vector<storage::VaultEntry>& es,
                                          int64_t first_chunk) override {
    return real_.build(es, first_chunk);
  }

 private:
  EntryIndexer& real_;
};

TEST_P(VaultServiceTest, APartThatDoesNotOpenEndsTheListAndTheIndexIsRebuilt) {
  const std::string token = set_up_and_unlock();
  const Unlocked u = svc_->open(*who_, key(uid_), token);
  const std::vector<int64_t> ids = fill_past_one_read(u);
  // The last entry's chunk (beyond the first part) is spoilt in storage.
  auto row = r([&](storage::Repository& repo) { return repo.get_vault_entry(uid_, ids.back()); });
  ASSERT_TRUE(row);
  const vault::Entry fields = svc_->get(u, row).fields;
  EntryIndexer real(u.session.data_key, uid_, &fields);
  SpoilingIndexer spoil(real);
  ASSERT_TRUE(w([&](storage::Repository& repo) {
    return repo.update_vault_entry(uid_, ids.back(), row->ciphertext, 50, &spoil);
  }));
  ASSERT_EQ(key(uid_)->index_version, vault::kIndexVersion) << "the spoilt chunk went in as is";

  VaultList l = run(svc_->list(*who_, u, first_part(), "[", "]"));
  ASSERT_TRUE(l.rest) << "the first part opened";
  std::string body = std::move(l.body);
  const auto drain = [&] {
    while (run(l.rest->next(body))) {
    }
  };
  EXPECT_THROW(drain(), std::runtime_error);
  EXPECT_NE(body.back(), ']') << "no end of the list after the part that failed";
  // Rebuilt for the next list, which is whole.
  const Unlocked again = svc_->open(*who_, key(uid_), token);
  EXPECT_EQ(list(again).size(), ids.size());
}

TEST_P(VaultServiceTest, ChangePasswordRewrapsTheKeyAndEndsVaultSessions) {
  const std::string token = set_up_and_unlock();
  const Unlocked u = svc_->open(*who_, key(uid_), token);
  const int64_t id = run(svc_->add(*who_, u, entry("a")));
  VaultPasswordChange wrong{SecretString::from_view("not the vault password"),
                            SecretString::from_view("a brand new vault password")};
  EXPECT_EQ(code_of([&] { run(svc_->change_password(*who_, u, wrong)); }),
            ErrorCode::invalid_vault_password);
  VaultPasswordChange to_account{SecretString::from_view(kVaultPw),
                                 SecretString::from_view(kAccountPw)};
  EXPECT_EQ(fields_of([&] { run(svc_->change_password(*who_, u, to_account)); }).at(0).first,
            "new_vault_password");
  VaultPasswordChange ok{SecretString::from_view(kVaultPw),
                         SecretString::from_view("a brand new vault password")};
  run(svc_->change_password(*who_, u, ok));
  EXPECT_EQ(code_of([&] { svc_->open(*who_, key(uid_), token); }), ErrorCode::vault_locked);
  const SecretString old_pw = SecretString::from_view(kVaultPw);
  EXPECT_EQ(code_of([&] { run(svc_->unlock(*who_, old_pw)); }), ErrorCode::invalid_vault_password);
  const SecretString new_pw = SecretString::from_view("a brand new vault password");
  const Unlocked again = svc_->open(*who_, key(uid_), run(svc_->unlock(*who_, new_pw)).token);
  auto row = r([&](storage::Repository& repo) { return repo.get_vault_entry(uid_, id); });
  EXPECT_EQ(svc_->get(again, row).fields.pin_or_password, "secret-a") << "the same data key";
}

TEST_P(VaultServiceTest, PagesShowTheListInPiecesWithTheIdToContinueAfter) {
  const Unlocked u = svc_->open(*who_, key(uid_), set_up_and_unlock());
  for (int i = 0; i < 7; ++i) run(svc_->add(*who_, u, entry("e" + std::to_string(i), i % 2)));
  const boost::json::array whole = list(u);
  for (int64_t limit : {1, 3, 7, 500}) {
    boost::json::array paged;
    std::optional<int64_t> after = 0;
    int pages = 0;
    while (after) {
      VaultPageOut p = run(svc_->list_page(u, VaultPage{*after, limit}, "["));
      p.body += ']';
      const auto items = boost::json::parse(p.body).as_array();
      ASSERT_LE(items.size(), static_cast<std::size_t>(limit));
      for (const auto& it : items) paged.push_back(it);
      if (p.next_after) {
        EXPECT_EQ(*p.next_after, items.back().as_object().at("id").as_int64());
      }
      after = p.next_after;
      ASSERT_LT(++pages, 10);
    }
    EXPECT_EQ(paged, whole) << "the same items as the whole list, limit " << limit;
  }
}

TEST_P(VaultServiceTest, AddAndUpdateStopAtTheSizeBoundOfTheRenderings) {
  const vault::Entry a = entry("a"), b = entry("b"), big = entry("bigger-than-b");
  const auto size = [](const vault::Entry& e) {
    return static_cast<int64_t>(vault::encode_entry(e).size());
  };
  svc_ = std::make_unique<VaultService>(*st_, *passwords_, metrics_, session_key_,
                                        VaultOptions{300, 1800, size(a) + size(b)});
  const Unlocked u = svc_->open(*who_, key(uid_), set_up_and_unlock());
  const int64_t ida = run(svc_->add(*who_, u, a));
  const int64_t idb = run(svc_->add(*who_, u, b));  // exactly at the bound
  EXPECT_EQ(code_of([&] { run(svc_->add(*who_, u, entry("c"))); }), ErrorCode::conflict);
  EXPECT_EQ(code_of([&] { run(svc_->update(*who_, u, idb, big)); }), ErrorCode::conflict);
  EXPECT_EQ(list(u).size(), 2u);
  EXPECT_EQ(list(u)[1].as_object().at("domain").as_string(), "b.example") << "nothing written";
  run(svc_->update(*who_, u, ida, entry("x")));  // the same size
  run(svc_->remove(*who_, u, ida));
  EXPECT_NO_THROW(run(svc_->add(*who_, u, entry("c"))));
}

INSTANTIATE_TEST_SUITE_P(Backends, VaultServiceTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql),
                         storage::test::backend_name);

}  // namespace
}  // namespace sr::services::test
