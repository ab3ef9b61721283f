// /vault/*: the password vault (SPEC 7 and 12). The rules -- the vault session, its renewal, the
// entries and their list index -- are in services::VaultService; the vault gate (api/gate.hpp)
// opened the vault of every Gate::vault route before its handler runs.
#include "api/auth_cookies.hpp"
#include "api/gate.hpp"
#include "api/handlers.hpp"
#include "util/clock.hpp"
#include "vault/entry.hpp"

namespace sr::api::handlers {

Task<http::Response> vault_status(Call& call) {
  const std::string_view token = vault_token(call.req, call.ctx.cookies);
  const services::VaultStatus st = call.ctx.vault.status(call, call.rows.vault_key, token);
  json::Writer w;
  w.begin_object().kv("initialized", st.initialized).kv("unlocked", st.unlocked).key("expires_at");
  if (st.expires_at)
    w.value(rfc3339(*st.expires_at));
  else
    w.value(nullptr);
  w.end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> vault_setup(Call& call) {
  const SecretString pw = call.fields.secret("vault_password");
  co_await call.ctx.vault.setup(call, pw);
  co_return call.respond(201, R"({"message":"Vault created"})");
}

Task<http::Response> vault_unlock(Call& call) {
  const SecretString pw = call.fields.secret("vault_password");
  const services::VaultUnlock u = co_await call.ctx.vault.unlock(call, pw);
  call.cookies.push_back(vault_cookie(call.ctx, u.token, u.expires_in));
  json::Writer w;
  w.begin_object()
      .kv("message", "Vault unlocked")
      .kv("expires_in", u.expires_in)
      .kv("vault_token", u.token)
      .end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> vault_lock(Call& call) {
  co_await call.ctx.vault.lock(call);
  call.cookies.push_back(vault_cookie(call.ctx, "", 0));
  co_return call.respond(200, R"({"message":"Vault locked"})");
}

Task<http::Response> vault_add(Call& call) {
  const vault::Entry e = vault::entry_from_fields(call.fields);
  const int64_t id = co_await call.ctx.vault.add(call, call.vault(), e);
  json::Writer w;
  w.begin_object().kv("id", id).kv("message", "Entry added").end_object();
  co_return call.respond(201, w.take());
}

namespace {

// A query value: a decimal of at most 18 digits, no sign, no leading zero (nullopt otherwise).
std::optional<int64_t> query_int(std::string_view v) {
  if (v.empty() || v.size() > 18 || (v[0] == '0' && v.size() > 1)) return std::nullopt;
  int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// The page that GET /vault/entries?limit=N&after=ID asks for (SPEC 14); nullopt: no query, the
// whole list. Anything but each of the two parameters at most once with a valid value is
// validation_failed (the names sent are not echoed).
std::optional<services::VaultPage> page_query(std::string_view target) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  std::optional<int64_t> limit, after;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (amp != std::string_view::npos && rest.empty())
      fail_field("query", "must be limit=N and/or after=ID, joined by '&'");
    const auto eq = part.find('=');
    const std::string_view name = part.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
    const bool is_limit = name == "limit";
    if (!is_limit && name != "after")
      fail_field("query", "unknown parameter; only limit and after");
    std::optional<int64_t>& slot = is_limit ? limit : after;
    if (slot) fail_field(std::string(name), "given more than once");
    slot = query_int(value);
    if (is_limit && (!slot || *slot < 1 || *slot > services::VaultService::kMaxPage))
      fail_field("limit", "must be an integer from 1 to 500");
    if (!is_limit && !slot) fail_field("after", "must be a non-negative integer");
  }
  // A bare '?': the gate did not read the index for the whole list (api/gate.cpp).
  if (!limit && !after) fail_field("query", "must be limit=N and/or after=ID, joined by '&'");
  // Without a limit, the rest of the list from after (SPEC 14: "without limit the whole list").
  return services::VaultPage{after.value_or(0),
                             limit.value_or(services::VaultService::kMaxEntries)};
}

}  // namespace

Task<http::Response> vault_list(Call& call) {
  const std::optional<services::VaultPage> page = page_query(call.req.target);
  if (!page) {
    services::VaultList list = co_await call.ctx.vault.list(
        call, call.vault(), std::move(call.rows.vault_index), R"({"entries":[)", "]}");
    http::Response res = call.respond(200, std::move(list.body));
    if (list.rest)
      res.more = [rest = std::move(list.rest)](std::string& out) { return rest->next(out); };
    co_return res;
  }
  services::VaultPageOut out =
      co_await call.ctx.vault.list_page(call.vault(), *page, R"({"entries":[)");
  out.body += R"(],"next_after":)";
  out.body += out.next_after ? std::to_string(*out.next_after) : "null";
  out.body += '}';
  co_return call.respond(200, std::move(out.body));
}

Task<http::Response> vault_get(Call& call) {
  const services::OpenEntry e = call.ctx.vault.get(call.vault(), call.rows.vault_entry);
  json::Writer w;
  vault::write_entry(w, e.fields, e.meta, true);
  co_return call.respond(200, w.take());
}

Task<http::Response> vault_update(Call& call) {
  const vault::Entry e = vault::entry_from_fields(call.fields);
  const vault::EntryMeta m = co_await call.ctx.vault.update(call, call.vault(), call.id, e);
  json::Writer w;
  vault::write_entry(w, e, m, true);
  co_return call.respond(200, w.take());
}

Task<http::Response> vault_remove(Call& call) {
  co_await call.ctx.vault.remove(call, call.vault(), call.id);
  co_return http::Response::no_content();
}

Task<http::Response> vault_change_password(Call& call) {
  const services::VaultPasswordChange in{call.fields.secret("current_vault_password"),
                                         call.fields.secret("new_vault_password")};
  co_await call.ctx.vault.change_password(call, call.vault(), in);
  // Every vault session has ended: no renewed token, and the cookie goes.
  call.cookies.clear();
  call.cookies.push_back(vault_cookie(call.ctx, "", 0));
  std::erase_if(call.headers, [](const auto& h) { return h.first == "X-Vault-Token"; });
  co_return call.respond(200, R"({"message":"Vault password changed"})");
}

}  // namespace sr::api::handlers
