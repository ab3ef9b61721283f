// The vault list index in the repository (storage::VaultIndexer, list_vault_index,
// rebuild_vault_index, ReadBatch::want.vault_index) on both backends. The indexer here is a test
// double of our own interface: its chunk "ciphertext" is plain text, "id:ciphertext" per entry
// joined by ';', so a chunk shows exactly which entries (and which of their versions) it holds.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fixture.hpp"
#include "same.hpp"

namespace sr::storage::test {
namespace {

using Items = std::map<int64_t, std::string>;  // id -> the entry ciphertext the chunk shows

Items parse(const std::string& text) {
  Items out;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find(';', at);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(at, end - at);
    const std::size_t colon = item.find(':');
    if (colon == std::string::npos) throw std::runtime_error("test chunk: bad item " + item);
    out[std::stoll(item.substr(0, colon))] = item.substr(colon + 1);
    at = end + 1;
  }
  return out;
}

std::string text(const Items& items) {
  std::string out;
  for (const auto& [id, ct] : items)
    out += (out.empty() ? "" : ";") + std::to_string(id) + ":" + ct;
  return out;
}

enum class Mode { ok, none, boom };

struct Boom : std::runtime_error {
  Boom() : std::runtime_error("indexer failed") {}
};

class TestIndexer final : public VaultIndexer {
 public:
  explicit TestIndexer(int64_t version = 1, std::size_t per_chunk = 3)
      : version_(version), per_chunk_(per_chunk) {}

  int64_t version() const override { return version_; }

  std::optional<VaultIndexChunk> added(const VaultEntry& e,
                                       const std::optional<VaultIndexChunk>& last) override {
    add_calls.push_back({e, last});
    if (add_mode == Mode::none) return std::nullopt;
    if (add_mode == Mode::boom) throw Boom();
    if (last) {
      auto items = parse(last->ciphertext);
      if (!items.empty() && items.rbegin()->first >= e.id)
        errors.push_back("added: last holds id >= " + std::to_string(e.id));
      if (items.size() < per_chunk_ && !force_chunk) {
        items[e.id] = e.ciphertext;
        return VaultIndexChunk{last->chunk, text(items)};
      }
    }
    const int64_t next = force_chunk ? *force_chunk : (last ? last->chunk + 1 : 1);
    return VaultIndexChunk{next, text({{e.id, e.ciphertext}})};
  }

  std::optional<std::string> updated(const VaultEntry& e, const VaultIndexChunk& c) override {
    update_calls.push_back({e, c});
    if (update_mode == Mode::none) return std::nullopt;
    if (update_mode == Mode::boom) throw Boom();
    auto items = parse(c.ciphertext);
    if (!items.count(e.id)) {
      errors.push_back("updated: chunk " + std::to_string(c.chunk) + " lacks " +
                       std::to_string(e.id));
      return std::nullopt;
    }
    items[e.id] = e.ciphertext;
    return text(items);
  }

  std::optional<std::string> removed(int64_t id, const VaultIndexChunk& c) override {
    remove_calls.push_back({id, c});
    if (remove_mode == Mode::none) return std::nullopt;
    if (remove_mode == Mode::boom) throw Boom();
    if (remove_lies) return std::string();  // "empty" while other entries are still in it
    auto items = parse(c.ciphertext);
    if (!items.erase(id)) {
      errors.push_back("removed: chunk " + std::to_string(c.chunk) + " lacks " +
                       std::to_string(id));
      return std::nullopt;
    }
    return text(items);
  }

  std::optional<std::vector<Built>> build(const std::vector<VaultEntry>& entries,
                                          int64_t first_chunk) override {
    build_calls.push_back(entries);
    build_first_chunks.push_back(first_chunk);
    const int64_t first = build_first ? build_first : first_chunk;
    if (build_mode == Mode::none) return std::nullopt;
    if (build_mode == Mode::boom) throw Boom();
    std::vector<Built> out;
    Items items;
    std::vector<int64_t> ids;
    auto close = [&] {
      const int64_t no = first + build_step * static_cast<int64_t>(out.size());
      out.push_back({{no, text(items)}, ids});
      items.clear();
      ids.clear();
    };
    for (const auto& e : entries) {
      items[e.id] = e.ciphertext;
      ids.push_back(e.id);
      if (items.size() == per_chunk_) close();
    }
    if (!items.empty()) close();
    if (build_tamper) build_tamper(out);
    return out;
  }

  struct AddCall {
    VaultEntry e;
    std::optional<VaultIndexChunk> last;
  };
  struct EditCall {
    VaultEntry e;
    VaultIndexChunk c;
  };
  std::vector<AddCall> add_calls;
  std::vector<EditCall> update_calls;
  std::vector<std::pair<int64_t, VaultIndexChunk>> remove_calls;
  std::vector<std::vector<VaultEntry>> build_calls;
  std::vector<std::string> errors;  // the storage handed the indexer something inconsistent

  Mode add_mode = Mode::ok, update_mode = Mode::ok, remove_mode = Mode::ok, build_mode = Mode::ok;
  std::optional<int64_t> force_chunk;  // added() answers with this chunk number
  bool remove_lies = false;
  int64_t build_first = 0;  // 0: from the storage's first_chunk
  int64_t build_step = 1;
  std::vector<int64_t> build_first_chunks;
  std::function<void(std::vector<Built>&)> build_tamper;

  std::size_t calls() const {
    return add_calls.size() + update_calls.size() + remove_calls.size() + build_calls.size();
  }

