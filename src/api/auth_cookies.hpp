// The cookies that carry a session's tokens and the vault session (SPEC 4 and 12).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "services/tokens.hpp"

namespace sr::api {

struct Context;

// The four Set-Cookie values for a token pair.
std::vector<std::string> token_cookies(const Context& ctx, const services::TokenPair& t);
// Set-Cookie values that expire every cookie of ours (auth and vault).
std::vector<std::string> clearing_cookies(const Context& ctx);
std::string vault_cookie(const Context& ctx, const std::string& token, int64_t max_age);

}  // namespace sr::api
