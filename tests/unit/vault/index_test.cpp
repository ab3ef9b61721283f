// The vault list index: the chunk plaintext codec (vault/index.hpp) and the chunk sealing
// (vault/crypto.hpp: seal_index_chunk and friends). The codec must refuse every malformed
// plaintext without reading out of bounds; whatever it accepts must describe the bytes exactly
// (encoding the parsed items gives the same plaintext back).
#include "vault/index.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "vault/crypto.hpp"

namespace sr::vault {
namespace {

std::string be(uint64_t v, int n) {
  std::string out(static_cast<std::size_t>(n), '\0');
  for (int k = n - 1; k >= 0; --k, v >>= 8)
    out[static_cast<std::size_t>(k)] = static_cast<char>(v & 0xFF);
  return out;
}

// A plaintext built by hand: region, then (id, length) rows, then count.
std::string raw(std::string_view region, const std::vector<std::pair<uint64_t, uint64_t>>& rows,
                uint64_t count) {
  std::string out(region);
  for (const auto& [id, len] : rows) out += be(id, 8) + be(len, 4);
  out += be(count, 4);
  return out;
}

std::string encode(const std::vector<IndexItem>& items) {
  return std::string(encode_index_chunk(items).view());
}

struct Owned {
  int64_t id;
  std::string json;
};

std::vector<IndexItem> views(const std::vector<Owned>& v) {
  std::vector<IndexItem> out;
  for (const auto& o : v) out.push_back({o.id, o.json});
  return out;
}

std::vector<Owned> sample() {
  return {
      {3, R"({"id":3,"domain":"a.example","notes":"x, y, z"})"},
      {7, R"({"id":7,"domain":"quote\"d","notes":"back\\slash"})"},
      {8, R"({"id":8,"domain":"comma,at,end,","url":null})"},
      {1000000000000, R"({"id":1000000000000,"notes":"PLAINTEXT-MARKER-omega \u00e9"})"},
  };
}

// Whatever parse accepted must describe plain exactly: the region is its prefix, every item lies
// inside the region, ids ascend and are positive, items are non-empty, and re-encoding the items
// reproduces plain byte for byte.
void expect_consistent(std::string_view plain, const ChunkView& v) {
  ASSERT_LE(v.region.size(), plain.size());
  EXPECT_EQ(v.region.data(), plain.data());
  int64_t prev = 0;
  const char* lo = plain.data();
  const char* hi = plain.data() + v.region.size();
  for (const auto& it : v.items) {
    EXPECT_GT(it.id, prev);
    prev = it.id;
    ASSERT_FALSE(it.json.empty());
    ASSERT_GE(it.json.data(), lo);
    ASSERT_LE(it.json.data() + it.json.size(), hi);
  }
  EXPECT_EQ(v.region.size() + v.items.size() * 12 + 4, plain.size());
  EXPECT_EQ(encode(v.items), plain);
}

// nullopt, or a consistent view. Returns whether it was accepted.
bool check(std::string_view plain) {
  // A copy with nothing around it, so that a read past the end is a read outside the buffer
  // (caught by ASan in `make asan-test`).
  std::vector<char> exact(plain.begin(), plain.end());
  const std::string_view p(exact.data(), exact.size());
  auto v = parse_index_chunk(p);
  if (!v) return false;
  expect_consistent(p, *v);
  return true;
}

// --- codec ---------------------------------------------------------------------------------------

TEST(VaultIndexCodec, RoundTripOneItem) {
  const std::vector<Owned> one = {{42, R"({"id":42})"}};
  const std::string plain = encode(views(one));
  EXPECT_EQ(plain, raw(R"({"id":42})", {{42, 9}}, 1));
  auto v = parse_index_chunk(plain);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->region, R"({"id":42})");
  ASSERT_EQ(v->items.size(), 1u);
  EXPECT_EQ(v->items[0].id, 42);
  EXPECT_EQ(v->items[0].json, R"({"id":42})");
  expect_consistent(plain, *v);
}