 private:
  int64_t version_;
  std::size_t per_chunk_;
};

std::string ct(int64_t tag) {
  return "ct" + std::to_string(tag);
}

class VaultIndexTest : public StorageTest {
 protected:
  void make_vault(int64_t uid, int64_t index_version = 1) {
    VaultKey k;
    k.user_id = uid;
    k.kdf_salt = "salt-salt-salt-1";
    k.kdf_mem_kib = 64;
    k.kdf_passes = 1;
    k.wrapped_key = "wrapped";
    k.generation = 1;
    k.created_at = k.updated_at = 100;
    k.index_version = index_version;
    ASSERT_TRUE(w([&](Repository& r) { return r.create_vault_key(k); }));
  }

  // Adds an entry whose ciphertext is "ct<id>".
  VaultEntry add(int64_t uid, VaultIndexer* ix, int64_t now = 10) {
    auto e = w([&](Repository& r) {
      return r.add_vault_entry(
          uid, now, 10000, [](int64_t id) { return ct(id); }, ix);
    });
    EXPECT_TRUE(e);
    return e.value_or(VaultEntry{});
  }
  std::optional<VaultEntry> update(int64_t uid, int64_t id, const std::string& c, VaultIndexer* ix,
                                   int64_t now = 20) {
    return w([&](Repository& r) { return r.update_vault_entry(uid, id, c, now, ix); });
  }
  bool remove(int64_t uid, int64_t id, VaultIndexer* ix) {
    return w([&](Repository& r) { return r.delete_vault_entry(uid, id, ix); });
  }

