#include "auth/jwt.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

#include "claims_fixture.hpp"
#include "util/encoding.hpp"

namespace sr::auth {
namespace {

using test::kNow;

JwtKeys keys() {
  JwtKeys k;
  k.current = SecretBytes::from_view("current-secret-current-secret-0123456789");
  k.previous.push_back(SecretBytes::from_view("previous-secret-previous-secret-012345678"));
  return k;
}

Claims claims() {
  return test::sample_claims();
}

std::string b64(std::string_view s) {
  return base64url_encode(s);
}

// Signs an arbitrary header and payload with the given key (to build hostile tokens).
std::string forge(std::string_view header, std::string_view payload, const SecretBytes& key) {
  std::string input = b64(header) + "." + b64(payload);
  unsigned char mac[32];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(input.data()),
                                input.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return input + "." + b64(std::string_view(reinterpret_cast<const char*>(mac), 32));
}

constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";

std::string payload_json(const std::string& extra_or_replacement = "", const char* drop = nullptr) {
  std::vector<std::pair<std::string, std::string>> m = {{"sub", R"("42")"},
                                                        {"sid", R"("sess-1")"},
                                                        {"jti", R"("AAAAAAAAAAAAAAAAAAAAAA")"},
                                                        {"type", R"("access")"},
                                                        {"csrf", R"("csrf-token")"},
                                                        {"iat", std::to_string(kNow - 10)},
                                                        {"nbf", std::to_string(kNow - 10)},
                                                        {"exp", std::to_string(kNow + 900)},
                                                        {"iss", R"("strongroom")"},
                                                        {"aud", R"("strongroom")"}};
  std::string out = "{";
  for (auto& [k, v] : m) {
    if (drop && k == drop) continue;
    if (out.size() > 1) out += ',';
    out += '"' + k + "\":" + v;
  }
  if (!extra_or_replacement.empty()) out += "," + extra_or_replacement;
  return out + "}";
}

JwtError verify_err(const std::string& t, int64_t now = kNow, std::string_view type = "access") {
  return verify(t, keys(), type, now).error;
}

TEST(Jwt, RoundTrip) {
  const auto t = sign(claims(), keys());
  const auto v = verify(t, keys(), "access", kNow);
  ASSERT_TRUE(v.ok()) << static_cast<int>(v.error);
  EXPECT_EQ(v.claims.sub, "42");
  EXPECT_EQ(v.claims.sid, "sess-1");
  EXPECT_EQ(v.claims.jti, "AAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(v.claims.type, "access");
  EXPECT_EQ(v.claims.csrf, "csrf-token");
  EXPECT_EQ(v.claims.iat, kNow - 10);
  EXPECT_EQ(v.claims.nbf, kNow - 10);
  EXPECT_EQ(v.claims.exp, kNow + 900);
  EXPECT_EQ(v.claims.iss, "strongroom");
  EXPECT_EQ(v.claims.aud, "strongroom");
}

TEST(Jwt, ForgedWithOurHelperIsValid) {  // the helper itself is correct, so the tests below mean
                                         // something
  EXPECT_EQ(verify_err(forge(kHeader, payload_json(), keys().current)), JwtError::none);
  EXPECT_EQ(verify_err(forge(R"({"alg":"HS256"})", payload_json(), keys().current)),
            JwtError::none);
}

TEST(Jwt, StringEscapesRoundTrip) {
  auto c = claims();
  c.sid = "a\"b\\c\n\x01/é";
  const auto v = verify(sign(c, keys()), keys(), "access", kNow);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.claims.sid, c.sid);
}

TEST(Jwt, HeaderAlgorithmPinned) {
  const auto k = keys().current;
  EXPECT_EQ(verify_err(forge(R"({"alg":"none","typ":"JWT"})", payload_json(), k)),
            JwtError::bad_header);
  EXPECT_EQ(verify_err(forge(R"({"alg":"HS384","typ":"JWT"})", payload_json(), k)),
            JwtError::bad_header);
  EXPECT_EQ(verify_err(forge(R"({"alg":"RS256","typ":"JWT"})", payload_json(), k)),
            JwtError::bad_header);
  EXPECT_EQ(verify_err(forge(R"({"alg":"hs256","typ":"JWT"})", payload_json(), k)),
            JwtError::bad_header);
  EXPECT_EQ(verify_err(forge(R"({"typ":"JWT"})", payload_json(), k)), JwtError::bad_header);
  EXPECT_EQ(verify_err(forge(R"({"alg":"HS256","typ":"JWT","kid":"1"})", payload_json(), k)),
            JwtError::bad_header);
  EXPECT_EQ(verify_err(forge(R"({"alg":"HS256","typ":"JWS"})", payload_json(), k)),
            JwtError::bad_header);
  EXPECT_EQ(verify_err(forge(R"({"alg":["HS256"]})", payload_json(), k)), JwtError::bad_header);
  // alg=none with an empty signature, the classic attack.
  const std::string none = b64(R"({"alg":"none"})") + "." + b64(payload_json()) + ".";
  EXPECT_NE(verify_err(none), JwtError::none);
  // Duplicate members (one could hide a second alg) are malformed JSON for us.
  EXPECT_EQ(verify_err(forge(R"({"alg":"HS256","alg":"none"})", payload_json(), k)),
            JwtError::malformed);
}

TEST(Jwt, TamperedPartsRefused) {
  const auto t = sign(claims(), keys());
  const auto d1 = t.find('.'), d2 = t.rfind('.');
  // Header swapped for an equivalent one: the MAC no longer matches.
  std::string h = b64(R"({"typ":"JWT","alg":"HS256"})") + t.substr(d1);
  EXPECT_EQ(verify_err(h), JwtError::bad_signature);
  // Payload: another user.
  auto c = claims();
  c.sub = "43";
  const auto other = sign(c, keys());
  std::string p = t.substr(0, d1) +
                  other.substr(other.find('.'), other.rfind('.') - other.find('.')) + t.substr(d2);
  EXPECT_EQ(verify_err(p), JwtError::bad_signature);
  // Every character of the signature.
  for (std::size_t i = d2 + 1; i < t.size(); ++i) {
    std::string s = t;
    s[i] = s[i] == 'A' ? 'B' : 'A';
    const auto e = verify_err(s);
    EXPECT_TRUE(e == JwtError::bad_signature || e == JwtError::malformed) << i;
  }
  // Every character of header and payload.
  for (std::size_t i = 0; i < d2; ++i) {
    if (t[i] == '.') continue;
    std::string s = t;
    s[i] = s[i] == 'A' ? 'B' : 'A';
    EXPECT_NE(verify_err(s), JwtError::none) << i;
  }
  // Signature made by an unrelated key.
  EXPECT_EQ(verify_err(forge(kHeader, payload_json(), SecretBytes::from_view("other-key"))),
            JwtError::bad_signature);
}

TEST(Jwt, EveryClaimRequired) {
  for (const char* name :
       {"sub", "sid", "jti", "type", "csrf", "iat", "nbf", "exp", "iss", "aud"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(verify_err(forge(kHeader, payload_json("", name), keys().current)),
              JwtError::missing_claim);
  }
  // Empty strings count as missing.
  auto c = claims();
  c.sid = "";
  EXPECT_EQ(verify_err(sign(c, keys())), JwtError::missing_claim);
}

TEST(Jwt, ClaimTypes) {
  auto bad = [](const std::string& replacement, const char* drop) {
    return verify_err(forge(kHeader, payload_json(replacement, drop), keys().current));
  };
  EXPECT_EQ(bad(R"("exp":1.9e9)", "exp"), JwtError::malformed);
  EXPECT_EQ(bad(R"("exp":1900000900.0)", "exp"), JwtError::malformed);
  EXPECT_EQ(bad(R"("exp":"1900000900")", "exp"), JwtError::malformed);
  EXPECT_EQ(bad(R"("exp":99999999999999999999999)", "exp"), JwtError::malformed);
  EXPECT_EQ(bad(R"("sub":42)", "sub"), JwtError::malformed);
  EXPECT_EQ(bad(R"("aud":{"x":1})", "aud"), JwtError::malformed);
  EXPECT_EQ(bad(R"("aud":["strongroom",1])", "aud"), JwtError::malformed);
  // Unknown extra claims are tolerated.
  EXPECT_EQ(bad(R"("extra":{"a":[1,2,{"b":null}]})", nullptr), JwtError::none);
  // Payload that is not an object, or trailing garbage.
  EXPECT_EQ(verify_err(forge(kHeader, "[1]", keys().current)), JwtError::malformed);
  EXPECT_EQ(verify_err(forge(kHeader, payload_json() + "x", keys().current)), JwtError::malformed);
  // Duplicate claim.
  EXPECT_EQ(bad(R"("sub":"1")", nullptr), JwtError::malformed);
}

TEST(Jwt, AudienceArray) {
  auto tok = [](const std::string& aud) {
    return forge(kHeader, payload_json("\"aud\":" + aud, "aud"), keys().current);
  };
  EXPECT_EQ(verify_err(tok(R"(["other","strongroom"])")), JwtError::none);
  EXPECT_EQ(verify_err(tok(R"(["other"])")), JwtError::wrong_audience);
  EXPECT_EQ(verify_err(tok(R"([])")), JwtError::missing_claim);
  EXPECT_EQ(verify_err(tok(R"("other")")), JwtError::wrong_audience);
}

TEST(Jwt, TimeChecksWithLeeway) {
  auto c = claims();
  const auto t = sign(c, keys());
  // exp + leeway <= now is expired: exactly at the boundary it is expired, one second before not.
  EXPECT_EQ(verify_err(t, c.exp + 30), JwtError::expired);
  EXPECT_EQ(verify_err(t, c.exp + 29), JwtError::none);
  EXPECT_EQ(verify_err(t, c.exp + 10'000), JwtError::expired);
  // Without leeway, the boundary is exp itself.
  auto k0 = keys();
  k0.leeway = 0;
  EXPECT_EQ(verify(t, k0, "access", c.exp).error, JwtError::expired);
  EXPECT_EQ(verify(t, k0, "access", c.exp - 1).error, JwtError::none);

  auto f = claims();
  f.nbf = kNow + 31;  // beyond the leeway
  EXPECT_EQ(verify_err(sign(f, keys())), JwtError::not_yet_valid);
  f.nbf = kNow + 30;  // within it
  EXPECT_EQ(verify_err(sign(f, keys())), JwtError::none);

  auto i = claims();
  i.iat = kNow + 31;
  EXPECT_EQ(verify_err(sign(i, keys())), JwtError::not_yet_valid);
  i.iat = kNow + 30;
  EXPECT_EQ(verify_err(sign(i, keys())), JwtError::none);

  // Extreme values do not overflow into validity.
  auto x = claims();
  x.exp = INT64_MIN;
  EXPECT_EQ(verify_err(sign(x, keys())), JwtError::expired);
  x = claims();
  x.nbf = INT64_MAX;
  EXPECT_EQ(verify_err(sign(x, keys())), JwtError::not_yet_valid);
}

TEST(Jwt, IssuerAudienceType) {
  auto c = claims();
  c.iss = "evil";
  EXPECT_EQ(verify_err(sign(c, keys())), JwtError::wrong_issuer);
  c = claims();
  c.aud = "evil";
  EXPECT_EQ(verify_err(sign(c, keys())), JwtError::wrong_audience);
  c = claims();
  c.type = "refresh";
  const auto refresh = sign(c, keys());
  EXPECT_EQ(verify_err(refresh, kNow, "access"), JwtError::wrong_type);
  EXPECT_EQ(verify_err(refresh, kNow, "refresh"), JwtError::none);
  EXPECT_EQ(verify_err(sign(claims(), keys()), kNow, "refresh"), JwtError::wrong_type);
  // A different configured issuer refuses ours.
  auto k = keys();
  k.issuer = "another";
  EXPECT_EQ(verify(sign(claims(), keys()), k, "access", kNow).error, JwtError::wrong_issuer);
}

TEST(Jwt, KeyRotation) {
  // A token signed with the previous key (as current back then) still verifies...
  JwtKeys old;
  old.current = keys().previous.front();
  const auto t = sign(claims(), old);
  EXPECT_EQ(verify_err(t), JwtError::none);
  // ...but not once the previous key is dropped.
  auto k = keys();
  k.previous.clear();
  EXPECT_EQ(verify(t, k, "access", kNow).error, JwtError::bad_signature);
  // The previous key never signs: a token from sign() verifies with the current key alone.
  const auto fresh = sign(claims(), keys());
  JwtKeys only_current;
  only_current.current = keys().current;
  EXPECT_EQ(verify(fresh, only_current, "access", kNow).error, JwtError::none);
  JwtKeys only_previous;
  only_previous.current = keys().previous.front();
  EXPECT_EQ(verify(fresh, only_previous, "access", kNow).error, JwtError::bad_signature);
}

TEST(Jwt, LongKeysWork) {
  JwtKeys k;
  k.current = SecretBytes::from_view(std::string(200, 'k'));  // longer than the SHA-256 block
  EXPECT_EQ(verify(sign(claims(), k), k, "access", kNow).error, JwtError::none);
  JwtKeys k2;
  k2.current = SecretBytes::from_view(std::string(199, 'k'));
  EXPECT_EQ(verify(sign(claims(), k), k2, "access", kNow).error, JwtError::bad_signature);
}

TEST(Jwt, HugeToken) {
  auto c = claims();
  c.csrf = std::string(4000, 'x');
  const auto t = sign(c, keys());
  ASSERT_GT(t.size(), 4096u);
  EXPECT_EQ(verify_err(t), JwtError::malformed);
  EXPECT_EQ(verify_err(std::string(1 << 20, 'a')), JwtError::malformed);
}

TEST(Jwt, Garbage) {
  for (const std::string g :
       {"", ".", "..", "...", "a.b", "a.b.c.d", "!!!.!!!.!!!", "eyJ.eyJ.", ".eyJ.abc", "a..b",
        "eyJhbGciOiJIUzI1NiJ9.e30", "eyJhbGciOiJIUzI1NiJ9.e30.", "eyJhbGciOiJIUzI1NiJ9.e30.====",
        "eyJhbGciOiJIUzI1NiJ9=.e30.AAAA", " eyJhbGciOiJIUzI1NiJ9.e30.AAAA"}) {
    SCOPED_TRACE(g);
    EXPECT_NE(verify_err(g), JwtError::none);
  }
  EXPECT_EQ(verify_err("..."), JwtError::malformed);
  EXPECT_EQ(verify_err(""), JwtError::malformed);
  EXPECT_EQ(verify_err("a*b.c.d"), JwtError::malformed);
  // Header that is not JSON, deeply nested JSON, bad escapes.
  const auto k = keys().current;
  EXPECT_EQ(verify_err(forge("not json", payload_json(), k)), JwtError::malformed);
  EXPECT_EQ(verify_err(forge(std::string(100, '[') + std::string(100, ']'), payload_json(), k)),
            JwtError::malformed);
  EXPECT_EQ(verify_err(forge(R"({"alg":"HS\u0032\u00356"})", payload_json(), k)), JwtError::none);
  EXPECT_EQ(verify_err(forge(R"({"alg":"HS256\ud800"})", payload_json(), k)), JwtError::malformed);
  EXPECT_EQ(verify_err(forge(R"({"alg":"HS256\q"})", payload_json(), k)), JwtError::malformed);
  EXPECT_EQ(verify_err(forge("{\"alg\":\"HS\n256\"}", payload_json(), k)), JwtError::malformed);
}

}  // namespace
}  // namespace sr::auth
