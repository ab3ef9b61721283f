// The effective limits of the rows of SPEC 8.
#pragma once
#include <string_view>

#include "ratelimit/limiter.hpp"

namespace sr::api {

struct Context;

// The effective limit of a SPEC 8 row: defaults, config overrides, times rate_limit_scale.
ratelimit::Limit rule_limit(const Context& ctx, std::string_view rule);

}  // namespace sr::api