  std::vector<VaultIndexChunk> chunks(int64_t uid) {
    return r([&](Repository& r) { return r.list_vault_index(uid, 0, 1 << 20); });
  }
  std::vector<VaultEntry> entries(int64_t uid) {
    return r([&](Repository& r) { return r.list_vault_entries(uid); });
  }
  int64_t version(int64_t uid) {
    auto k = r([&](Repository& r) { return r.get_vault_key(uid); });
    EXPECT_TRUE(k);
    return k ? k->index_version : -1;
  }
  // The chunks as (number -> items).
  std::map<int64_t, Items> layout(int64_t uid) {
    std::map<int64_t, Items> out;
    for (const auto& c : chunks(uid)) out[c.chunk] = parse(c.ciphertext);
    return out;
  }
  // The entries as the index should show them.
  Items live(int64_t uid) {
    Items out;
    for (const auto& e : entries(uid)) out[e.id] = e.ciphertext;
    return out;
  }
  // Every live entry in exactly one chunk, with its current ciphertext, nothing else.
  void expect_index_matches_entries(int64_t uid) {
    Items seen;
    int64_t last_id = 0, last_chunk = 0;
    for (const auto& c : chunks(uid)) {
      EXPECT_GT(c.chunk, last_chunk);
      last_chunk = c.chunk;
      const auto items = parse(c.ciphertext);
      EXPECT_FALSE(items.empty()) << "empty chunk " << c.chunk;
      for (const auto& [id, cipher] : items) {
        EXPECT_GT(id, last_id) << "chunk " << c.chunk;  // ids ascend across the chunks
        last_id = id;
        EXPECT_TRUE(seen.emplace(id, cipher).second) << "id " << id << " twice";
      }
    }
    EXPECT_EQ(seen, live(uid));
  }
};

// --- index_version
// --------------------------------------------------------------------------------

TEST_P(VaultIndexTest, IndexVersionStoredAndReadBack) {
  const int64_t a = make_user("a"), b = make_user("b"), c = make_user("c");
  make_vault(a, 1);
  make_vault(b, 0);
  make_vault(c, 7);
  EXPECT_EQ(version(a), 1);
  EXPECT_EQ(version(b), 0);
  EXPECT_EQ(version(c), 7);
  for (auto [uid, v] : {std::pair{a, 1}, std::pair{b, 0}, std::pair{c, 7}}) {
    ReadBatch rb;
    rb.want.user_id = uid;
    rb.want.vault_key = true;
    r([&](Repository& r) { r.read_batch(rb); });
    ASSERT_TRUE(rb.vault_key);
    EXPECT_EQ(rb.vault_key->index_version, v);
    EXPECT_TRUE(rb.vault_index.empty());  // not asked for
  }
}

// --- entry writes keep the index
// ------------------------------------------------------------------

TEST_P(VaultIndexTest, AddJoinsTheHighestChunkAndStartsANewOneWhenTheIndexerSaysSo) {
  const int64_t uid = make_user("u");
  make_vault(uid);
  TestIndexer ix;
  const auto e1 = add(uid, &ix, 11);
  ASSERT_EQ(ix.add_calls.size(), 1u);
  expect_same(ix.add_calls[0].e, e1);  // id, times and ciphertext final
  EXPECT_EQ(ix.add_calls[0].e.ciphertext, ct(e1.id));
  EXPECT_EQ(ix.add_calls[0].e.created_at, 11);
  EXPECT_FALSE(ix.add_calls[0].last);  // no chunk yet
  EXPECT_EQ(layout(uid), (std::map<int64_t, Items>{{1, {{e1.id, ct(e1.id)}}}}));

  const auto e2 = add(uid, &ix);
  ASSERT_TRUE(ix.add_calls[1].last);
  expect_same(*ix.add_calls[1].last, VaultIndexChunk{1, text({{e1.id, ct(e1.id)}})});
  const auto e3 = add(uid, &ix);
  const auto e4 = add(uid, &ix);  // chunk 1 holds 3: chunk 2
  ASSERT_TRUE(ix.add_calls[3].last);
  EXPECT_EQ(ix.add_calls[3].last->chunk, 1);
  const auto e5 = add(uid, &ix);
  ASSERT_TRUE(ix.add_calls[4].last);
  expect_same(*ix.add_calls[4].last, VaultIndexChunk{2, text({{e4.id, ct(e4.id)}})});
  EXPECT_EQ(layout(uid), (std::map<int64_t, Items>{
                             {1, {{e1.id, ct(e1.id)}, {e2.id, ct(e2.id)}, {e3.id, ct(e3.id)}}},
                             {2, {{e4.id, ct(e4.id)}, {e5.id, ct(e5.id)}}}}));
  EXPECT_EQ(version(uid), 1);
  EXPECT_TRUE(ix.errors.empty()) << ix.errors.front();
  expect_index_matches_entries(uid);

  // A chunk number above last+1 is a new chunk too; the next add sees it as last.
  ix.force_chunk = 9;
  const auto e6 = add(uid, &ix);
  ix.force_chunk.reset();
  const auto e7 = add(uid, &ix);
  ASSERT_TRUE(ix.add_calls.back().last);
  EXPECT_EQ(ix.add_calls.back().last->chunk, 9);
  EXPECT_EQ(layout(uid)[9], (Items{{e6.id, ct(e6.id)}, {e7.id, ct(e7.id)}}));
  EXPECT_EQ(version(uid), 1);
  expect_index_matches_entries(uid);
}

TEST_P(VaultIndexTest, AddAnsweringAChunkBelowLastDropsTheIndexButKeepsTheEntry) {
  const int64_t uid = make_user("u");
  make_vault(uid);
  TestIndexer ix;
  for (int i = 0; i < 4; ++i) add(uid, &ix);  // chunks 1 and 2
  const auto before = chunks(uid);
  ASSERT_EQ(before.size(), 2u);
  ix.force_chunk = 1;  // below last (2)
  const auto e = add(uid, &ix);
  EXPECT_EQ(ix.add_calls.size(), 5u);
  EXPECT_EQ(version(uid), 0);
  expect_same(chunks(uid), before);  // the answer was not written
  EXPECT_EQ(entries(uid).size(), 5u);
  EXPECT_EQ(entries(uid).back().id, e.id);
}

TEST_P(VaultIndexTest, AddSeesOnlyTheUsersOwnLastChunk) {
  const int64_t a = make_user("a"), b = make_user("b");
  make_vault(a);
  make_vault(b);
  TestIndexer ia, ib;
  ib.force_chunk = 7;  // b's chunks are numbered higher than a's
  add(b, &ib);
  ib.force_chunk.reset();
  const auto a1 = add(a, &ia);
  EXPECT_FALSE(ia.add_calls.back().last);  // not b's chunk 7
  const auto b2 = add(b, &ib);
  EXPECT_EQ(ib.add_calls.back().last->chunk, 7);
  ib.force_chunk = 8;
  add(b, &ib);
  const auto a2 = add(a, &ia);
  ASSERT_TRUE(ia.add_calls.back().last);
  expect_same(*ia.add_calls.back().last, VaultIndexChunk{1, text({{a1.id, ct(a1.id)}})});
  EXPECT_EQ(layout(a), (std::map<int64_t, Items>{{1, {{a1.id, ct(a1.id)}, {a2.id, ct(a2.id)}}}}));
  EXPECT_EQ(chunks(b).size(), 2u);
  EXPECT_EQ(layout(b)[7].count(b2.id), 1u);
  EXPECT_TRUE(ia.errors.empty() && ib.errors.empty());
}

TEST_P(VaultIndexTest, UpdateEditsTheChunkTheEntryRowNames) {
  const int64_t uid = make_user("u");
  make_vault(uid);
  TestIndexer ix;
  std::vector<VaultEntry> es;
  for (int i = 0; i < 5; ++i) es.push_back(add(uid, &ix));  // chunk 1: 0..2, chunk 2: 3..4
  const auto chunk2 = chunks(uid)[1];

  auto up = update(uid, es[1].id, "new1", &ix, 77);
  ASSERT_TRUE(up);
  ASSERT_EQ(ix.update_calls.size(), 1u);
  const auto& call = ix.update_calls[0];
  expect_same(call.e, *up);  // the entry as stored now
  EXPECT_EQ(call.e.ciphertext, "new1");
  EXPECT_EQ(call.e.updated_at, 77);
  EXPECT_EQ(call.e.created_at, 10);
  EXPECT_EQ(call.c.chunk, 1);
  EXPECT_EQ(parse(call.c.ciphertext),
            (Items{{es[0].id, ct(es[0].id)}, {es[1].id, ct(es[1].id)}, {es[2].id, ct(es[2].id)}}));
  EXPECT_EQ(layout(uid)[1][es[1].id], "new1");
  expect_same(chunks(uid)[1], chunk2);  // the other chunk untouched

  ASSERT_TRUE(update(uid, es[4].id, "new4", &ix));
  EXPECT_EQ(ix.update_calls.back().c.chunk, 2);
  EXPECT_EQ(layout(uid)[2][es[4].id], "new4");
  EXPECT_EQ(version(uid), 1);
  EXPECT_TRUE(ix.errors.empty()) << ix.errors.front();
  expect_index_matches_entries(uid);

  // A missing entry: no call, nothing changes.
  const auto snap = chunks(uid);
  EXPECT_FALSE(update(uid, es[4].id + 1000, "x", &ix));
  EXPECT_EQ(ix.update_calls.size(), 2u);
  expect_same(chunks(uid), snap);
  EXPECT_EQ(version(uid), 1);
}

TEST_P(VaultIndexTest, DeleteEditsTheChunkAndAnEmptyChunkRowIsDeleted) {
  const int64_t uid = make_user("u");
  make_vault(uid);
  TestIndexer ix;
  std::vector<VaultEntry> es;
  for (int i = 0; i < 5; ++i) es.push_back(add(uid, &ix));
  const auto chunk1 = chunks(uid)[0];

  EXPECT_TRUE(remove(uid, es[3].id, &ix));
  ASSERT_EQ(ix.remove_calls.size(), 1u);
  EXPECT_EQ(ix.remove_calls[0].first, es[3].id);
  expect_same(ix.remove_calls[0].second,
              VaultIndexChunk{2, text({{es[3].id, ct(es[3].id)}, {es[4].id, ct(es[4].id)}})});
  EXPECT_EQ(layout(uid)[2], (Items{{es[4].id, ct(es[4].id)}}));
  expect_same(chunks(uid)[0], chunk1);

  EXPECT_TRUE(remove(uid, es[4].id, &ix));  // chunk 2 now empty: "" deletes its row
  auto cs = chunks(uid);
  ASSERT_EQ(cs.size(), 1u);
  expect_same(cs[0], chunk1);
  EXPECT_EQ(version(uid), 1);
  expect_index_matches_entries(uid);

  // A missing entry: false, no call.
  EXPECT_FALSE(remove(uid, es[4].id, &ix));
  EXPECT_EQ(ix.remove_calls.size(), 2u);

  // The highest chunk is now the full chunk 1: the next add starts chunk 2 again.
  const auto e6 = add(uid, &ix);
  EXPECT_EQ(ix.add_calls.back().last->chunk, 1);
  EXPECT_EQ(layout(uid)[2], (Items{{e6.id, ct(e6.id)}}));
  // Emptying chunk 1 entirely leaves only chunk 2.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(remove(uid, es[i].id, &ix));
  cs = chunks(uid);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].chunk, 2);
  EXPECT_EQ(version(uid), 1);
  EXPECT_TRUE(ix.errors.empty()) << ix.errors.front();
  expect_index_matches_entries(uid);
}

