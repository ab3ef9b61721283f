// Recovery codes of the two-step sign-in (SPEC 13): ten per set, each 16 characters drawn
// uniformly from a 30-character alphabet without the look-alikes 0 O 1 I L U (16 x log2(30) =
// 78.5 random bits, against the SPEC's 50), shown as four groups of four: "7KQM-V2XA-9HTD-C4NE".
// Typed back case-insensitively, with or without the hyphens. Stored only as keyed hashes
// (TotpKeys::recovery_code_hash of the normalized form).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sr::auth::recovery {

inline constexpr std::string_view kAlphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ";
inline constexpr std::size_t kLength = 16;  // characters, without the hyphens
inline constexpr std::size_t kGroup = 4;
inline constexpr std::size_t kPerSet = 10;

// One code as it is shown: four groups of four joined by '-'.
std::string generate();
// A set of kPerSet distinct codes.
std::vector<std::string> generate_set();

// The canonical form (16 upper-case characters of the alphabet) of what a user typed: exactly
// the shown form or the same without hyphens, in either case. nullopt for anything else.
std::optional<std::string> normalize(std::string_view typed);

}  // namespace sr::auth::recovery