TEST(VaultIndexCodec, RoundTripManyItemsWithCommasQuotesAndEscapesInside) {
  const auto items = sample();
  const std::string plain = encode(views(items));
  std::string region;
  for (std::size_t i = 0; i < items.size(); ++i) region += (i ? "," : "") + items[i].json;
  EXPECT_EQ(plain.substr(0, region.size()), region);  // the region first, as the list uses it
  auto v = parse_index_chunk(plain);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->region, region);
  ASSERT_EQ(v->items.size(), items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(v->items[i].id, items[i].id);
    EXPECT_EQ(v->items[i].json, items[i].json);  // the commas inside did not split anything
  }
  expect_consistent(plain, *v);

  // 256 items, binary-looking bodies, the largest ids.
  std::vector<Owned> many;
  for (int i = 0; i < 256; ++i)
    many.push_back({INT64_MAX - 255 + i, std::string("{\0,\xff\",", 6) + std::to_string(i) + "}"});
  const std::string big = encode(views(many));
  auto w = parse_index_chunk(big);
  ASSERT_TRUE(w);
  ASSERT_EQ(w->items.size(), 256u);
  for (int i = 0; i < 256; ++i) {
    EXPECT_EQ(w->items[i].id, many[i].id);
    EXPECT_EQ(w->items[i].json, many[i].json);
  }
  expect_consistent(big, *w);
}

TEST(VaultIndexCodec, EmptyChunk) {
  const std::string plain = encode({});
  EXPECT_EQ(plain, std::string(4, '\0'));
  auto v = parse_index_chunk(plain);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->items.empty());
  EXPECT_TRUE(v->region.empty());
  EXPECT_FALSE(parse_index_chunk(std::string("x") + std::string(4, '\0')));  // stray region byte
}

TEST(VaultIndexCodec, EveryTruncationRefusedOrConsistent) {
  const std::string plain = encode(views(sample()));
  int accepted = 0;
  for (std::size_t n = 0; n < plain.size(); ++n) accepted += check(plain.substr(0, n));
  // Every prefix starts with '{': no prefix can be the empty chunk, and none of these happens to
  // add up to a chunk.
  EXPECT_EQ(accepted, 0);
  for (std::size_t n = 0; n < 4; ++n) EXPECT_FALSE(parse_index_chunk(plain.substr(0, n)));
  // Dropping bytes from the front (the region) shifts everything: refused.
  for (std::size_t n = 1; n < plain.size(); ++n) EXPECT_FALSE(check(plain.substr(n))) << n;
}

TEST(VaultIndexCodec, EverySingleByteChangeRefusedOrConsistent) {
  const auto items = sample();
  const std::string plain = encode(views(items));
  std::size_t region = items.size() - 1;
  for (const auto& it : items) region += it.json.size();
  const std::size_t table = region, count_at = plain.size() - 4;
  for (std::size_t i = 0; i < plain.size(); ++i) {
    for (int x : {0x01, 0x80, 0xFF}) {
      std::string t = plain;
      t[i] = static_cast<char>(t[i] ^ x);
      const bool ok = check(t);
      if (i >= table && i < count_at) {
        const std::size_t in_row = (i - table) % 12;
        // A length byte: the lengths no longer add up to the region.
        if (in_row >= 8) {
          EXPECT_FALSE(ok) << "length byte " << i << " ^ " << x;
        }
      } else if (i >= count_at) {
        EXPECT_FALSE(ok) << "count byte " << i << " ^ " << x;
      }
    }
  }
  // Each separator comma specifically.
  std::size_t at = 0;
  for (std::size_t k = 0; k + 1 < items.size(); ++k) {
    at += items[k].json.size();
    std::string t = plain;
    ASSERT_EQ(t[at], ',');
    t[at] = ';';
    EXPECT_FALSE(check(t)) << "separator " << k;
    ++at;
  }
}