// --- an indexer that cannot keep the index, or fails
// ----------------------------------------------

TEST_P(VaultIndexTest, NulloptDropsTheIndexButEachWriteGoesOn) {
  for (int which = 0; which < 3; ++which) {
    SCOPED_TRACE(which == 0 ? "add" : which == 1 ? "update" : "delete");
    const int64_t uid = make_user("u" + std::to_string(which));
    make_vault(uid);
    TestIndexer ix;
    std::vector<VaultEntry> es;
    for (int i = 0; i < 4; ++i) es.push_back(add(uid, &ix));
    const auto before = chunks(uid);
    if (which == 0) {
      ix.add_mode = Mode::none;
      const auto e = add(uid, &ix);
      EXPECT_EQ(ix.add_calls.size(), 5u);
      ASSERT_EQ(entries(uid).size(), 5u);
      expect_same(entries(uid).back(), e);
    } else if (which == 1) {
      ix.update_mode = Mode::none;
      ASSERT_TRUE(update(uid, es[1].id, "changed", &ix, 55));
      EXPECT_EQ(ix.update_calls.size(), 1u);
      auto g = r([&](Repository& r) { return r.get_vault_entry(uid, es[1].id); });
      ASSERT_TRUE(g);
      EXPECT_EQ(g->ciphertext, "changed");
      EXPECT_EQ(g->updated_at, 55);
    } else {
      ix.remove_mode = Mode::none;
      EXPECT_TRUE(remove(uid, es[1].id, &ix));
      EXPECT_EQ(ix.remove_calls.size(), 1u);
      EXPECT_FALSE(r([&](Repository& r) { return r.get_vault_entry(uid, es[1].id); }));
    }
    EXPECT_EQ(version(uid), 0);
    expect_same(chunks(uid), before);  // nothing written to the index

    // With the index dropped, later writes do not consult the indexer and keep it at 0.
    TestIndexer fresh;
    const auto e = add(uid, &fresh);
    ASSERT_TRUE(update(uid, e.id, "again", &fresh));
    EXPECT_TRUE(remove(uid, es[0].id, &fresh));
    EXPECT_EQ(fresh.calls(), 0u);
    EXPECT_EQ(version(uid), 0);
    expect_same(chunks(uid), before);
  }
}

TEST_P(VaultIndexTest, ThrowRollsTheWholeWriteBack) {
  const int64_t uid = make_user("u");
  make_vault(uid);
  TestIndexer ix;
  std::vector<VaultEntry> es;
  for (int i = 0; i < 4; ++i) es.push_back(add(uid, &ix));
  const auto chunks_before = chunks(uid);
  const auto entries_before = entries(uid);
  auto unchanged = [&] {
    expect_same(chunks(uid), chunks_before);
    expect_same(entries(uid), entries_before);
    EXPECT_EQ(version(uid), 1);
  };

  ix.add_mode = Mode::boom;
  EXPECT_THROW(add(uid, &ix), Boom);
  unchanged();
  ix.add_mode = Mode::ok;

  ix.update_mode = Mode::boom;
  EXPECT_THROW(update(uid, es[0].id, "changed", &ix), Boom);  // chunk 1
  EXPECT_THROW(update(uid, es[3].id, "changed", &ix), Boom);  // chunk 2
  unchanged();
  ix.update_mode = Mode::ok;

  ix.remove_mode = Mode::boom;
  EXPECT_THROW(remove(uid, es[0].id, &ix), Boom);
  EXPECT_THROW(remove(uid, es[3].id, &ix), Boom);  // would have emptied nothing, still rolled back
  unchanged();
  ix.remove_mode = Mode::ok;

  // The storage is usable afterwards and the index still in step.
  const auto e = add(uid, &ix);
  EXPECT_GT(e.id, es.back().id);
  ASSERT_TRUE(update(uid, es[0].id, "after", &ix));
  EXPECT_TRUE(remove(uid, es[3].id, &ix));
  EXPECT_EQ(version(uid), 1);
  EXPECT_TRUE(ix.errors.empty()) << ix.errors.front();
  expect_index_matches_entries(uid);
}

