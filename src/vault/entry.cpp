#include "vault/entry.hpp"

#include <limits>

#include "util/clock.hpp"

namespace sr::vault {
namespace {

constexpr const char* kFields[] = {"domain", "account_name", "pin_or_password", "url", "notes"};

const json::Schema& stored_schema() {
  static const json::Schema schema = [] {
    constexpr auto any = std::numeric_limits<std::size_t>::max();
    auto shape = [](json::FieldRule r) {
      r.single_line = false;
      r.nullable = !r.required;
      return r;
    };
    return json::Schema{
        shape(json::str("domain", 0, any, true)), shape(json::str("account_name", 0, any, true)),
        shape(json::str("pin_or_password", 0, any, true)), shape(json::str("url", 0, any, false)),
        shape(json::str("notes", 0, any, false))};
  }();
  return schema;
}

std::optional<std::string> opt(const json::Fields& f, std::string_view k) {
  if (auto v = f.str(k)) return std::string(*v);
  return std::nullopt;
}

}  // namespace

Entry::~Entry() {
  wipe(domain);
  wipe(account_name);
  wipe(pin_or_password);
  if (url) wipe(*url);
  if (notes) wipe(*notes);
}

Entry entry_from_fields(const json::Fields& f) {
  Entry e;
  e.domain = f.str("domain").value_or("");
  e.account_name = f.str("account_name").value_or("");
  e.pin_or_password = f.str("pin_or_password").value_or("");
  e.url = opt(f, "url");
  e.notes = opt(f, "notes");
  return e;
}

SecretBytes encode_entry(const Entry& e) {
  json::Writer w;
  w.begin_object()
      .kv(kFields[0], e.domain)
      .kv(kFields[1], e.account_name)
      .kv(kFields[2], e.pin_or_password);
  if (e.url) w.kv(kFields[3], *e.url);
  if (e.notes) w.kv(kFields[4], *e.notes);
  w.end_object();
  std::string text = w.take();
  WipeOnExit wipe_text(text);
  return SecretBytes::transient(reinterpret_cast<const unsigned char*>(text.data()), text.size());
}

Entry decode_entry(std::string_view plaintext) {
  return entry_from_fields(json::parse_request(plaintext, stored_schema()));
}

void write_entry(json::Writer& w, const Entry& e, const EntryMeta& m, bool with_secret) {
  w.begin_object().kv("id", m.id).kv("domain", e.domain).kv("account_name", e.account_name);
  if (with_secret) w.kv("pin_or_password", e.pin_or_password);
  w.kv("url", e.url)
      .kv("notes", e.notes)
      .kv("created_at", rfc3339(m.created_at))
      .kv("updated_at", rfc3339(m.updated_at))
      .end_object();
}

std::string list_item(const Entry& e, const EntryMeta& m) {
  json::Writer w;
  write_entry(w, e, m, false);
  return w.take();
}

}  // namespace sr::vault
