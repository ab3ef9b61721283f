// services::ProfileService against real SQLite and PostgreSQL: the handbook and /personal/me from
// the rows the gate reads, and social links with their cap and ownership.
#include "services/profile_service.hpp"

#include "service_fixture.hpp"

namespace sr::services::test {
namespace {

class ProfileServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    svc_ = std::make_unique<ProfileService>(*st_);
  }
  // The rows a GET route declares, read as the gate reads them.
  storage::ReadBatch read(int64_t uid, bool user, bool handbook) {
    storage::ReadBatch b;
    b.want.user_id = uid;
    b.want.user = user;
    b.want.handbook = handbook;
    r([&](storage::Repository& repo) {
      repo.read_batch(b);
      return true;
    });
    return b;
  }
  std::unique_ptr<ProfileService> svc_;
};

TEST_P(ProfileServiceTest, HandbookIsReplacedWholeAndShownWithTheUser) {
  const int64_t uid = make_user("ada");
  auto who = caller_for(uid, "sid-ada");
  auto none = read(uid, true, true);
  EXPECT_EQ(code_of([&] { svc_->handbook(none); }), ErrorCode::not_found);
  EXPECT_FALSE(svc_->me(none).handbook);

  storage::Handbook h;
  h.full_name = "Ada Lovelace";
  h.age = 36;
  h.bio = "line\nline";
  const storage::Handbook stored = run(svc_->put_handbook(*who, h));
  EXPECT_EQ(stored.full_name, "Ada Lovelace");
  EXPECT_GT(stored.updated_at, 0);

  storage::Handbook cleared;
  cleared.phone = "+1 555";
  run(svc_->put_handbook(*who, cleared));
  auto rows = read(uid, true, true);
  const Me me = svc_->me(rows);
  EXPECT_EQ(me.user.username, "ada");
  ASSERT_TRUE(me.handbook);
  EXPECT_FALSE(me.handbook->full_name) << "absent fields are cleared";
  EXPECT_EQ(me.handbook->phone, "+1 555");
  auto only = read(uid, false, true);
  EXPECT_EQ(svc_->handbook(only).phone, "+1 555");
}

TEST_P(ProfileServiceTest, MeOfAUserDeletedMeanwhileIsARevokedSession) {
  const int64_t uid = make_user("ada");
  w([&](storage::Repository& repo) { return repo.delete_user(uid); });
  auto rows = read(uid, true, true);
  EXPECT_EQ(code_of([&] { svc_->me(rows); }), ErrorCode::token_revoked);
}

TEST_P(ProfileServiceTest, LinksAreCappedAndOnlyTheOwnersToChange) {
  const int64_t uid = make_user("ada"), other = make_user("grace");
  auto who = caller_for(uid, "sid-ada");
  auto them = caller_for(other, "sid-grace");
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < ProfileService::kMaxLinks; ++i) {
    const Link l{"site" + std::to_string(i), "https://example.org/" + std::to_string(i)};
    ids.push_back(run(svc_->add_link(*who, l)).id);
  }
  const Link one_more{"more", "https://example.org/more"};
  EXPECT_EQ(code_of([&] { run(svc_->add_link(*who, one_more)); }), ErrorCode::conflict);
  EXPECT_EQ(run(svc_->add_link(*them, one_more)).user_id, other) << "the cap is per user";

  const Link changed{"changed", "https://example.org/changed"};
  EXPECT_EQ(code_of([&] { run(svc_->update_link(*them, ids[0], changed)); }), ErrorCode::not_found);
  EXPECT_EQ(code_of([&] { run(svc_->remove_link(*them, ids[0])); }), ErrorCode::not_found);
  const storage::SocialLink l = run(svc_->update_link(*who, ids[0], changed));
  EXPECT_EQ(l.platform, "changed");
  run(svc_->remove_link(*who, ids[0]));
  EXPECT_EQ(code_of([&] { run(svc_->remove_link(*who, ids[0])); }), ErrorCode::not_found);
  run(svc_->add_link(*who, one_more));  // room again
}

INSTANTIATE_TEST_SUITE_P(Backends, ProfileServiceTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql),
                         storage::test::backend_name);

}  // namespace
}  // namespace sr::services::test