TEST(VaultIndexCodec, RandomMutationsNeverReadOutOfBounds) {
  std::mt19937_64 rng(20240613);
  const std::string plain = encode(views(sample()));
  for (int round = 0; round < 20000; ++round) {
    std::string t = plain;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 4) {
        case 0:
          t[rng() % t.size()] = static_cast<char>(rng());
          break;
        case 1:
          t.erase(rng() % t.size(), 1 + rng() % 3);
          break;
        case 2:
          t.insert(rng() % (t.size() + 1), 1, static_cast<char>(rng()));
          break;
        default:  // a plausible count near the end
          if (t.size() >= 4) t.replace(t.size() - 4, 4, be(rng() % 8, 4));
      }
      if (t.empty()) t = "x";
    }
    check(t);
  }
  for (int round = 0; round < 5000; ++round) {
    std::string t(rng() % 64, '\0');
    for (auto& c : t) c = static_cast<char>(rng() % 3 == 0 ? 0 : rng());
    check(t);
  }
}

TEST(VaultIndexCodec, CountTooLarge) {
  const std::string plain = encode(views(sample()));
  for (uint64_t c :
       {uint64_t{5}, uint64_t{6}, uint64_t{1000}, uint64_t{0x7FFFFFFF}, uint64_t{0xFFFFFFFF}}) {
    std::string t = plain;
    t.replace(t.size() - 4, 4, be(c, 4));
    EXPECT_FALSE(check(t)) << c;
  }
  // More rows than fit in the bytes there are.
  EXPECT_FALSE(parse_index_chunk(raw("", {}, 1)));
  EXPECT_FALSE(parse_index_chunk(raw("", {{1, 1}}, 2)));
  EXPECT_FALSE(parse_index_chunk(be(0xFFFFFFFF, 4)));
  EXPECT_FALSE(parse_index_chunk(std::string(11, 'x') + be(1, 4)));  // 11 < one row
}

TEST(VaultIndexCodec, LengthsThatDoNotAddUp) {
  EXPECT_TRUE(check(raw("ab,cd", {{1, 2}, {2, 2}}, 2)));
  EXPECT_FALSE(check(raw("ab,cd", {{1, 2}, {2, 1}}, 2)));           // short of the region
  EXPECT_FALSE(check(raw("ab,cd", {{1, 2}, {2, 3}}, 2)));           // past the region
  EXPECT_FALSE(check(raw("ab,cd", {{1, 5}, {2, 2}}, 2)));           // first eats everything
  EXPECT_FALSE(check(raw("ab,cd", {{1, 0xFFFFFFFF}, {2, 2}}, 2)));  // huge
  EXPECT_FALSE(check(raw("ab,cd", {{1, 3}, {2, 1}}, 2)));           // sums right, comma wrong
  EXPECT_FALSE(check(raw("abcd", {{1, 2}, {2, 2}}, 2)));            // missing comma
  EXPECT_FALSE(check(raw("ab;cd", {{1, 2}, {2, 2}}, 2)));           // not a comma
  EXPECT_TRUE(check(raw("ab,,cd", {{1, 2}, {2, 3}}, 2)));           // ",cd" is a body
  EXPECT_FALSE(check(raw("ab,", {{1, 2}, {2, 0}}, 2)));             // zero-length item
  EXPECT_FALSE(check(raw("", {{1, 0}}, 1)));                        // zero-length only item
  EXPECT_FALSE(check(raw("ab", {{1, 1}}, 1)));                      // trailing region byte
  EXPECT_FALSE(check(raw("ab,cd", {{1, 2}}, 1)));                   // unclaimed region
}