TEST_P(VaultIndexTest, WriteWithoutIndexerOrWithAnotherVersionDropsTheIndex) {
  const int64_t uid = make_user("u");
  TestIndexer ix;
  make_vault(uid);
  const auto e = add(uid, &ix);
  auto reset = [&] {
    ASSERT_TRUE(w([&](Repository& r) { return r.rebuild_vault_index(uid, ix); }));
    ASSERT_EQ(version(uid), 1);
  };
  TestIndexer v2(2);

  // add
  add(uid, nullptr);
  EXPECT_EQ(version(uid), 0);
  reset();
  add(uid, &v2);
  EXPECT_EQ(version(uid), 0);
  reset();
  // update
  ASSERT_TRUE(update(uid, e.id, "u1", nullptr));
  EXPECT_EQ(version(uid), 0);
  reset();
  ASSERT_TRUE(update(uid, e.id, "u2", &v2));
  EXPECT_EQ(version(uid), 0);
  reset();
  // delete
  const auto d1 = add(uid, &ix), d2 = add(uid, &ix);
  EXPECT_TRUE(remove(uid, d1.id, nullptr));
  EXPECT_EQ(version(uid), 0);
  reset();
  EXPECT_TRUE(remove(uid, d2.id, &v2));
  EXPECT_EQ(version(uid), 0);
  EXPECT_EQ(v2.calls(), 0u);  // another version is never consulted

  // A vault created without an index (version 0) is not indexed by writes either.
  const int64_t other = make_user("o");
  make_vault(other, 0);
  TestIndexer ix0;
  const auto o1 = add(other, &ix0);
  ASSERT_TRUE(update(other, o1.id, "x", &ix0));
  add(other, &ix0);
  EXPECT_TRUE(remove(other, o1.id, &ix0));
  EXPECT_EQ(ix0.calls(), 0u);
  EXPECT_EQ(version(other), 0);
  EXPECT_TRUE(chunks(other).empty());
}

TEST_P(VaultIndexTest, EntryWhoseChunkRowIsGoneDropsTheIndexOnItsNextWrite) {
  const int64_t uid = make_user("u");
  make_vault(uid);
  TestIndexer ix;
  const auto a = add(uid, &ix), b = add(uid, &ix), c = add(uid, &ix);
  // The indexer claims chunk 1 is empty after a's delete: the row goes, b and c still name it.
  ix.remove_lies = true;
  EXPECT_TRUE(remove(uid, a.id, &ix));
  ix.remove_lies = false;
  EXPECT_TRUE(chunks(uid).empty());
  EXPECT_EQ(version(uid), 1);
  // b's chunk does not exist: the indexer is not called, the index is dropped, the update stays.
  const std::size_t calls = ix.update_calls.size();
  ASSERT_TRUE(update(uid, b.id, "b2", &ix));
  EXPECT_EQ(ix.update_calls.size(), calls);
  EXPECT_EQ(version(uid), 0);
  EXPECT_EQ(r([&](Repository& r) { return r.get_vault_entry(uid, b.id); })->ciphertext, "b2");
  // Same for a delete, after a rebuild and another lie.
  ASSERT_TRUE(w([&](Repository& r) { return r.rebuild_vault_index(uid, ix); }));
  ix.remove_lies = true;
  EXPECT_TRUE(remove(uid, b.id, &ix));
  ix.remove_lies = false;
  const std::size_t rcalls = ix.remove_calls.size();
  EXPECT_TRUE(remove(uid, c.id, &ix));
  EXPECT_EQ(ix.remove_calls.size(), rcalls);
  EXPECT_EQ(version(uid), 0);
  EXPECT_TRUE(entries(uid).empty());
}

// --- rebuild
// --------------------------------------------------------------------------------------

