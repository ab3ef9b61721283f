// One declaration per configuration key: its name, kind, default per profile, bounds, help text and
// how a validated value lands in Config. config::load, check, prepare_secrets, the command line
// (--help, one flag per key) and the key table of docs/configuration.md all read this table; the
// environment variable of a key is always STRONGROOM_ + its name in upper case.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace sr::config {

enum class Kind {
  text,         // one string, validated and normalized by set_text
  integer,      // a decimal integer within [min, max]
  boolean,      // true/false, 1/0, yes/no, on/off
  number,       // a decimal number, validated by set_text
  list,         // comma-separated (or a TOML array); each item checked by item_ok
  secret,       // a key: hex, base64url, base64 or raw text; never shown
  secret_list,  // several keys
  rates,        // rate-limit overrides, merged per rule name across layers
};

// Default values as text, parsed like a configured value; empty = unset. "<data_dir>" stands for
// the effective data_dir.
struct Defaults {
  std::string_view development, test, production;
  constexpr Defaults(std::string_view all = {}) : development(all), test(all), production(all) {}
  constexpr Defaults(std::string_view dev, std::string_view tst, std::string_view prod)
      : development(dev), test(tst), production(prod) {}
  std::string_view of(std::string_view profile) const;
};

struct KeyDecl {
  std::string_view name;
  Kind kind;
  Defaults defaults;
  std::string_view expected;  // completes "expected ..., got ..." in error messages
  std::string_view help;      // one line: --help and the docs table
  std::string_view doc;       // more for the docs table (validation, caveats); may be empty
  // Shown instead of the defaults where they need words ("number of cores"); may be empty.
  std::string_view shown_default;
  int64_t min = 0, max = 0;       // integer bounds, inclusive
  bool empty_is_default = false;  // an empty value means "not given"
  // How a value is stored, by kind (exactly one is set):
  void (*set_int)(Config&, int64_t) = nullptr;
  void (*set_bool)(Config&, bool) = nullptr;
  // Validates, normalizes and stores; false (and *why, possibly empty) when the value is invalid.
  bool (*set_text)(Config&, std::string_view value, std::string* why) = nullptr;
  std::vector<std::string> Config::*list = nullptr;
  bool (*item_ok)(std::string_view item) = nullptr;
  SecretBytes Config::*secret = nullptr;
  std::vector<SecretBytes> Config::*secrets = nullptr;
  std::string Config::*source = nullptr;  // secret: where it came from (see Config)
  std::size_t exact_bytes = 0;            // secret: required decoded size, 0 = any (>= 1)

  bool is_secret() const { return kind == Kind::secret || kind == Kind::secret_list; }
};

// Every key, in the order of the docs.
std::span<const KeyDecl> keys();
const KeyDecl* find_key(std::string_view name);
// "STRONGROOM_ACCESS_TTL"
std::string env_name(std::string_view key);
// The "expected ..." text of a key's error messages.
std::string expected_text(const KeyDecl& k);
// The default as the docs show it: one value, or one per profile.
std::string default_text(const KeyDecl& k);

// The key table of docs/configuration.md (Markdown, with the rate-limit rules table).
std::string keys_markdown();
// What --help shows as the value of a key's flag: INT, BOOL, NUMBER, LIST, RULES or TEXT.
std::string_view type_name(Kind kind);
// A key's line in --help: its help text, default and environment variable.
std::string option_help(const KeyDecl& k);
// The --help footer naming the secret keys, which have no command-line flag.
std::string secrets_help();

}  // namespace sr::config