TEST(VaultIndexCodec, IdsMustBePositiveAndStrictlyAscending) {
  EXPECT_TRUE(check(raw("a,b,c", {{1, 1}, {2, 1}, {9, 1}}, 3)));
  EXPECT_FALSE(check(raw("a,b,c", {{1, 1}, {2, 1}, {2, 1}}, 3)));  // equal
  EXPECT_FALSE(check(raw("a,b,c", {{1, 1}, {3, 1}, {2, 1}}, 3)));  // descending
  EXPECT_FALSE(check(raw("a,b", {{5, 1}, {1, 1}}, 2)));
  EXPECT_FALSE(check(raw("a", {{0, 1}}, 1)));                              // zero
  EXPECT_FALSE(check(raw("a", {{0x8000000000000000u, 1}}, 1)));            // negative
  EXPECT_FALSE(check(raw("a", {{0xFFFFFFFFFFFFFFFFu, 1}}, 1)));            // -1
  EXPECT_FALSE(check(raw("a,b", {{0xFFFFFFFFFFFFFFFFu, 1}, {1, 1}}, 2)));  // -1 then 1
  EXPECT_TRUE(check(raw("a", {{0x7FFFFFFFFFFFFFFFu, 1}}, 1)));             // INT64_MAX
}

TEST(VaultIndexCodec, EncodeRefusesBadInput) {
  auto enc = [](std::vector<IndexItem> v) { return encode_index_chunk(v); };
  EXPECT_THROW(enc({{2, "a"}, {1, "b"}}), std::invalid_argument);
  EXPECT_THROW(enc({{2, "a"}, {2, "b"}}), std::invalid_argument);
  EXPECT_THROW(enc({{0, "a"}}), std::invalid_argument);
  EXPECT_THROW(enc({{-5, "a"}}), std::invalid_argument);
  EXPECT_THROW(enc({{1, ""}}), std::invalid_argument);
  EXPECT_THROW(enc({{1, "a"}, {2, ""}}), std::invalid_argument);
  EXPECT_NO_THROW(enc({{1, "a"}, {2, "b"}}));
}

TEST(VaultIndexCodec, ChunkFullBounds) {
  std::vector<Owned> items;
  for (int i = 1; i <= 255; ++i) items.push_back({i, "{}"});
  EXPECT_FALSE(chunk_full(views(items)));
  items.push_back({256, "{}"});
  EXPECT_TRUE(chunk_full(views(items)));
  items.push_back({257, "{}"});
  EXPECT_TRUE(chunk_full(views(items)));
  EXPECT_FALSE(chunk_full({}));

  // Region bytes: items plus the commas between them.
  const std::size_t K = kChunkMaxBytes;
  EXPECT_EQ(K, 32768u);
  EXPECT_FALSE(chunk_full(views({{1, std::string(K - 1, 'x')}})));
  EXPECT_TRUE(chunk_full(views({{1, std::string(K, 'x')}})));
  // Four items of 8191 bytes and three commas = 32767; one byte more reaches the bound.
  std::vector<Owned> four;
  for (int i = 1; i <= 4; ++i) four.push_back({i, std::string(8191, 'x')});
  EXPECT_FALSE(chunk_full(views(four)));
  four.back().json += 'x';
  EXPECT_TRUE(chunk_full(views(four)));
  // Two items whose bodies sum to K - 1: the comma makes K.
  EXPECT_TRUE(chunk_full(views({{1, std::string(K / 2, 'x')}, {2, std::string(K / 2 - 1, 'x')}})));
  EXPECT_FALSE(chunk_full(views({{1, std::string(K / 2, 'x')}, {2, std::string(K / 2 - 2, 'x')}})));
}

// --- sealing
// ---------------------------------------------------------------------------------------

std::string flip(std::string s, std::size_t i, int x = 0x01) {
  s[i] = static_cast<char>(s[i] ^ x);
  return s;
}

const char* const kMarkers[] = {"PLAINTEXT-MARKER-alpha", "PLAINTEXT-MARKER-beta"};

std::string marked_plain() {
  const std::vector<Owned> items = {
      {5, std::string(R"({"id":5,"domain":")") + kMarkers[0] + "\"}"},
      {9, std::string(R"({"id":9,"notes":")") + kMarkers[1] + "\"}"},
  };
  return encode(views(items));
}

