// The route table. Order of checks per route (SPEC 12): route/method (router) -> the gate of
// Route::gate (api/gate.hpp: authentication, session, general limit, CSRF, vault, parameter,
// body) -> the handler, whose service checks the route's own limits (Route::limits) before it
// acts.
#include "api/routes.hpp"

#include "api/context.hpp"
#include "api/gate.hpp"
#include "api/handlers.hpp"
#include "api/validation.hpp"

namespace sr::api {
namespace {

using http::Method;
using services::LimitKey;

constexpr std::string_view kUrlDoc =
    "an absolute http or https URL (RFC 3986) with a host and no user name or password";

json::FieldRule described(json::FieldRule r, std::string doc) {
  r.doc = std::move(doc);
  return r;
}

// A password that is checked, not set: any text up to 1024 code points (bounding the hashing
// work).
json::FieldRule password(std::string name) {
  return json::str(std::move(name), 1, 1024, true);
}

constexpr std::string_view kPolicyDoc =
    "12-128 characters (Unicode code points), not a common password, not containing the username";

// A password being set: the policy of SPEC 4, checked by the service (it needs the username).
json::FieldRule new_password(std::string name, std::string_view more = {}) {
  return described(password(std::move(name)), std::string(kPolicyDoc).append(more));
}

json::Schema signup_body(const services::Passwords& pw) {
  return {
      json::with_check(json::str("username", 3, 50, true), check_username,
                       "letters, digits, '_' and '-'; unique whatever the case",
                       "^[A-Za-z0-9_-]+$"),
      json::with_check(json::str("email", 3, 254, true), check_email,
                       "an email address: one '@', a dotted domain; stored lowercased, unique"),
      // The policy at parse time too, so that every problem of the body is reported at once;
      // the rule that needs the username runs in the service.
      json::with_check(
          password("password"), [&pw](std::string_view v) { return pw.problem(v, ""); },
          std::string(kPolicyDoc)),
  };
}

// A second factor's code: a TOTP code or a recovery code (SPEC 13).
json::FieldRule code(bool required) {
  return json::with_check(json::str("code", 1, 64, required), services::code_problem,
                          "a 6-digit code from the authenticator app, or an unused recovery code "
                          "(any case, with or without its hyphens)");
}

json::Schema handbook_body() {
  auto name = json::str("full_name", 0, 100, false);
  auto age = json::integer("age", 13, 120, false);
  auto phone = json::with_check(json::str("phone", 0, 20, false), check_phone,
                                "digits, spaces and + ( ) -", "^[0-9 +()-]*$");
  auto address = json::str("address", 0, 255, false);
  auto bio = json::str("bio", 0, 2000, false);
  bio.single_line = false;  // multi-line allowed, NUL still refused
  for (auto* r : {&name, &age, &phone, &address, &bio}) r->nullable = true;
  return {name, age, phone, address, bio};
}

json::Schema link_body() {
  return {json::with_check(json::str("platform", 1, 50, true), check_platform,
                           "letters, digits, spaces and . _ -", "^[A-Za-z0-9 ._-]+$"),
          json::with_check(json::str("url", 1, 2048, true), check_url, std::string(kUrlDoc))};
}

json::Schema entry_body() {
  auto url = json::with_check(json::str("url", 1, 2048, false), check_url, std::string(kUrlDoc));
  url.nullable = true;
  auto notes = json::str("notes", 0, 10000, false);
  notes.single_line = false;
  notes.nullable = true;
  return {json::str("domain", 1, 255, true), json::str("account_name", 1, 255, true),
          json::str("pin_or_password", 1, 1024, true), url, notes};
}

}  // namespace

std::span<const NamedShape> response_shapes() {
  static constexpr NamedShape kShapes[] = {
      {"Message", "{message: string}"},
      {"MfaRequired", "{message: string, mfa_required: boolean, mfa_token: string}"},
      {"SignedIn",
       "{message: string, user_id: id, csrf_token: string, access_token?: string,"
       " refresh_token?: string}"},
      {"Session",
       "{id: string, created_at: time, last_used_at: time, expires_at: time, user_agent: string,"
       " ip: string, current: boolean}"},
      {"Handbook",
       "{full_name: string|null, age: integer|null, phone: string|null, address: string|null,"
       " bio: string|null, updated_at: time}"},
      {"Link", "{id: id, platform: string, url: string, created_at: time}"},
      {"EntryItem",
       "{id: id, domain: string, account_name: string, url: string|null, notes: string|null,"
       " created_at: time, updated_at: time}"},
      {"Entry",
       "{id: id, domain: string, account_name: string, pin_or_password: string,"
       " url: string|null, notes: string|null, created_at: time, updated_at: time}"},
  };
  return kShapes;
}

std::vector<Route> route_table(const services::Passwords& pw) {
  namespace h = handlers;
  return {
      // --- accounts and sessions (SPEC 4)
      {.method = Method::POST,
       .path = "/auth/signup",
       .gate = Gate::anonymous,
       .summary = "Create an account",
       .body = signup_body(pw),
       .limits = {{"signup", LimitKey::ip}},
       .status = 201,
       .response = "{message: string, user_id: id}",
       .errors = {409},
       .handler = h::signup},
      {.method = Method::POST,
       .path = "/auth/signin",
       .gate = Gate::anonymous,
       .summary = "Sign in with a username or email and a password",
       .body = json::Schema{described(json::str("username", 1, 254, true),
                                      "the username or the email address, in any case"),
                            password("password"), json::boolean("return_tokens", false)},
       .limits = {{"signin", LimitKey::ip}, {"signin_user", LimitKey::account}},
       .response = "SignedIn|MfaRequired",
       .errors = {401},
       .handler = h::signin},
      {.method = Method::POST,
       .path = "/auth/refresh",
       .gate = Gate::anonymous,
       .summary =
           "Rotate the token pair (refresh token by cookie with X-CSRF-TOKEN, or in the body)",
       .body = json::Schema{described(json::str("refresh_token", 1, 4096, true),
                                      "the refresh token of the session (a JWT)")},
       .body_optional = true,
       .limits = {{"refresh", LimitKey::session}},
       .response = "SignedIn",
       .errors = {401, 403},
       .handler = h::refresh},
      {.method = Method::GET,
       .path = "/auth/csrf",
       .gate = Gate::anonymous,
       .summary = "The refresh token's CSRF value, for the X-CSRF-TOKEN of a refresh by cookie "
                  "(the refresh cookie is the credential; for pages that cannot read the Path "
                  "/auth CSRF cookie)",
       .response = "{csrf_token: string}",
       .errors = {401},
       .handler = h::refresh_csrf},
      {.method = Method::POST,
       .path = "/auth/logout",
       .gate = Gate::user,
       .summary = "End the current session",
       .response = "Message",
       .handler = h::logout},
      {.method = Method::POST,
       .path = "/auth/logout-all",
       .gate = Gate::user,
       .summary = "End every session of the user",
       .response = "{message: string, revoked: count}",
       .handler = h::logout_all},
      {.method = Method::GET,
       .path = "/auth/sessions",
       .gate = Gate::user,
       .summary = "The user's live sessions",
       .response = "{sessions: [Session]}",
       .handler = h::list_sessions},
      {.method = Method::DELETE_,
       .path = "/auth/sessions/{id}",
       .gate = Gate::user,
       .summary = "End one of the user's sessions",
       .param = Param::session_id,
       .status = 204,
       .handler = h::delete_session},
      {.method = Method::POST,
       .path = "/auth/change-password",
       .gate = Gate::user,
       .summary = "Change the password; every other session ends",
       .body = json::Schema{password("current_password"), new_password("new_password")},
       .limits = {{"sensitive", LimitKey::user, "change-password"}},
       .response = "{message: string, sessions_revoked: count}",
       .handler = h::change_password},
      {.method = Method::POST,
       .path = "/auth/delete-account",
       .gate = Gate::user,
       .summary = "Delete the account and everything it owns",
       .body = json::Schema{password("password"),
                            described(code(false),
                                      "the second factor; required while two-step "
                                      "sign-in is on")},
       .limits = {{"sensitive", LimitKey::user, "delete-account"}},
       .response = "Message",
       .handler = h::delete_account},

      // --- two-step sign-in (SPEC 13)
      {.method = Method::POST,
       .path = "/auth/signin/2fa",
       .gate = Gate::anonymous,
       .summary = "Finish a signin that answered mfa_required, with a code",
       .body = json::Schema{described(json::str("mfa_token", 1, 256, true),
                                      "the mfa_token the signin answered (5 minutes, 5 attempts)"),
                            code(true), json::boolean("return_tokens", false)},
       .limits = {{"signin", LimitKey::ip}, {"signin_2fa", LimitKey::account}},
       .response = "SignedIn",
       .errors = {401},
       .handler = h::signin_2fa},
      {.method = Method::GET,
       .path = "/auth/2fa",
       .gate = Gate::user,
       .summary = "Whether two-step sign-in is on, and how many recovery codes are left",
       .response = "{totp_enabled: boolean, recovery_codes_left: count}",
       .handler = h::twofa_status},
      {.method = Method::POST,
       .path = "/auth/2fa/totp/setup",
       .gate = Gate::user,
       .summary = "Start turning on two-step sign-in: a new TOTP secret, its URI and QR code",
       .body = json::Schema{password("password")},
       .limits = {{"sensitive", LimitKey::user, "2fa-setup"}},
       .response = "{secret: string, otpauth_uri: string, qr_svg: string}",
       .errors = {409},
       .handler = h::totp_setup},
      {.method = Method::POST,
       .path = "/auth/2fa/totp/confirm",
       .gate = Gate::user,
       .summary = "Turn on two-step sign-in with a code of the new secret; every other session "
                  "ends; the recovery codes are shown once",
       .body = json::Schema{json::with_check(
           json::str("code", 1, 64, true), services::totp_code_problem,
           "the 6-digit code the authenticator app shows", "^[0-9]{6}$")},
       .limits = {{"sensitive", LimitKey::user, "2fa-confirm"}},
       .response = "{recovery_codes: [string]}",
       .errors = {409},
       .handler = h::totp_confirm},
      {.method = Method::POST,
       .path = "/auth/2fa/disable",
       .gate = Gate::user,
       .summary = "Turn off two-step sign-in",
       .body = json::Schema{password("password"), code(true)},
       .limits = {{"sensitive", LimitKey::user, "2fa-disable"}},
       .response = "Message",
       .errors = {409},
       .handler = h::twofa_disable},
      {.method = Method::POST,
       .path = "/auth/2fa/recovery-codes",
       .gate = Gate::user,
       .summary = "A new set of recovery codes; the old set stops working",
       .body = json::Schema{password("password"), code(true)},
       .limits = {{"sensitive", LimitKey::user, "2fa-recovery-codes"}},
       .response = "{recovery_codes: [string]}",
       .errors = {409},
       .handler = h::recovery_codes},

      // --- personal data (SPEC 5)
      {.method = Method::GET,
       .path = "/personal/me",
       .gate = Gate::user,
       .summary = "The user and their handbook",
       .reads = {.user = true, .handbook = true},
       .response =
           "{id: id, username: string, email: string, created_at: time, handbook: Handbook|null}",
       .handler = h::me},
      {.method = Method::GET,
       .path = "/personal/handbook",
       .gate = Gate::user,
       .summary = "The user's handbook",
       .reads = {.handbook = true},
       .response = "Handbook",
       .errors = {404},
       .handler = h::get_handbook},
      {.method = Method::PUT,
       .path = "/personal/handbook",
       .gate = Gate::user,
       .summary = "Replace the handbook (absent or null fields are cleared)",
       .body = handbook_body(),
       .response = "Handbook",
       .handler = h::put_handbook},

      // --- social links (SPEC 6)
      {.method = Method::GET,
       .path = "/social/links",
       .gate = Gate::user,
       .summary = "The user's links, in creation order",
       .reads = {.links = true},
       .response = "{links: [Link]}",
       .handler = h::list_links},
      {.method = Method::POST,
       .path = "/social/links",
       .gate = Gate::user,
       .summary = "Add a link (at most 50)",
       .body = link_body(),
       .status = 201,
       .response = "Link",
       .errors = {409},
       .handler = h::add_link},
      {.method = Method::PUT,
       .path = "/social/links/{id}",
       .gate = Gate::user,
       .summary = "Replace a link",
       .param = Param::row_id,
       .body = link_body(),
       .response = "Link",
       .handler = h::update_link},
      {.method = Method::DELETE_,
       .path = "/social/links/{id}",
       .gate = Gate::user,
       .summary = "Delete a link",
       .param = Param::row_id,
       .status = 204,
       .handler = h::remove_link},

      // --- the vault (SPEC 7)
      {.method = Method::GET,
       .path = "/vault/status",
       .gate = Gate::user,
       .summary = "Whether the vault is set up and unlocked",
       .reads = {.vault_key = true},
       .response = "{initialized: boolean, unlocked: boolean, expires_at: time|null}",
       .handler = h::vault_status},
      {.method = Method::POST,
       .path = "/vault/setup",
       .gate = Gate::user,
       .summary = "Set up the vault with its own password",
       .body = json::Schema{new_password("vault_password", "; not the account password")},
       .limits = {{"sensitive", LimitKey::user, "vault-setup"}},
       .status = 201,
       .response = "Message",
       .errors = {409},
       .handler = h::vault_setup},
      {.method = Method::POST,
       .path = "/vault/unlock-vault",
       .gate = Gate::user,
       .summary = "Open a vault session (cookie, and vault_token for X-Vault-Token)",
       .body = json::Schema{password("vault_password")},
       .limits = {{"vault_unlock", LimitKey::user}},
       .response = "{message: string, expires_in: count, vault_token: string}",
       .errors = {409},
       .handler = h::vault_unlock},
      {.method = Method::POST,
       .path = "/vault/lock",
       .gate = Gate::user,
       .summary = "End the vault sessions of this session",
       .response = "Message",
       .errors = {409},
       .handler = h::vault_lock},
      {.method = Method::POST,
       .path = "/vault/add",
       .gate = Gate::vault,
       .summary = "Add an entry",
       .body = entry_body(),
       .status = 201,
       .response = "{id: id, message: string}",
       .handler = h::vault_add},
      {.method = Method::GET,
       .path = "/vault/entries",
       .gate = Gate::vault,
       .summary = "The entries, without their secrets; ?limit=N&after=ID: a page (SPEC 14)",
       .query = {{.name = "limit",
                  .description = "A page of at most this many entries (fewer once its body holds "
                                 "1 MiB); without limit and after: the whole list",
                  .minimum = 1,
                  .maximum = services::VaultService::kMaxPage},
                 {.name = "after",
                  .description = "The page starts after this entry id (next_after of the page "
                                 "before)",
                  .minimum = 0,
                  .maximum = 999999999999999999}},
       .reads = {.vault_index = true},
       .response = "{entries: [EntryItem], next_after?: integer|null}",
       .errors = {400},  // a malformed page query
       .handler = h::vault_list},
      {.method = Method::GET,
       .path = "/vault/entries/{id}",
       .gate = Gate::vault,
       .summary = "One entry, with its secret",
       .param = Param::row_id,
       .reads = {.vault_entry = true},
       .response = "Entry",
       .handler = h::vault_get},
      {.method = Method::PUT,
       .path = "/vault/entries/{id}",
       .gate = Gate::vault,
       .summary = "Replace an entry",
       .param = Param::row_id,
       .body = entry_body(),
       .response = "Entry",
       .handler = h::vault_update},
      {.method = Method::DELETE_,
       .path = "/vault/entries/{id}",
       .gate = Gate::vault,
       .summary = "Delete an entry",
       .param = Param::row_id,
       .status = 204,
       .handler = h::vault_remove},
      {.method = Method::POST,
       .path = "/vault/change-password",
       .gate = Gate::vault,
       .summary = "Change the vault password (the data key is re-wrapped); vault sessions end",
       .body = json::Schema{password("current_vault_password"),
                            new_password("new_vault_password", "; not the account password")},
       .limits = {{"sensitive", LimitKey::user, "vault-change-password"}},
       .response = "Message",
       .handler = h::vault_change_password},

      // --- operations (SPEC 9)
      {.method = Method::GET,
       .path = "/healthz",
       .gate = Gate::ops,
       .summary = "The process is up",
       .response = "{status: string}",
       .handler = h::healthz},
      {.method = Method::GET,
       .path = "/readyz",
       .gate = Gate::ops,
       .summary = "The database is reachable (503 otherwise)",
       .response = "{status: string}",
       .handler = h::readyz},
      {.method = Method::GET,
       .path = "/metrics",
       .gate = Gate::ops,
       .summary = "Prometheus metrics (metrics_allow only)",
       .response = "text/plain",
       .errors = {403},
       .handler = h::metrics},
      {.method = Method::GET,
       .path = "/openapi.json",
       .gate = Gate::anonymous,
       .summary = "This API's OpenAPI 3.1 description, generated from this table",
       .response = "object",
       .handler = h::openapi},
  };
}

void add_routes(http::Router& router, Context& ctx) {
  for (const Route& r : ctx.routes)
    router.add(r.method, std::string(r.path),
               [&ctx, &r](http::Request& req) { return run_route(ctx, r, req); });
}

}  // namespace sr::api
