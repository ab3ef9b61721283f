#include "config/detail.hpp"

#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>

#include "util/encoding.hpp"
#include "util/net_address.hpp"
#include "util/utf8.hpp"

namespace sr::config::detail {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}
std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}
std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> parse_int(std::string_view s) {
  s = trim(s);
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(std::string_view s) {
  std::string l = lower(trim(s));
  if (l == "true" || l == "1" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "0" || l == "no" || l == "off") return false;
  return std::nullopt;
}

namespace {

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto r = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (r.ec == std::errc() && r.ptr == s.data() + i + 3) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool valid_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  unsigned v = 0;
  auto r = std::from_chars(p.data(), p.data() + p.size(), v);
  return r.ec == std::errc() && r.ptr == p.data() + p.size() && v <= 65535;
}

// "host", "host:port", "[v6]", "[v6]:port" -> host (brackets removed); false if malformed.
bool split_host_port(std::string_view hp, std::string& host) {
  if (hp.empty()) {
    host.clear();
    return true;
  }
  if (hp.front() == '[') {
    auto close = hp.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(hp.substr(1, close - 1));
    auto rest = hp.substr(close + 1);
    if (rest.empty()) return true;
    return rest.front() == ':' && valid_port(rest.substr(1));
  }
  auto colon = hp.rfind(':');
  if (colon == std::string_view::npos) {
    host = percent_decode(hp);
    return true;
  }
  if (hp.find(':') != colon) return false;  // a bare IPv6 literal needs brackets
  host = percent_decode(hp.substr(0, colon));
  return valid_port(hp.substr(colon + 1));
}

}  // namespace

std::string secret_weakness(const SecretBytes& s) {
  if (s.size() < 32) return "shorter than 32 bytes (" + std::to_string(s.size()) + " bytes)";
  bool seen[256] = {};
  int distinct = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!seen[s.data()[i]]) {
      seen[s.data()[i]] = true;
      ++distinct;
    }
  }
  if (distinct < 16)
    return "low entropy (only " + std::to_string(distinct) + " distinct byte values)";
  if (utf8_length(s.view()) && !has_control_chars(s.view()))
    return "it is printable text, not random bytes (give the key as hex or base64 of random bytes)";
  std::string spelled = base64url_encode(s.view());
  double bits = word_likeness_bits(spelled);
  sodium_memzero(spelled.data(), spelled.size());
  if (bits >= kWordLikenessLimit)
    return "it does not look random (its base64url spelling reads like words or a sequence)";
  return {};
}

namespace {

// English letter frequencies (percent), a..z.
constexpr double kLetterFreq[26] = {8.2,  1.5,  2.8, 4.3,  12.7, 2.2,  2.0, 6.1,   7.0,
                                    0.15, 0.77, 4.0, 2.4,  6.7,  7.5,  1.9, 0.095, 6.0,
                                    6.3,  9.1,  2.8, 0.98, 2.4,  0.15, 2.0, 0.074};

bool is_vowel(int letter) {
  return letter == 0 || letter == 4 || letter == 8 || letter == 14 || letter == 20;  // a e i o u
}

enum Cls { kLower, kUpper, kDigit, kSep, kStart };

// P(class | previous class) of one word model; rows sum to 1.
using Style = double[5][4];
// Rows by previous class: lower, upper, digit, separator, start.
constexpr Style kStyles[] = {
    // lower-case words, optionally joined by separators or digits
    {{.87, 0, .04, .09}, {.9, 0, .05, .05}, {.2, 0, .62, .18}, {.9, 0, .1, 0}, {.92, 0, .08, 0}},
    // UPPER-CASE words
    {{0, .9, .05, .05}, {0, .87, .04, .09}, {0, .2, .62, .18}, {0, .9, .1, 0}, {0, .92, .08, 0}},
    // CamelCase
    {{.80, .16, .04, 0}, {.85, .12, .03, 0}, {.05, .35, .6, 0}, {0, 1, 0, 0}, {.05, .9, .05, 0}},
    // Camel-Case-With-Separators
    {{.82, 0, .04, .14},
     {.85, .05, .03, .07},
     {.05, .1, .6, .25},
     {.05, .9, .05, 0},
     {.05, .9, .05, 0}},
};

Cls class_of(char ch) {
  if (ch >= 'a' && ch <= 'z') return kLower;
  if (ch >= 'A' && ch <= 'Z') return kUpper;
  if (ch >= '0' && ch <= '9') return kDigit;
  return kSep;  // '-', '_' (base64url) or '+', '/' (base64): two per alphabet
}

// log2 of (P(text | style) * 64^n).
double style_bits(std::string_view text, const Style& st) {
  static const double vowel_total = [] {
    double t = 0;
    for (int i = 0; i < 26; ++i) t += is_vowel(i) ? kLetterFreq[i] : 0;
    return t;
  }();
  static const double consonant_total = [] {
    double t = 0;
    for (int i = 0; i < 26; ++i) t += is_vowel(i) ? 0 : kLetterFreq[i];
    return t;
  }();
  Cls prev = kStart;
  int prev_kind = -1;  // -1: a word starts; 0: after a consonant; 1: after a vowel
  double bits = 0;
  for (char ch : text) {
    Cls c = class_of(ch);
    double p = st[prev][c];
    if (c == kLower || c == kUpper) {
      bool new_word = (prev != kLower && prev != kUpper) || (c == kUpper && prev == kLower);
      int letter = (c == kLower ? ch - 'a' : ch - 'A');
      bool vowel = is_vowel(letter);
      // P(vowel | previous letter kind): words start with a consonant 70% of the time; vowels are
      // followed by consonants 75%, consonants by vowels 50%.
      double p_vowel = new_word || prev_kind < 0 ? .30 : prev_kind == 1 ? .25 : .50;
      p *= (vowel ? p_vowel : 1 - p_vowel) * kLetterFreq[letter] /
           (vowel ? vowel_total : consonant_total);
      prev_kind = vowel ? 1 : 0;
    } else {
      p *= c == kDigit ? .1 : .5;
      prev_kind = -1;
    }
    if (p <= 0) return -1e9;
    bits += std::log2(p * 64);
    prev = c;
  }
  return bits;
}

// Each character follows its predecessor in the base64url alphabet with probability 0.9.
double sequence_bits(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  double bits = 0;
  for (size_t i = 1; i < text.size(); ++i) {
    auto a = kAlphabet.find(text[i - 1]), b = kAlphabet.find(text[i]);
    double p = .1 / 64 + (a != std::string_view::npos && b == (a + 1) % 64 ? .9 : 0);
    bits += std::log2(p * 64);
  }
  return bits;
}

}  // namespace

