#include "services/entry_indexer.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "vault/crypto.hpp"

namespace sr::services {

vault::Entry decrypt_entry(const SecretBytes& data_key, const storage::VaultEntry& e) {
  auto pt = vault::open_entry(data_key, e.user_id, e.id, e.ciphertext);
  if (!pt) throw std::runtime_error("vault entry failed authentication");  // -> 500, logged
  return vault::decode_entry(pt->view());
}

std::optional<storage::VaultIndexChunk> EntryIndexer::added(
    const storage::VaultEntry& e, const std::optional<storage::VaultIndexChunk>& last) {
  std::string item = vault::list_item(*entry_, meta_of(e));
  WipeOnExit wipe_item(item);
  if (last) {
    auto pt = vault::open_index_chunk(dk_, uid_, last->chunk, last->ciphertext);
    std::optional<vault::ChunkView> v;
    if (pt) v = vault::parse_index_chunk(pt->view());
    // Ids only grow, so the new entry goes last; anything else is not an index we keep.
    if (!v || (!v->items.empty() && v->items.back().id >= e.id)) return reject();
    if (!vault::chunk_full(v->items)) {
      v->items.push_back({e.id, item});
      return storage::VaultIndexChunk{last->chunk, seal(last->chunk, v->items)};
    }
  }
  const int64_t next = last ? last->chunk + 1 : 1;
  const vault::IndexItem one[] = {{e.id, item}};
  return storage::VaultIndexChunk{next, seal(next, one)};
}

std::optional<std::string> EntryIndexer::updated(const storage::VaultEntry& e,
                                                 const storage::VaultIndexChunk& c) {
  std::string item = vault::list_item(*entry_, meta_of(e));
  WipeOnExit wipe_item(item);
  return edit(c, e.id, [&](auto&, auto it) { it->json = item; });
}

std::optional<std::string> EntryIndexer::removed(int64_t id, const storage::VaultIndexChunk& c) {
  return edit(c, id, [](auto& items, auto it) { items.erase(it); });
}

std::optional<std::vector<EntryIndexer::Built>> EntryIndexer::build(
    const std::vector<storage::VaultEntry>& entries, int64_t first_chunk) {
  std::vector<std::string> json;
  WipeOnExit wipe_json(json);
  json.reserve(entries.size());
  for (const auto& e : entries) json.push_back(vault::list_item(decrypt_entry(dk_, e), meta_of(e)));
  std::vector<Built> out;
  std::vector<vault::IndexItem> items;
  auto close = [&] {
    const int64_t no = first_chunk + static_cast<int64_t>(out.size());
    Built b{{no, seal(no, items)}, {}};
    for (const auto& it : items) b.ids.push_back(it.id);
    out.push_back(std::move(b));
    items.clear();
  };
  for (std::size_t i = 0; i < entries.size(); ++i) {
    items.push_back({entries[i].id, json[i]});
    if (vault::chunk_full(items)) close();
  }
  if (!items.empty()) close();
  return out;
}

std::string EntryIndexer::seal(int64_t chunk, std::span<const vault::IndexItem> items) const {
  const SecretBytes pt = vault::encode_index_chunk(items);
  return vault::seal_index_chunk(dk_, uid_, chunk, pt.view());
}

// Opens c, applies f to the item with this id, seals the rest ("" when nothing is left);
// nullopt when c does not open or does not hold id.
template <class F>
std::optional<std::string> EntryIndexer::edit(const storage::VaultIndexChunk& c, int64_t id, F f) {
  auto pt = vault::open_index_chunk(dk_, uid_, c.chunk, c.ciphertext);
  std::optional<vault::ChunkView> v;
  if (pt) v = vault::parse_index_chunk(pt->view());
  if (!v) return reject();
  auto& items = v->items;
  auto it = std::lower_bound(items.begin(), items.end(), id,
                             [](const vault::IndexItem& x, int64_t want) { return x.id < want; });
  if (it == items.end() || it->id != id) return reject();
  f(items, it);
  if (items.empty()) return std::string();
  return seal(c.chunk, items);
}

bool open_chunks_into(std::string& body, const SecretBytes& dk, int64_t uid,
                      const std::vector<storage::VaultIndexChunk>& chunks, int64_t& last_id,
                      bool resync) {
  const std::size_t start = body.size();
  std::size_t room = chunks.size();
  for (const auto& c : chunks) {
    auto n = vault::index_chunk_plaintext_size(c.ciphertext);
    if (!n) return false;
    room += *n;
  }
  // On a failure everything appended (plaintext included) is zeroed and cut off again.
  auto fail = [&] {
    sodium_memzero(body.data() + start, body.size() - start);
    body.resize(start);
    return false;
  };
  body.resize(start + room);
  std::size_t at = start;
  int64_t last = last_id;  // the last item in the body
  int64_t prev = 0;        // the last item of the previous chunk of this read, kept or not
  bool kept = false;       // an item of this read is in the body
  for (const auto& c : chunks) {
    const std::size_t sep = last != 0 ? 1 : 0;  // the ',' before this chunk's items
    char* out = body.data() + at + sep;
    if (!vault::open_index_chunk_into(dk, uid, c.chunk, c.ciphertext, out)) return fail();
    auto v = vault::parse_index_chunk({out, *vault::index_chunk_plaintext_size(c.ciphertext)});
    if (!v || v->items.empty()) return fail();
    // One read is one snapshot of one index: its chunks ascend whatever happened before it.
    if (v->items.front().id <= prev) return fail();
    prev = v->items.back().id;
    std::string_view keep = v->region;
    if (v->items.front().id <= last) {
      // A rebuilt index is read from its beginning: what was sent is skipped, up to the first
      // item not sent. Anywhere else ids that do not go on are damage, as without resync.
      if (!resync || kept) return fail();
      auto it = std::find_if(v->items.begin(), v->items.end(),
                             [&](const vault::IndexItem& i) { return i.id > last; });
      if (it == v->items.end()) continue;  // all sent already (zeroed below, or overwritten)
      keep = std::string_view(
          it->json.data(),
          static_cast<std::size_t>(v->region.data() + v->region.size() - it->json.data()));
    }
    kept = true;
    if (sep) body[at] = ',';
    if (keep.data() != body.data() + at + sep)
      std::memmove(body.data() + at + sep, keep.data(), keep.size());
    last = v->items.back().id;
    at += sep + keep.size();  // the next chunk overwrites this one's table
  }
  // The last table (ids and lengths), and what resync left behind.
  sodium_memzero(body.data() + at, body.size() - at);
  body.resize(at);
  last_id = last;
  return true;
}

}  // namespace sr::services
