// A vault entry's fields (SPEC 7) and the forms they take: the entry plaintext that seal_entry
// encrypts (a JSON object of the present fields), and the entry as the API shows it. The list
// item -- the entry as GET /vault/entries shows it, without the secret -- is also what the list
// index keeps (vault/index.hpp): its shape is part of the index format, so a change to what the
// list shows needs a new kIndexVersion (old chunks are then rebuilt, never served).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "json/json.hpp"
#include "util/secret.hpp"

namespace sr::vault {

// Every field is encrypted at rest, so every field is treated as secret: wiped when destroyed,
// never copied.
struct Entry {
  std::string domain, account_name, pin_or_password;
  std::optional<std::string> url, notes;

  Entry() = default;
  Entry(Entry&&) noexcept = default;
  Entry& operator=(Entry&&) = delete;
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;
  ~Entry();
};

// Where an entry is and when it was written (the plain columns of its row).
struct EntryMeta {
  int64_t id = 0;
  int64_t created_at = 0, updated_at = 0;
};

// The entry of fields validated by a schema with the entry's field names (url and notes optional).
Entry entry_from_fields(const json::Fields& f);

// The plaintext that seal_entry encrypts: a JSON object of the present fields.
SecretBytes encode_entry(const Entry& e);
// The fields of a plaintext that seal_entry encrypted. They were validated before they were
// sealed, and the AEAD tag proves they are the ones sealed for this user and entry, so only the
// shape is checked (no URL parse, no bounds: a 50-entry list was ~10% cheaper). Throws as
// json::parse_request on a plaintext of another shape.
Entry decode_entry(std::string_view plaintext);

// {id, domain, account_name, [pin_or_password,] url, notes, created_at, updated_at}
void write_entry(json::Writer& w, const Entry& e, const EntryMeta& m, bool with_secret);
// The list item of an entry (write_entry without the secret), as the list index keeps it.
std::string list_item(const Entry& e, const EntryMeta& m);

}  // namespace sr::vault