TEST_P(VaultIndexTest, RebuildReplacesEveryChunkAndSetsTheVersion) {
  const int64_t uid = make_user("u");
  make_vault(uid);
  TestIndexer ix;
  std::vector<VaultEntry> es;
  for (int i = 0; i < 9; ++i) es.push_back(add(uid, &ix));  // chunks 1, 2, 3
  ASSERT_EQ(chunks(uid).size(), 3u);
  // Drop the index, then change the entries behind its back: chunks 1-3 are stale now.
  EXPECT_TRUE(remove(uid, es[0].id, nullptr));
  for (int i = 5; i < 9; ++i) EXPECT_TRUE(remove(uid, es[i].id, nullptr));
  ASSERT_TRUE(update(uid, es[2].id, "changed", nullptr));
  EXPECT_EQ(version(uid), 0);
  ASSERT_EQ(chunks(uid).size(), 3u);

  // Another user's chunk numbers (100) do not count towards this user's next rebuild.
  const int64_t other = make_user("o");
  make_vault(other);
  TestIndexer ox;
  ox.build_first = 100;
  add(other, &ox);
  ASSERT_TRUE(w([&](Repository& r) { return r.rebuild_vault_index(other, ox); }));
  ASSERT_EQ(chunks(other).front().chunk, 100);

  // Another version (5) and numbering (10, 20): both must come from the indexer.
  TestIndexer v5(5, 2);
  v5.build_first = 10;
  v5.build_step = 10;
  auto built = w([&](Repository& r) { return r.rebuild_vault_index(uid, v5); });
  ASSERT_TRUE(built);
  ASSERT_EQ(v5.build_calls.size(), 1u);
  expect_same(v5.build_calls[0], entries(uid));  // every entry of the user, id order
  EXPECT_EQ(v5.build_first_chunks[0], 4) << "one above chunks 1-3";
  ASSERT_EQ(built->size(), 2u);
  EXPECT_EQ((*built)[0].chunk, 10);
  EXPECT_EQ((*built)[1].chunk, 20);
  expect_same(chunks(uid), *built);  // the stale chunks 1, 2, 3 are gone
  EXPECT_EQ(version(uid), 5);
  EXPECT_EQ(layout(uid)[10], (Items{{es[1].id, ct(es[1].id)}, {es[2].id, "changed"}}));
  EXPECT_EQ(layout(uid)[20], (Items{{es[3].id, ct(es[3].id)}, {es[4].id, ct(es[4].id)}}));
  expect_index_matches_entries(uid);

  // The entries now name the new chunks: writes through v5 edit the right ones.
  ASSERT_TRUE(update(uid, es[1].id, "n1", &v5));
  EXPECT_EQ(v5.update_calls.back().c.chunk, 10);
  ASSERT_TRUE(update(uid, es[4].id, "n4", &v5));
  EXPECT_EQ(v5.update_calls.back().c.chunk, 20);
  EXPECT_TRUE(remove(uid, es[3].id, &v5));
  EXPECT_EQ(v5.remove_calls.back().second.chunk, 20);
  const auto e = add(uid, &v5);
  EXPECT_EQ(v5.add_calls.back().last->chunk, 20);
  EXPECT_EQ(version(uid), 5);
  EXPECT_TRUE(v5.errors.empty()) << v5.errors.front();
  expect_index_matches_entries(uid);
  EXPECT_EQ(layout(uid)[20].count(e.id), 1u);

  // Rebuilding an index that is current replaces it all the same.
  TestIndexer v1;
  auto again = w([&](Repository& r) { return r.rebuild_vault_index(uid, v1); });
  ASSERT_TRUE(again);
  expect_same(chunks(uid), *again);
  EXPECT_EQ(v1.build_first_chunks.at(0), 21) << "one above chunks 10 and 20";
  EXPECT_EQ(again->front().chunk, 21);
  EXPECT_EQ(version(uid), 1);
  expect_index_matches_entries(uid);
}

TEST_P(VaultIndexTest, RebuildOfAnEmptyVaultRemovesEveryChunk) {
  const int64_t uid = make_user("u");
  make_vault(uid, 0);
  TestIndexer ix;
  ASSERT_TRUE(w([&](Repository& r) { return r.rebuild_vault_index(uid, ix); }));
  const auto e = add(uid, &ix);
  EXPECT_EQ(chunks(uid).size(), 1u);
  EXPECT_TRUE(remove(uid, e.id, nullptr));  // dropped; the chunk row stays, stale
  EXPECT_EQ(chunks(uid).size(), 1u);
  auto built = w([&](Repository& r) { return r.rebuild_vault_index(uid, ix); });
  ASSERT_TRUE(built);
  EXPECT_TRUE(built->empty());
  EXPECT_TRUE(chunks(uid).empty());
  EXPECT_EQ(version(uid), 1);
  ASSERT_EQ(ix.build_calls.size(), 2u);
  EXPECT_TRUE(ix.build_calls[1].empty());
}

TEST_P(VaultIndexTest, RebuildWithoutAVaultIsNulloptAndWritesNothing) {
  const int64_t uid = make_user("u");
  TestIndexer ix;
  // Entries without a vault_keys row (the storage allows it): still no vault.
  add(uid, &ix);
  EXPECT_EQ(ix.calls(), 0u);
  EXPECT_FALSE(w([&](Repository& r) { return r.rebuild_vault_index(uid, ix); }));
  EXPECT_TRUE(ix.build_calls.empty());
  EXPECT_TRUE(chunks(uid).empty());
  EXPECT_FALSE(r([&](Repository& r) { return r.get_vault_key(uid); }));
  EXPECT_FALSE(w([&](Repository& r) { return r.rebuild_vault_index(999999, ix); }));
  EXPECT_TRUE(ix.build_calls.empty());
}

