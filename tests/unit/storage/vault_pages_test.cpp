// SPEC 14 in the storage: pages of a user's entries by keyset (list_vault_entries_after) and the
// vault size bound (VaultBytes) on add and update, alone and under concurrent writers. Runs
// against SQLite and PostgreSQL.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "fixture.hpp"
#include "util/error.hpp"

namespace sr::storage::test {
namespace {

constexpr int64_t kOverhead = 7;  // any fixed overhead: the bound counts length - overhead
constexpr VaultBytes kBound{1000, kOverhead};

// A "sealed" entry whose counted size is exactly n.
std::string sealed_of_size(int64_t n) {
  return std::string(static_cast<std::size_t>(n + kOverhead), 'x');
}

class VaultPagesTest : public StorageTest {
 protected:
  // A user with a vault key (every entry write of a real vault locks its row on PostgreSQL).
  int64_t vault_user() {
    const int64_t uid = make_user("u");
    VaultKey k;
    k.user_id = uid;
    k.kdf_salt = std::string(16, 's');
    k.kdf_mem_kib = 19456;
    k.kdf_passes = 2;
    k.wrapped_key = "w";
    k.generation = 1;
    w([&](Repository& r) { r.create_vault_key(k); });
    return uid;
  }
  // An entry of counted size n, under kBound.
  std::optional<VaultEntry> add_sized(int64_t uid, int64_t n) {
    return w([&](Repository& r) {
      return r.add_vault_entry(
          uid, 1, 100, [&](int64_t) { return sealed_of_size(n); }, nullptr, kBound);
    });
  }
};

TEST_P(VaultPagesTest, PagesCoverEveryEntryOnceInOrderAndOnlyTheUsers) {
  const int64_t uid = make_user("u");
  const int64_t other = make_user("o");
  auto seal = [](int64_t id) { return "ct" + std::to_string(id); };
  std::vector<int64_t> mine;
  for (int i = 0; i < 23; ++i) {
    mine.push_back(w([&](Repository& r) { return r.add_vault_entry(uid, 1, 100, seal); })->id);
    w([&](Repository& r) { r.add_vault_entry(other, 1, 100, seal); });  // interleaved ids
  }
  for (int64_t limit : {1, 5, 23, 24, 500}) {
    std::vector<int64_t> seen;
    int64_t after = 0;
    for (;;) {
      auto page = r([&](Repository& r) { return r.list_vault_entries_after(uid, after, limit); });
      ASSERT_LE(page.size(), static_cast<std::size_t>(limit));
      for (const auto& e : page) {
        EXPECT_EQ(e.user_id, uid);
        EXPECT_EQ(e.ciphertext, seal(e.id));
        seen.push_back(e.id);
      }
      if (page.size() < static_cast<std::size_t>(limit)) break;
      after = page.back().id;
    }
    EXPECT_EQ(seen, mine) << "limit " << limit;
  }
  // After a deleted entry's id: the page continues with the next one.
  w([&](Repository& r) { r.delete_vault_entry(uid, mine[4]); });
  auto page = r([&](Repository& r) { return r.list_vault_entries_after(uid, mine[4], 2); });
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].id, mine[5]);
  // Beyond the last id, and after another user's id: nothing of theirs.
  EXPECT_TRUE(
      r([&](Repository& r) { return r.list_vault_entries_after(uid, mine.back(), 10); }).empty());
  for (const auto& e :
       r([&](Repository& r) { return r.list_vault_entries_after(uid, mine[10] + 1, 500); }))
    EXPECT_EQ(e.user_id, uid);
}

TEST_P(VaultPagesTest, AddStopsExactlyAtTheByteBound) {
  const int64_t uid = vault_user();
  auto add = [&](int64_t n) { return add_sized(uid, n); };
  ASSERT_TRUE(add(600));
  EXPECT_FALSE(add(401));  // one over
  EXPECT_EQ(r([&](Repository& r) { return r.list_vault_entries(uid); }).size(), 1u);
  ASSERT_TRUE(add(400));  // exactly at the bound
  EXPECT_FALSE(add(1));
  // Without a bound (max 0) nothing is counted.
  EXPECT_TRUE(w([&](Repository& r) {
    return r.add_vault_entry(uid, 1, 100, [&](int64_t) { return sealed_of_size(5); });
  }));
}

TEST_P(VaultPagesTest, UpdateMayNotGrowBeyondTheBoundButMayShrink) {
  const int64_t uid = vault_user();
  auto add = [&](int64_t n) { return add_sized(uid, n)->id; };
  const int64_t a = add(500), b = add(300);
  auto update = [&](int64_t id, int64_t n) {
    return w([&](Repository& r) {
      return r.update_vault_entry(uid, id, sealed_of_size(n), 2, nullptr, kBound);
    });
  };
  EXPECT_THROW(update(b, 501), VaultFullError);  // one over
  EXPECT_EQ(r([&](Repository& r) { return r.get_vault_entry(uid, b); })->ciphertext,
            sealed_of_size(300));   // nothing written
  ASSERT_TRUE(update(b, 500));      // exactly at
  EXPECT_FALSE(update(999999, 1));  // not found stays not found
  // Over the bound already (it was lowered): a shrink still passes, a growth does not.
  const VaultBytes lower{600, kOverhead};
  EXPECT_TRUE(w([&](Repository& r) {
    return r.update_vault_entry(uid, a, sealed_of_size(400), 3, nullptr, lower);
  }));
  EXPECT_THROW(w([&](Repository& r) {
                 r.update_vault_entry(uid, a, sealed_of_size(401), 4, nullptr, lower);
               }),
               VaultFullError);
}

TEST_P(VaultPagesTest, ConcurrentAddsNeverPassTheBound) {
  const int64_t uid = vault_user();
  std::atomic<int> added{0};
  std::vector<std::thread> ts;
  std::atomic<bool> go{false};
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&] {
      while (!go) std::this_thread::yield();
      for (int i = 0; i < 4; ++i) {
        bool ok = false;
        st_->run_sync(Access::write, [&](Repository& r) {
          ok = r.add_vault_entry(
                    uid, 1, 1000, [](int64_t) { return sealed_of_size(90); }, nullptr, kBound)
                   .has_value();
        });
        if (ok) ++added;
      }
    });
  go = true;
  for (auto& t : ts) t.join();
  EXPECT_EQ(added.load(), 11);  // 11 * 90 = 990 <= 1000 < 12 * 90
  EXPECT_EQ(r([&](Repository& r) { return r.list_vault_entries(uid); }).size(), 11u);
}

INSTANTIATE_TEST_SUITE_P(Backends, VaultPagesTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql), backend_name);

}  // namespace
}  // namespace sr::storage::test
