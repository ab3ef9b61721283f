// /auth/2fa/* and /auth/signin/2fa: two-step sign-in (SPEC 13). The rules are in
// services::TwoFactorService; the first step of a signin is POST /auth/signin (auth_routes.cpp).
#include "api/handlers.hpp"

namespace sr::api::handlers {
namespace {

// {"recovery_codes": [...]}, shown once; the codes are wiped once written.
http::Response codes_response(Call& call, services::RecoveryCodes& codes) {
  json::Writer w;
  w.begin_object().key("recovery_codes").begin_array();
  for (const auto& c : codes) w.value(c);
  w.end_array().end_object();
  wipe(codes);
  return call.respond(200, w.take());
}

}  // namespace

Task<http::Response> twofa_status(Call& call) {
  const services::TwoFactorStatus st = co_await call.ctx.twofa.status(call);
  json::Writer w;
  w.begin_object()
      .kv("totp_enabled", st.totp_enabled)
      .kv("recovery_codes_left", st.recovery_codes_left)
      .end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> totp_setup(Call& call) {
  const SecretString pw = call.fields.secret("password");
  services::TotpSetup s = co_await call.ctx.twofa.setup(call, pw);
  json::Writer w;
  w.begin_object()
      .kv("secret", s.secret)
      .kv("otpauth_uri", s.otpauth_uri)
      .kv("qr_svg", s.qr_svg)
      .end_object();
  wipe(s.secret);
  wipe(s.otpauth_uri);
  wipe(s.qr_svg);
  co_return call.respond(200, w.take());
}

Task<http::Response> totp_confirm(Call& call) {
  const SecretString code = call.fields.secret("code");
  services::RecoveryCodes codes = co_await call.ctx.twofa.confirm(call, code);
  co_return codes_response(call, codes);
}

Task<http::Response> twofa_disable(Call& call) {
  const SecretString pw = call.fields.secret("password"), code = call.fields.secret("code");
  co_await call.ctx.twofa.disable(call, pw, code);
  co_return call.respond(200, R"({"message":"Two-step sign-in is off"})");
}

Task<http::Response> recovery_codes(Call& call) {
  const SecretString pw = call.fields.secret("password"), code = call.fields.secret("code");
  services::RecoveryCodes codes = co_await call.ctx.twofa.regenerate(call, pw, code);
  co_return codes_response(call, codes);
}

Task<http::Response> signin_2fa(Call& call) {
  const auto& f = call.fields;
  const services::SecondStep in{std::string(*f.str("mfa_token")), f.secret("code"),
                                sane_user_agent(call.req.header("User-Agent"))};
  const services::NewSession s = co_await call.ctx.twofa.finish_signin(call, in);
  co_return signed_in(call, s, "Signed in", f.boolean("return_tokens").value_or(false));
}

}  // namespace sr::api::handlers