bool contains_marker(std::string_view buf) {
  for (const char* m : kMarkers)
    if (buf.find(m) != std::string_view::npos) return true;
  return false;
}

TEST(VaultIndexSeal, RoundTrip) {
  const auto key = new_data_key();
  const std::string plain = marked_plain();
  const auto blob = seal_index_chunk(key, 7, 3, plain);
  EXPECT_EQ(blob.size(), 1u + 24 + plain.size() + 16);
  EXPECT_EQ(blob[0], '\x01');
  EXPECT_FALSE(contains_marker(blob));
  auto out = open_index_chunk(key, 7, 3, blob);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->view() == plain);
  ASSERT_EQ(index_chunk_plaintext_size(blob), plain.size());
  std::string into(plain.size(), '#');
  ASSERT_TRUE(open_index_chunk_into(key, 7, 3, blob, into.data()));
  EXPECT_EQ(into, plain);
  EXPECT_NE(seal_index_chunk(key, 7, 3, plain), blob);  // random nonce
  // The empty chunk seals and opens too.
  const auto empty = seal_index_chunk(key, 7, 1, encode({}));
  ASSERT_TRUE(open_index_chunk(key, 7, 1, empty));
  EXPECT_THROW(seal_index_chunk(SecretBytes(16), 7, 1, plain), std::invalid_argument);
}

TEST(VaultIndexSeal, EveryByteFlippedRefusedAndNoPlaintextInTheOutputBuffer) {
  const auto key = new_data_key();
  const std::string plain = marked_plain();
  const auto blob = seal_index_chunk(key, 7, 3, plain);
  for (std::size_t i = 0; i < blob.size(); ++i) {
    for (int x : {0x01, 0x80}) {
      const auto t = flip(blob, i, x);
      EXPECT_FALSE(open_index_chunk(key, 7, 3, t)) << "byte " << i;
      std::string out(plain.size(), '#');
      EXPECT_FALSE(open_index_chunk_into(key, 7, 3, t, out.data())) << "byte " << i;
      EXPECT_FALSE(contains_marker(out)) << "byte " << i;
    }
  }
  EXPECT_FALSE(open_index_chunk(key, 7, 3, blob.substr(0, blob.size() - 1)));
  EXPECT_FALSE(open_index_chunk(key, 7, 3, blob + "x"));
  EXPECT_FALSE(open_index_chunk(key, 7, 3, ""));
  EXPECT_FALSE(open_index_chunk(key, 7, 3, blob.substr(0, 40)));
  EXPECT_FALSE(open_index_chunk(key, 7, 3, blob.substr(0, 41)));
  // The _into variant on blobs shorter than a header and a tag: refused, nothing written.
  std::string out(plain.size(), '#');
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{25}, std::size_t{40}}) {
    EXPECT_FALSE(open_index_chunk_into(key, 7, 3, blob.substr(0, n), out.data())) << n;
    EXPECT_EQ(out, std::string(plain.size(), '#')) << n;
  }
}

