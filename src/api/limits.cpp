#include "api/limits.hpp"

#include <cmath>
#include <string>

#include "api/context.hpp"
#include "ratelimit/rules.hpp"

namespace sr::api {

ratelimit::Limit rule_limit(const Context& ctx, std::string_view rule) {
  ratelimit::Limit l{0, 60};
  if (const auto* r = ratelimit::find_rule(rule)) l = {r->count, r->period};
  if (auto it = ctx.cfg.rate_limits.find(std::string(rule)); it != ctx.cfg.rate_limits.end())
    l = {it->second.count, it->second.period};
  double scaled = std::ceil(static_cast<double>(l.count) * ctx.cfg.rate_limit_scale);
  l.count = scaled > 1e15 ? static_cast<int64_t>(1e15) : static_cast<int64_t>(scaled);
  return l;
}

}  // namespace sr::api
