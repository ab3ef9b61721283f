#include "auth/jwt.hpp"

#include <sodium.h>

#include <charconv>
#include <map>
#include <memory>
#include <stdexcept>
#include <variant>

#include "util/encoding.hpp"
#include "util/random.hpp"

namespace sr::auth {
namespace {

constexpr std::size_t kMaxToken = 4096;
constexpr std::size_t kMacBytes = crypto_auth_hmacsha256_BYTES;

// ---- A small strict JSON reader (RFC 8259) for the header and the claims ---------------------
// Enough for JWT: objects, arrays, strings (with every escape, surrogate pairs checked), numbers
// kept as their text, literals. Duplicate object keys are refused (RFC 7519 section 4 allows
// that), as is any nesting deeper than kMaxDepth. Anything odd is "malformed".

constexpr int kMaxDepth = 8;

struct Value;
using Object = std::map<std::string, Value, std::less<>>;
using Array = std::vector<Value>;
struct Number {
  std::string text;
};
struct Value {
  std::variant<std::nullptr_t, bool, Number, std::string, std::shared_ptr<Array>,
               std::shared_ptr<Object>>
      v;
};

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  std::optional<Object> document() {
    ws();
    if (!peek('{')) return std::nullopt;
    Value v;
    if (!value(v, 0)) return std::nullopt;
    ws();
    if (i_ != s_.size()) return std::nullopt;
    return std::move(*std::get<std::shared_ptr<Object>>(v.v));
  }

 private:
  bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  void ws() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  bool lit(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }

  bool value(Value& out, int depth) {
    if (depth > kMaxDepth) return false;
    ws();
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      std::string str;
      if (!string(str)) return false;
      out.v = std::move(str);
      return true;
    }
    if (c == 't') return lit("true") && (out.v = true, true);
    if (c == 'f') return lit("false") && (out.v = false, true);
    if (c == 'n') return lit("null") && (out.v = nullptr, true);
    return number(out);
  }

  bool object(Value& out, int depth) {
    auto obj = std::make_shared<Object>();
    ++i_;  // '{'
    ws();
    if (peek('}')) {
      ++i_;
      out.v = std::move(obj);
      return true;
    }
    for (;;) {
      ws();
      std::string key;
      if (!peek('"') || !string(key)) return false;
      ws();
      if (!peek(':')) return false;
      ++i_;
      Value member;
      if (!value(member, depth + 1)) return false;
      if (!obj->emplace(std::move(key), std::move(member)).second) return false;  // duplicate
      ws();
      if (peek(',')) {
        ++i_;
        continue;
      }
      if (peek('}')) {
        ++i_;
        out.v = std::move(obj);
        return true;
      }
      return false;
    }
  }

  bool array(Value& out, int depth) {
    auto arr = std::make_shared<Array>();
    ++i_;  // '['
    ws();
    if (peek(']')) {
      ++i_;
      out.v = std::move(arr);
      return true;
    }
    for (;;) {
      Value item;
      if (!value(item, depth + 1)) return false;
      arr->push_back(std::move(item));
      ws();
      if (peek(',')) {
        ++i_;
        continue;
      }
      if (peek(']')) {
        ++i_;
        out.v = std::move(arr);
        return true;
      }
      return false;
    }
  }

  bool number(Value& out) {
    const std::size_t start = i_;
    auto digits = [&] {
      const std::size_t b = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ > b;
    };
    if (peek('-')) ++i_;
    if (peek('0')) {
      ++i_;
    } else if (!digits()) {
      return false;
    }
    if (peek('.')) {
      ++i_;
      if (!digits()) return false;
    }
    if (peek('e') || peek('E')) {
      ++i_;
      if (peek('+') || peek('-')) ++i_;
      if (!digits()) return false;
    }
    out.v = Number{std::string(s_.substr(start, i_ - start))};
    return true;
  }