TEST_P(VaultIndexTest, RebuildThatCannotBuildOrThrowsChangesNothing) {
  const int64_t uid = make_user("u");
  make_vault(uid);
  TestIndexer ix;
  std::vector<VaultEntry> es;
  for (int i = 0; i < 5; ++i) es.push_back(add(uid, &ix));
  EXPECT_TRUE(remove(uid, es[0].id, nullptr));  // version 0, chunks stale
  const auto before = chunks(uid);
  ASSERT_EQ(before.size(), 2u);

  ix.build_mode = Mode::none;
  EXPECT_FALSE(w([&](Repository& r) { return r.rebuild_vault_index(uid, ix); }));
  expect_same(chunks(uid), before);
  EXPECT_EQ(version(uid), 0);

  ix.build_mode = Mode::boom;
  EXPECT_THROW(w([&](Repository& r) { return r.rebuild_vault_index(uid, ix); }), Boom);
  expect_same(chunks(uid), before);
  EXPECT_EQ(version(uid), 0);

  // A build that breaks the contract (entries missing, twice, out of order, chunks out of
  // order or empty) is a bug: thrown, rolled back.
  ix.build_mode = Mode::ok;
  using Built = VaultIndexer::Built;
  const std::vector<std::pair<const char*, std::function<void(std::vector<Built>&)>>> bad = {
      {"entry left out", [](auto& b) { b.back().ids.pop_back(); }},
      {"entry twice", [](auto& b) { b.back().ids.push_back(b.back().ids.back()); }},
      {"ids out of order", [](auto& b) { std::swap(b[0].ids[0], b[0].ids[1]); }},
      {"chunks out of order", [](auto& b) { std::swap(b[0].chunk.chunk, b[1].chunk.chunk); }},
      {"same chunk twice", [](auto& b) { b[1].chunk.chunk = b[0].chunk.chunk; }},
      {"chunk number 0", [](auto& b) { b[0].chunk.chunk = 0; }},
      {"empty chunk",
       [](auto& b) {
         b.push_back({{b.back().chunk.chunk + 1, "x"}, {}});
       }},
      {"no chunks", [](auto& b) { b.clear(); }},
  };
  for (const auto& [what, tamper] : bad) {
    SCOPED_TRACE(what);
    ix.build_tamper = tamper;
    EXPECT_ANY_THROW(w([&](Repository& r) { return r.rebuild_vault_index(uid, ix); }));
    expect_same(chunks(uid), before);
    EXPECT_EQ(version(uid), 0);
  }
  ix.build_tamper = nullptr;
  ASSERT_TRUE(w([&](Repository& r) { return r.rebuild_vault_index(uid, ix); }));
  EXPECT_EQ(version(uid), 1);
  expect_index_matches_entries(uid);
}

// --- reads, ownership, cascade
// --------------------------------------------------------------------

TEST_P(VaultIndexTest, ReadBatchReturnsOnlyThisUsersChunksInChunkOrder) {
  const int64_t a = make_user("a"), b = make_user("b");
  make_vault(a);
  make_vault(b);
  TestIndexer ia, ib;
  std::vector<VaultEntry> ea, eb;
  for (int i = 0; i < 8; ++i) {  // interleaved: the users' rows mixed in every table
    ea.push_back(add(a, &ia));
    eb.push_back(add(b, &ib));
  }
  eb.push_back(add(b, &ib));
  // Rewrite chunk 1 last (PostgreSQL moves the updated row to the end of the heap).
  ASSERT_TRUE(update(a, ea[0].id, "rewritten", &ia));
  ASSERT_TRUE(update(b, eb[0].id, "rewritten-b", &ib));
  for (auto [uid, n] : {std::pair{a, 3u}, std::pair{b, 3u}}) {
    ReadBatch rb;
    rb.want.user_id = uid;
    rb.want.vault_index = true;
    rb.want.vault_key = true;
    r([&](Repository& r) { r.read_batch(rb); });
    ASSERT_EQ(rb.vault_index.size(), n);
    expect_same(rb.vault_index, chunks(uid));
    for (std::size_t i = 0; i < rb.vault_index.size(); ++i)
      EXPECT_EQ(rb.vault_index[i].chunk, static_cast<int64_t>(i) + 1);
    for (const auto& c : rb.vault_index)
      for (const auto& [id, cipher] : parse(c.ciphertext))
        EXPECT_TRUE(r([&](Repository& r) { return r.get_vault_entry(uid, id); }))
            << "entry " << id << " of another user";
    ASSERT_TRUE(rb.vault_key);
    EXPECT_EQ(rb.vault_key->index_version, 1);
    EXPECT_TRUE(rb.vault_entries.empty());
  }
  EXPECT_EQ(layout(a)[1][ea[0].id], "rewritten");
  EXPECT_EQ(layout(b)[1][eb[0].id], "rewritten-b");
  // A user with nothing: empty.
  const int64_t c = make_user("c");
  ReadBatch rb;
  rb.want.user_id = c;
  rb.want.vault_index = true;
  r([&](Repository& r) { r.read_batch(rb); });
  EXPECT_TRUE(rb.vault_index.empty());
  EXPECT_TRUE(ia.errors.empty() && ib.errors.empty());
}

TEST_P(VaultIndexTest, TheIndexIsReadAPartAtATime) {
  const int64_t a = make_user("a"), b = make_user("b");
  make_vault(a);
  make_vault(b);
  TestIndexer ia(1, 1), ib(1, 1);  // one entry a chunk
  const int64_t n = kIndexChunksPerRead + 5;
  for (int64_t i = 0; i < n; ++i) {
    add(a, &ia);
    add(b, &ib);
  }
  ASSERT_EQ(static_cast<int64_t>(chunks(a).size()), n);
  // The read batch (the gate's) holds the first part only.
  ReadBatch rb;
  rb.want.user_id = a;
  rb.want.vault_index = true;
  r([&](Repository& r) { r.read_batch(rb); });
  ASSERT_EQ(static_cast<int64_t>(rb.vault_index.size()), kIndexChunksPerRead);
  EXPECT_EQ(rb.vault_index.front().chunk, 1);
  EXPECT_EQ(rb.vault_index.back().chunk, kIndexChunksPerRead);
  // The same next to the session and single-row parts (PostgreSQL joins those into one
  // statement: the index must stay out of it, or its LIMIT would be lost).
  ReadBatch with;
  with.want.session = make_session(a, "sid-a").id;
  with.want.user_id = a;
  with.want.user = with.want.vault_key = with.want.vault_index = true;
  r([&](Repository& r) { r.read_batch(with); });
  ASSERT_TRUE(with.session && with.user && with.vault_key);
  ASSERT_EQ(static_cast<int64_t>(with.vault_index.size()), kIndexChunksPerRead);
  EXPECT_EQ(with.vault_index.back().chunk, kIndexChunksPerRead);
  // The rest: numbered above the last one read, at most limit of them, only the user's own.
  const auto part = [&](int64_t uid, int64_t after, int64_t limit) {
    std::vector<int64_t> numbers;
    for (const auto& c : r([&](Repository& r) { return r.list_vault_index(uid, after, limit); }))
      numbers.push_back(c.chunk);
    return numbers;
  };
  std::vector<int64_t> rest;
  for (int64_t c = kIndexChunksPerRead + 1; c <= n; ++c) rest.push_back(c);
  EXPECT_EQ(part(a, kIndexChunksPerRead, kIndexChunksPerRead), rest);
  EXPECT_EQ(part(a, 3, 2), (std::vector<int64_t>{4, 5}));
  EXPECT_TRUE(part(a, n, kIndexChunksPerRead).empty());
  for (const auto& c : r([&](Repository& r) { return r.list_vault_index(a, 0, 1 << 20); }))
    for (const auto& [id, cipher] : parse(c.ciphertext))
      EXPECT_TRUE(r([&](Repository& r) { return r.get_vault_entry(a, id); }))
          << "entry " << id << " of another user";
  EXPECT_TRUE(ia.errors.empty() && ib.errors.empty());
}

