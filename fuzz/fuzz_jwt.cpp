// fuzz_jwt: sr::auth::verify() on arbitrary tokens with fixed keys, the JWT JSON reader on
// arbitrary header/payload text (re-signed by the harness so that the payload parser is reached),
// and a sign -> verify round trip with fuzzed claim strings (+ one tampered byte must never
// verify).
//
// Input: byte 0 selects the mode.
//   0: the rest is a token, verified as "access" then "refresh".
//   1: the rest is "<header json>\n<payload json>"; the harness signs it with the current key.
//   2: FuzzedDataProvider -> Claims; sign, verify, tamper.
#include <sodium.h>

#include <cstring>

#include "auth/jwt.hpp"
#include "fuzz_common.hpp"
#include "util/encoding.hpp"

namespace {

constexpr int64_t kNow = 1'750'000'000;

const sr::auth::JwtKeys& keys() {
  static const sr::auth::JwtKeys k = [] {
    sr::auth::JwtKeys k;
    std::string cur(32, 'K'), prev(32, 'P');
    k.current = sr::SecretBytes::from_view(cur);
    k.previous.push_back(sr::SecretBytes::from_view(prev));
    return k;
  }();
  return k;
}
const sr::auth::JwtKeys& other_keys() {
  static const sr::auth::JwtKeys k = [] {
    sr::auth::JwtKeys k;
    std::string cur(32, 'X');
    k.current = sr::SecretBytes::from_view(cur);
    return k;
  }();
  return k;
}

// The guarantees of an accepted token.
void check_ok(const sr::auth::Verified& v, std::string_view type) {
  if (!v.ok()) return;
  const auto& c = v.claims;
  FUZZ_CHECK(c.type == type);
  FUZZ_CHECK(c.iss == keys().issuer);
  FUZZ_CHECK(c.aud == keys().issuer);
  FUZZ_CHECK(!c.sub.empty() && !c.sid.empty() && !c.jti.empty() && !c.csrf.empty());
  FUZZ_CHECK(c.exp > kNow - keys().leeway);
  FUZZ_CHECK(c.nbf <= kNow + keys().leeway && c.iat <= kNow + keys().leeway);
}

void verify_both(std::string_view token) {
  auto a = sr::auth::verify(token, keys(), "access", kNow);
  check_ok(a, "access");
  auto r = sr::auth::verify(token, keys(), "refresh", kNow);
  check_ok(r, "refresh");
  FUZZ_CHECK(!(a.ok() && r.ok()));  // never both kinds
  // Any token that verifies under our keys must fail under unrelated keys.
  if (a.ok() || r.ok()) {
    FUZZ_CHECK(sr::auth::verify(token, other_keys(), a.ok() ? "access" : "refresh", kNow).error ==
               sr::auth::JwtError::bad_signature);
  }
}

std::string hs256(std::string_view key, std::string_view input) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(input.data()),
                                input.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return sr::base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
}

void run_resigned(std::string_view rest) {
  auto nl = rest.find('\n');
  std::string_view header = rest.substr(0, nl);
  std::string_view payload =
      nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  std::string token = sr::base64url_encode(header) + "." + sr::base64url_encode(payload);
  token += "." + hs256(std::string(32, 'K'), token);
  verify_both(token);
}

void run_roundtrip(FuzzedDataProvider& fdp) {
  sr::auth::Claims c;
  c.sub = fdp.ConsumeRandomLengthString(40);
  c.sid = fdp.ConsumeRandomLengthString(80);
  c.jti = fdp.ConsumeRandomLengthString(80);
  c.csrf = fdp.ConsumeRandomLengthString(80);
  c.type = fdp.ConsumeBool() ? "access" : "refresh";
  c.iss = keys().issuer;
  c.aud = keys().issuer;
  c.iat = kNow - fdp.ConsumeIntegralInRange<int64_t>(0, 1000);
  c.nbf = c.iat;
  c.exp = kNow + fdp.ConsumeIntegralInRange<int64_t>(1, 100000);
  const bool use_prev = fdp.ConsumeBool();
  const size_t tamper_at = fdp.ConsumeIntegral<size_t>();
  const uint8_t tamper_xor = fdp.ConsumeIntegralInRange<uint8_t>(1, 255);

  sr::auth::JwtKeys signer;
  if (use_prev) {
    signer.current = keys().previous[0];  // a rotated-out key still verifies
  } else {
    signer.current = keys().current;
  }
  const std::string token = sr::auth::sign(c, signer);
  auto v = sr::auth::verify(token, keys(), c.type, kNow);
  const bool complete = !c.sub.empty() && !c.sid.empty() && !c.jti.empty() && !c.csrf.empty();
  if (token.size() > 4096) {
    FUZZ_CHECK(!v.ok());
  } else if (!complete) {
    FUZZ_CHECK(v.error == sr::auth::JwtError::missing_claim);
  } else {
    FUZZ_CHECK(v.ok());
    FUZZ_CHECK(v.claims.sub == c.sub && v.claims.sid == c.sid && v.claims.jti == c.jti &&
               v.claims.csrf == c.csrf && v.claims.type == c.type && v.claims.iat == c.iat &&
               v.claims.nbf == c.nbf && v.claims.exp == c.exp);
    // The other type is refused.
    FUZZ_CHECK(
        sr::auth::verify(token, keys(), c.type == "access" ? "refresh" : "access", kNow).error ==
        sr::auth::JwtError::wrong_type);
  }
  // One changed byte anywhere: never accepted.
  std::string bad = token;
  bad[tamper_at % bad.size()] = static_cast<char>(bad[tamper_at % bad.size()] ^ tamper_xor);
  FUZZ_CHECK(!sr::auth::verify(bad, keys(), c.type, kNow).ok());
  // Truncation or an extra character: never accepted.
  FUZZ_CHECK(
      !sr::auth::verify(std::string_view(token).substr(0, token.size() - 1), keys(), c.type, kNow)
           .ok());
  FUZZ_CHECK(!sr::auth::verify(token + "A", keys(), c.type, kNow).ok());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (sodium_init() < 0) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 8192) return 0;
  std::string_view rest = sr::fuzz::as_view(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      verify_both(rest);
      break;
    case 1:
      run_resigned(rest);
      break;
    case 2: {
      FuzzedDataProvider fdp(data + 1, size - 1);
      run_roundtrip(fdp);
      break;
    }
  }
  return 0;
}