  bool hex4(uint32_t& cp) {
    if (s_.size() - i_ < 4) return false;
    cp = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[i_++];
      cp <<= 4;
      if (h >= '0' && h <= '9') {
        cp |= static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        cp |= static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        cp |= static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool string(std::string& out) {
    ++i_;  // opening quote
    for (;;) {
      if (i_ >= s_.size()) return false;
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c != '\\') {
        out += static_cast<char>(c);
        ++i_;
        continue;
      }
      ++i_;
      if (i_ >= s_.size()) return false;
      const char e = s_[i_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // lone low surrogate
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (!lit("\\u") || !hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default:
          return false;
      }
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

void write_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void hmac(const SecretBytes& key, std::string_view signing_input, unsigned char out[kMacBytes]) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(signing_input.data()),
                                signing_input.size());
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof st);
}

enum class Got { ok, missing, wrong_type };

Got get_string(const Object& o, std::string_view k, std::string& out) {
  auto it = o.find(k);
  if (it == o.end()) return Got::missing;
  const auto* s = std::get_if<std::string>(&it->second.v);
  if (!s) return Got::wrong_type;
  out = *s;
  return out.empty() ? Got::missing : Got::ok;
}

// NumericDate (RFC 7519 section 2), restricted to integers that fit in int64.
Got get_int(const Object& o, std::string_view k, int64_t& out) {
  auto it = o.find(k);
  if (it == o.end()) return Got::missing;
  const auto* n = std::get_if<Number>(&it->second.v);
  if (!n) return Got::wrong_type;
  const std::string& t = n->text;
  if (t.find_first_of(".eE") != std::string::npos) return Got::wrong_type;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), out);
  if (r.ec != std::errc() || r.ptr != t.data() + t.size()) return Got::wrong_type;
  return Got::ok;
}

}  // namespace

void hmac_sha256(const SecretBytes& key, std::string_view data, unsigned char out[kMacBytes]) {
  hmac(key, data, out);
}

std::string sign(const Claims& c, const JwtKeys& keys) {
  if (keys.current.empty()) throw std::invalid_argument("jwt: empty signing key");
  crypto_init();
  std::string payload = "{";
  auto str = [&](std::string_view k, std::string_view v) {
    if (payload.size() > 1) payload += ',';
    write_string(payload, k);
    payload += ':';
    write_string(payload, v);
  };
  auto num = [&](std::string_view k, int64_t v) {
    payload += ',';
    write_string(payload, k);
    payload += ':';
    payload += std::to_string(v);
  };
  str("sub", c.sub);
  str("sid", c.sid);
  str("jti", c.jti);
  str("type", c.type);
  str("csrf", c.csrf);
  str("iss", c.iss);
  str("aud", c.aud);
  num("iat", c.iat);
  num("nbf", c.nbf);
  num("exp", c.exp);
  payload += '}';

  std::string token = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  token += '.';
  token += base64url_encode(payload);
  unsigned char mac[kMacBytes];
  hmac(keys.current, token, mac);
  token += '.';
  token += base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
  return token;
}