TEST(VaultIndexSeal, AssociatedDataBindsUserAndChunk) {
  const auto key = new_data_key();
  const std::string plain = marked_plain();
  const auto blob = seal_index_chunk(key, 7, 3, plain);
  struct Case {
    const SecretBytes* k;
    int64_t user, chunk;
  };
  const auto other_key = new_data_key();
  const SecretBytes short_key(16);
  for (const Case& c :
       {Case{&key, 8, 3}, Case{&key, 7, 4}, Case{&key, 7, 2}, Case{&key, 3, 7}, Case{&key, -7, 3},
        Case{&key, 7, -3}, Case{&key, 7, 0}, Case{&other_key, 7, 3}, Case{&short_key, 7, 3}}) {
    EXPECT_FALSE(open_index_chunk(*c.k, c.user, c.chunk, blob)) << c.user << "/" << c.chunk;
    std::string out(plain.size(), '#');
    EXPECT_FALSE(open_index_chunk_into(*c.k, c.user, c.chunk, blob, out.data()));
    EXPECT_FALSE(contains_marker(out)) << c.user << "/" << c.chunk;
  }
  // Two users' chunk 1 swapped between their rows; chunks 1 and 2 of one user swapped.
  const auto a = seal_index_chunk(key, 1, 1, "a"), b = seal_index_chunk(key, 2, 1, "b");
  EXPECT_FALSE(open_index_chunk(key, 1, 1, b));
  EXPECT_FALSE(open_index_chunk(key, 2, 1, a));
  EXPECT_TRUE(open_index_chunk(key, 1, 1, a));
  EXPECT_TRUE(open_index_chunk(key, 2, 1, b));
  const auto c1 = seal_index_chunk(key, 1, 1, "c1"), c2 = seal_index_chunk(key, 1, 2, "c2");
  EXPECT_FALSE(open_index_chunk(key, 1, 2, c1));
  EXPECT_FALSE(open_index_chunk(key, 1, 1, c2));
  // A large user id and chunk number do not alias small ones.
  const auto big = seal_index_chunk(key, int64_t{1} << 40, int64_t{1} << 33, "x");
  EXPECT_FALSE(open_index_chunk(key, 0, int64_t{1} << 33, big));
  EXPECT_TRUE(open_index_chunk(key, int64_t{1} << 40, int64_t{1} << 33, big));
}

TEST(VaultIndexSeal, EntryAndChunkBlobsAreNotInterchangeable) {
  const auto key = new_data_key();
  const std::string plain = marked_plain();
  for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{1000}}) {
    // Same key, same user, the entry id equal to the chunk number, the same version byte.
    const auto entry = seal_entry(key, 7, n, plain);
    const auto chunk = seal_index_chunk(key, 7, n, plain);
    ASSERT_EQ(entry[0], chunk[0]);
    ASSERT_EQ(entry.size(), chunk.size());
    EXPECT_FALSE(open_index_chunk(key, 7, n, entry)) << n;
    std::string out(plain.size(), '#');
    EXPECT_FALSE(open_index_chunk_into(key, 7, n, entry, out.data())) << n;
    EXPECT_FALSE(contains_marker(out));
    EXPECT_FALSE(open_entry(key, 7, n, chunk)) << n;
    // Each opens as what it is.
    EXPECT_TRUE(open_entry(key, 7, n, entry));
    EXPECT_TRUE(open_index_chunk(key, 7, n, chunk));
  }
}

TEST(VaultIndexSeal, PlaintextSizeOfShortOrForeignBlobs) {
  const auto key = new_data_key();
  const auto blob = seal_index_chunk(key, 7, 3, "twelve bytes");
  EXPECT_EQ(index_chunk_plaintext_size(blob), 12u);
  EXPECT_EQ(index_chunk_plaintext_size(seal_index_chunk(key, 7, 3, "")), 0u);
  EXPECT_FALSE(index_chunk_plaintext_size(""));
  EXPECT_FALSE(index_chunk_plaintext_size("\x01"));
  EXPECT_FALSE(index_chunk_plaintext_size(blob.substr(0, 40)));   // one byte short of header+tag
  EXPECT_EQ(index_chunk_plaintext_size(blob.substr(0, 41)), 0u);  // header+tag: not authentic,
                                                                  // but sized (open refuses it)
  for (unsigned char v : {0x00, 0x02, 0x81, 0xFF}) {
    std::string t = blob;
    t[0] = static_cast<char>(v);
    EXPECT_FALSE(index_chunk_plaintext_size(t)) << int{v};
    EXPECT_FALSE(open_index_chunk(key, 7, 3, t)) << int{v};
  }
}

}  // namespace
}  // namespace sr::vault
