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

Task<http::Response> vault_list(Call& call) {
  std::string body = co_await call.ctx.vault.list(
      call, call.vault(), std::move(call.rows.vault_index), R"({"entries":[)", "]}");
  co_return call.respond(200, std::move(body));
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