Verified verify(std::string_view token, const JwtKeys& keys, std::string_view expected_type,
                int64_t now) {
  Verified out;
  auto fail = [&](JwtError e) {
    out.error = e;
    out.claims = Claims{};
    return out;
  };
  if (token.empty() || token.size() > kMaxToken) return fail(JwtError::malformed);
  const std::size_t d1 = token.find('.');
  if (d1 == std::string_view::npos) return fail(JwtError::malformed);
  const std::size_t d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return fail(JwtError::malformed);
  }
  const std::string_view h64 = token.substr(0, d1);
  const std::string_view p64 = token.substr(d1 + 1, d2 - d1 - 1);
  const std::string_view s64 = token.substr(d2 + 1);
  if (h64.empty() || p64.empty() || s64.empty()) return fail(JwtError::malformed);

  // 1. The header: exactly alg=HS256 and optionally typ=JWT, nothing else (no kid, jku, crit...).
  const auto hjson = base64url_decode(h64);
  if (!hjson) return fail(JwtError::malformed);
  const auto header = Reader(*hjson).document();
  if (!header) return fail(JwtError::malformed);
  {
    std::string alg, typ;
    if (get_string(*header, "alg", alg) != Got::ok || alg != "HS256") {
      return fail(JwtError::bad_header);
    }
    std::size_t allowed = 1;
    if (header->count("typ")) {
      if (get_string(*header, "typ", typ) != Got::ok || typ != "JWT") {
        return fail(JwtError::bad_header);
      }
      ++allowed;
    }
    if (header->size() != allowed) return fail(JwtError::bad_header);
  }

  // 2. The signature, before the payload is even decoded: current key, then each previous one.
  const auto sig = base64url_decode(s64);
  if (!sig) return fail(JwtError::malformed);
  if (sig->size() != kMacBytes) return fail(JwtError::bad_signature);
  const std::string_view signing_input = token.substr(0, d2);
  bool good = false;
  auto try_key = [&](const SecretBytes& k) {
    if (good || k.empty()) return;
    unsigned char mac[kMacBytes];
    hmac(k, signing_input, mac);
    good = sodium_memcmp(mac, sig->data(), kMacBytes) == 0;
    sodium_memzero(mac, sizeof mac);
  };
  try_key(keys.current);
  for (const auto& k : keys.previous) try_key(k);
  if (!good) return fail(JwtError::bad_signature);

  // 3. The claims: all required, each with its type.
  const auto pjson = base64url_decode(p64);
  if (!pjson) return fail(JwtError::malformed);
  const auto payload = Reader(*pjson).document();
  if (!payload) return fail(JwtError::malformed);
  Claims& c = out.claims;
  bool missing = false;
  auto check = [&](Got g) {
    if (g == Got::missing) missing = true;
    return g != Got::wrong_type;
  };
  if (!check(get_string(*payload, "sub", c.sub)) || !check(get_string(*payload, "sid", c.sid)) ||
      !check(get_string(*payload, "jti", c.jti)) || !check(get_string(*payload, "type", c.type)) ||
      !check(get_string(*payload, "csrf", c.csrf)) || !check(get_string(*payload, "iss", c.iss)) ||
      !check(get_int(*payload, "iat", c.iat)) || !check(get_int(*payload, "nbf", c.nbf)) ||
      !check(get_int(*payload, "exp", c.exp))) {
    return fail(JwtError::malformed);
  }
  // aud: a string, or an array of strings (RFC 7519 section 4.1.3) that must contain ours.
  bool aud_ok = false;
  {
    auto it = payload->find("aud");
    if (it == payload->end()) {
      missing = true;
    } else if (const auto* s = std::get_if<std::string>(&it->second.v)) {
      c.aud = *s;
      aud_ok = (*s == keys.issuer);
    } else if (const auto* a = std::get_if<std::shared_ptr<Array>>(&it->second.v)) {
      if ((*a)->empty()) missing = true;
      for (const Value& v : **a) {
        const auto* s = std::get_if<std::string>(&v.v);
        if (!s) return fail(JwtError::malformed);
        if (*s == keys.issuer) {
          aud_ok = true;
          c.aud = *s;
        }
      }
    } else {
      return fail(JwtError::malformed);
    }
  }
  if (missing) return fail(JwtError::missing_claim);
  if (c.iss != keys.issuer) return fail(JwtError::wrong_issuer);
  if (!aud_ok) return fail(JwtError::wrong_audience);
  if (c.type != expected_type) return fail(JwtError::wrong_type);
  // Written so that nothing can overflow: now and leeway are sane, the claims may be anything.
  if (c.exp <= now - keys.leeway) return fail(JwtError::expired);
  if (c.nbf > now + keys.leeway || c.iat > now + keys.leeway) {
    return fail(JwtError::not_yet_valid);
  }
  return out;
}

}  // namespace sr::auth
