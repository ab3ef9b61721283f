// open_chunks_into (services/entry_indexer.hpp): index chunks opened straight into a list body.
// Ids must ascend from the last item sent; the rest of a streamed list (resync) may find the index
// rebuilt and then skips, at the start of its read only, what was sent already.
#include "services/entry_indexer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vault/crypto.hpp"
#include "vault/index.hpp"

namespace sr::services {
namespace {

constexpr int64_t kUser = 7;

class OpenChunks : public ::testing::Test {
 protected:
  // A sealed chunk number `no` holding items {"id":N} for ids.
  storage::VaultIndexChunk chunk(int64_t no, const std::vector<int64_t>& ids) {
    std::vector<std::string> json;
    for (int64_t id : ids) json.push_back("{\"id\":" + std::to_string(id) + "}");
    std::vector<vault::IndexItem> items;
    for (std::size_t i = 0; i < ids.size(); ++i) items.push_back({ids[i], json[i]});
    const SecretBytes pt = vault::encode_index_chunk(items);
    return {no, vault::seal_index_chunk(dk_, kUser, no, pt.view())};
  }
  // Opens chunks behind `body` (whose last item is last_id); what the call returned.
  bool open(std::string& body, int64_t& last_id, const std::vector<storage::VaultIndexChunk>& cs,
            bool resync) {
    return open_chunks_into(body, dk_, kUser, cs, last_id, resync);
  }

  SecretBytes dk_ = SecretBytes::random(32);
};

TEST_F(OpenChunks, ItemsAscendFromTheLastOneSent) {
  std::string body = "[";
  int64_t last = 0;
  ASSERT_TRUE(open(body, last, {chunk(1, {1, 2}), chunk(2, {3})}, false));
  EXPECT_EQ(body, R"([{"id":1},{"id":2},{"id":3})");
  EXPECT_EQ(last, 3);
  // Without resync an id at or below the last one sent is damage: refused, the body unchanged.
  const std::string before = body;
  EXPECT_FALSE(open(body, last, {chunk(3, {3, 4})}, false));
  EXPECT_EQ(body, before);
  EXPECT_EQ(last, 3);
  ASSERT_TRUE(open(body, last, {chunk(3, {4, 5})}, false));
  EXPECT_EQ(body, R"([{"id":1},{"id":2},{"id":3},{"id":4},{"id":5})");
}

// A rebuilt index read from its beginning: whole chunks already sent are skipped, the chunk
// holding the last item sent is cut after it, and the list goes on.
TEST_F(OpenChunks, ResyncSkipsWhatWasSentAndGoesOn) {
  std::string body = R"([{"id":1},{"id":2},{"id":4})";
  int64_t last = 4;
  ASSERT_TRUE(open(body, last, {chunk(20, {1, 2}), chunk(21, {4, 6, 7}), chunk(22, {9})}, true));
  EXPECT_EQ(body, R"([{"id":1},{"id":2},{"id":4},{"id":6},{"id":7},{"id":9})");
  EXPECT_EQ(last, 9);
  // Everything in the read sent already: nothing added, nothing left behind.
  const std::string before = body;
  ASSERT_TRUE(open(body, last, {chunk(30, {1, 4}), chunk(31, {6, 9})}, true));
  EXPECT_EQ(body, before);
  EXPECT_EQ(last, 9);
}

// Only the start of a read may go back: after an item was kept, or between two chunks of one
// read, ids that do not ascend are damage, with resync as without.
TEST_F(OpenChunks, ResyncRefusesIdsGoingBackAnywhereElse) {
  const std::string start = R"([{"id":4})";
  for (const auto& cs : std::vector<std::vector<storage::VaultIndexChunk>>{
           {chunk(5, {5, 6}), chunk(6, {2, 3})},  // back after an item was kept
           {chunk(5, {3, 4}), chunk(6, {1, 2})},  // back between chunks, nothing kept yet
           {chunk(5, {1, 2}), chunk(6, {2, 8})},  // a chunk's first id repeats the last one's
       }) {
    std::string body = start;
    int64_t last = 4;
    EXPECT_FALSE(open(body, last, cs, true));
    EXPECT_EQ(body, start);
    EXPECT_EQ(last, 4);
  }
}

TEST_F(OpenChunks, AChunkThatDoesNotOpenIsRefusedWithResyncToo) {
  auto bad = chunk(5, {5, 6});
  bad.chunk = 6;  // sealed as chunk 5
  std::string body = R"([{"id":4})";
  int64_t last = 4;
  EXPECT_FALSE(open(body, last, {bad}, true));
  EXPECT_EQ(body, R"([{"id":4})");
}

}  // namespace
}  // namespace sr::services