TEST_P(VaultIndexTest, DeleteUserRemovesTheirChunks) {
  const int64_t gone = make_user("gone"), keep = make_user("keep");
  make_vault(gone);
  make_vault(keep);
  TestIndexer ig, ik;
  for (int i = 0; i < 4; ++i) {
    add(gone, &ig);
    add(keep, &ik);
  }
  const auto kept = chunks(keep);
  ASSERT_EQ(chunks(gone).size(), 2u);
  EXPECT_TRUE(w([&](Repository& r) { return r.delete_user(gone); }));
  EXPECT_TRUE(chunks(gone).empty());
  expect_same(chunks(keep), kept);
  EXPECT_EQ(version(keep), 1);
}

TEST_P(VaultIndexTest, WritesToAnotherUsersEntryTouchNoChunk) {
  const int64_t a = make_user("a"), b = make_user("b");
  make_vault(a);
  make_vault(b);
  TestIndexer ia, ib;
  const auto a1 = add(a, &ia);
  const auto b1 = add(b, &ib);
  const auto b2 = add(b, &ib);
  const auto ca = chunks(a), cb = chunks(b);
  const auto eb = entries(b);
  EXPECT_FALSE(update(a, b1.id, "stolen", &ia));
  EXPECT_FALSE(remove(a, b2.id, &ia));
  EXPECT_FALSE(update(a, b1.id, "stolen", nullptr));  // not even the index is dropped
  EXPECT_FALSE(remove(a, b2.id, nullptr));
  EXPECT_EQ(ia.update_calls.size(), 0u);
  EXPECT_EQ(ia.remove_calls.size(), 0u);
  EXPECT_EQ(ib.calls(), 2u);  // its own two adds
  expect_same(chunks(a), ca);
  expect_same(chunks(b), cb);
  expect_same(entries(b), eb);
  EXPECT_EQ(version(a), 1);
  EXPECT_EQ(version(b), 1);
  (void)a1;
}

// --- concurrency
// ----------------------------------------------------------------------------------

TEST_P(VaultIndexTest, ConcurrentWritesKeepEveryEntryInExactlyOneChunk) {
  const int64_t uid = make_user("u");
  const int64_t other = make_user("o");
  make_vault(uid);
  make_vault(other);
  constexpr int kThreads = 6, kOps = 30;
  std::vector<int64_t> seeded;
  {
    TestIndexer ix(1, 4);
    for (int i = 0; i < 10; ++i) seeded.push_back(add(uid, &ix).id);
    add(other, &ix);
  }
  const auto other_chunks = chunks(other);
  std::atomic<int> failures{0};
  std::vector<std::vector<std::string>> errors(kThreads);
  std::vector<std::thread> ts;
  std::atomic<bool> go{false};
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      TestIndexer ix(1, 4);  // one per thread, as one per request
      std::mt19937 rng(1000 + t);
      std::vector<int64_t> ids = seeded;  // what this thread has seen
      try {
        for (int i = 0; i < kOps; ++i) {
          const int op = static_cast<int>(rng() % 3);
          if (op == 0 || ids.empty()) {
            st_->run_sync(Access::write, [&](Repository& r) {
              auto e = r.add_vault_entry(
                  uid, 10, 10000, [](int64_t id) { return ct(id); }, &ix);
              if (e) ids.push_back(e->id);
            });
          } else {
            const int64_t id = ids[rng() % ids.size()];
            if (op == 1) {
              const std::string c = "t" + std::to_string(t) + "i" + std::to_string(i);
              st_->run_sync(Access::write,
                            [&](Repository& r) { r.update_vault_entry(uid, id, c, 20, &ix); });
            } else {
              st_->run_sync(Access::write,
                            [&](Repository& r) { r.delete_vault_entry(uid, id, &ix); });
            }
          }
        }
      } catch (const std::exception&) {
        ++failures;
      }
      errors[t] = ix.errors;
    });
  }
  go = true;
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t)
    for (const auto& e : errors[t]) ADD_FAILURE() << "thread " << t << ": " << e;
  EXPECT_EQ(version(uid), 1);  // no write found the index inconsistent
  expect_index_matches_entries(uid);
  EXPECT_FALSE(entries(uid).empty());
  expect_same(chunks(other), other_chunks);
}

INSTANTIATE_TEST_SUITE_P(Backends, VaultIndexTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql), backend_name);

}  // namespace
}  // namespace sr::storage::test