double word_likeness_bits(std::string_view text) {
  double parts[std::size(kStyles) + 1];
  size_t n = 0;
  for (const auto& st : kStyles) parts[n++] = style_bits(text, st);
  parts[n++] = sequence_bits(text);
  double top = *std::max_element(parts, parts + n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::exp2(parts[i] - top);
  return top + std::log2(sum / static_cast<double>(n));
}

bool is_local_host(std::string_view host) {
  if (host.empty() || host.front() == '/' || host.front() == '@') return true;
  std::string h = lower(host);
  if (h.size() > 1 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h == "localhost" || h.ends_with(".localhost")) return true;
  if (auto ip = net::parse_ip(h)) return net::is_loopback(*ip);
  return false;
}

std::optional<DbUrl> parse_database_url(std::string_view url, std::string* why) {
  DbUrl out;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    *why = "expected sqlite://<path> or postgresql://...";
    return std::nullopt;
  }
  std::string scheme = lower(url.substr(0, sep));
  auto rest = url.substr(sep + 3);
  if (scheme == "sqlite") {
    if (rest.empty()) {
      *why = "sqlite:// needs a file path";
      return std::nullopt;
    }
    out.scheme = "sqlite";
    out.path = std::string(rest);
    return out;
  }
  if (scheme != "postgresql" && scheme != "postgres") {
    *why = "only sqlite:// and postgresql:// (or postgres://) are supported";
    return std::nullopt;
  }
  out.scheme = "postgresql";
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    out.path = percent_decode(rest.substr(slash + 1));
  }
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);
  while (!authority.empty()) {
    auto comma = authority.find(',');
    auto hp = authority.substr(0, comma);
    std::string host;
    if (!split_host_port(hp, host)) {
      *why = "malformed host or port in the URL";
      return std::nullopt;
    }
    out.hosts.push_back(host);
    if (comma == std::string_view::npos) break;
    authority = authority.substr(comma + 1);
  }
  while (!query.empty()) {
    auto amp = query.find('&');
    auto kv = query.substr(0, amp);
    auto eq = kv.find('=');
    std::string k = percent_decode(kv.substr(0, eq));
    std::string v = eq == std::string_view::npos ? "" : percent_decode(kv.substr(eq + 1));
    if (k == "sslmode") {
      static const char* modes[] = {"disable", "allow",     "prefer",
                                    "require", "verify-ca", "verify-full"};
      if (std::find(std::begin(modes), std::end(modes), v) == std::end(modes)) {
        *why = "sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full";
        return std::nullopt;
      }
      out.sslmode = v;
    } else if (k == "host") {
      out.hosts.clear();
      std::string_view hv = v;
      while (true) {
        auto c = hv.find(',');
        out.hosts.emplace_back(hv.substr(0, c));
        if (c == std::string_view::npos) break;
        hv = hv.substr(c + 1);
      }
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return out;
}

std::optional<DbUrl> parse_redis_url(std::string_view url, std::string* why) {
  DbUrl out;
  auto sep = url.find("://");
  std::string scheme = sep == std::string_view::npos ? "" : lower(url.substr(0, sep));
  if (scheme != "redis" && scheme != "rediss" && scheme != "unix") {
    *why = "expected redis://host[:port][/db], rediss://... or unix:///path";
    return std::nullopt;
  }
  out.scheme = scheme;
  auto rest = url.substr(sep + 3);
  if (scheme == "unix") {
    if (rest.empty() || rest.front() != '/') {
      *why = "unix:// needs an absolute socket path";
      return std::nullopt;
    }
    out.path = std::string(rest);
    return out;
  }
  auto authority = rest.substr(0, rest.find_first_of("/?"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);
  std::string host;
  if (authority.empty() || !split_host_port(authority, host) || host.empty()) {
    *why = "malformed host or port in the URL";
    return std::nullopt;
  }
  out.hosts.push_back(host);
  return out;
}

std::string redact_url(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::string(url);
  auto start = sep + 3;
  auto end = url.find_first_of("/?", start);
  if (end == std::string_view::npos) end = url.size();
  auto at = url.substr(start, end - start).rfind('@');
  std::string out(url);
  if (at != std::string_view::npos) {
    auto userinfo = url.substr(start, at);
    auto colon = userinfo.find(':');
    if (colon != std::string_view::npos)
      out = std::string(url.substr(0, start + colon + 1)) + "***" +
            std::string(url.substr(start + at));
  }
  // A password may also sit in the query (libpq's password=...).
  auto p = out.find("password=");
  if (p != std::string::npos && (p == 0 || out[p - 1] == '?' || out[p - 1] == '&')) {
    auto e = out.find('&', p);
    out.replace(p + 9, (e == std::string::npos ? out.size() : e) - (p + 9), "***");
  }
  return out;
}

}  // namespace sr::config::detail
