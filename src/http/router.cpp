#include "http/router.hpp"

#include <stdexcept>

namespace sr::http {
namespace {

// "/a/{id}/b" -> {"a", "{id}", "b"}; "/" -> {}. Returns false when the path does not start with
// '/'.
template <class Out>
bool split_path(std::string_view path, Out& out) {
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  if (path.empty()) return true;
  for (;;) {
    auto slash = path.find('/');
    out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

bool is_param(std::string_view seg) {
  return seg.size() >= 3 && seg.front() == '{' && seg.back() == '}';
}

// Order of methods in Allow: stable and familiar.
constexpr Method kAllowOrder[] = {Method::GET,   Method::HEAD,    Method::POST,   Method::PUT,
                                  Method::PATCH, Method::DELETE_, Method::OPTIONS};

}  // namespace

void Router::add(Method m, std::string pattern, Handler h) {
  if (m == Method::OTHER || m == Method::HEAD)
    throw std::invalid_argument("router: HEAD follows GET; OTHER cannot be routed");
  if (!h) throw std::invalid_argument("router: empty handler for " + pattern);
  for (auto& r : routes_) {
    if (r.pattern != pattern) continue;
    for (auto& [hm, _] : r.handlers)
      if (hm == m) throw std::invalid_argument("router: duplicate route " + pattern);
    r.handlers.emplace_back(m, std::move(h));
    return;
  }
  Route r;
  std::vector<std::string_view> segs;
  if (!split_path(pattern, segs)) throw std::invalid_argument("router: bad pattern " + pattern);
  for (auto s : segs) {
    if (s.empty()) throw std::invalid_argument("router: empty segment in " + pattern);
    r.segments.emplace_back(s);
  }
  r.pattern = std::move(pattern);
  r.handlers.emplace_back(m, std::move(h));
  routes_.push_back(std::move(r));
}

std::optional<Router::Match> Router::match(Method m, std::string_view path) const {
  // Split the request path into at most 16 segments without allocating.
  constexpr std::size_t kMaxSegs = 16;
  std::string_view segs[kMaxSegs];
  std::size_t nseg = 0;
  {
    if (path.empty() || path.front() != '/') return std::nullopt;
    std::string_view rest = path.substr(1);
    if (!rest.empty()) {
      for (;;) {
        if (nseg == kMaxSegs) return std::nullopt;  // deeper than any route
        auto slash = rest.find('/');
        segs[nseg++] = rest.substr(0, slash);
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
      }
    }
  }
  const Method want = m == Method::HEAD ? Method::GET : m;

  const Route* best = nullptr;  // most specific route having the method
  const Handler* best_handler = nullptr;
  int best_literals = -1;
  bool any = false;
  bool allowed[std::size(kAllowOrder)] = {};

  for (const auto& r : routes_) {
    if (r.segments.size() != nseg) continue;
    int literals = 0;
    bool ok = true;
    for (std::size_t i = 0; i < nseg && ok; ++i) {
      const std::string& s = r.segments[i];
      if (is_param(s)) {
        ok = !segs[i].empty();
      } else {
        ok = s == segs[i];
        ++literals;
      }
    }
    if (!ok) continue;
    any = true;
    for (auto& [hm, h] : r.handlers) {
      for (std::size_t k = 0; k < std::size(kAllowOrder); ++k)
        if (kAllowOrder[k] == hm) allowed[k] = true;
      if (hm == want && literals > best_literals) {
        best = &r;
        best_handler = &h;
        best_literals = literals;
      }
    }
  }
  if (!any) return std::nullopt;

  Match out;
  if (allowed[0]) allowed[1] = true;           // HEAD with GET
  allowed[std::size(kAllowOrder) - 1] = true;  // OPTIONS is answered by the server
  for (std::size_t k = 0; k < std::size(kAllowOrder); ++k) {
    if (!allowed[k]) continue;
    if (!out.allow.empty()) out.allow += ", ";
    out.allow += method_name(kAllowOrder[k]);
  }
  if (!best) {
    // Report the pattern of the first matching route so logs and metrics stay bounded.
    for (const auto& r : routes_) {
      if (r.segments.size() != nseg) continue;
      bool ok = true;
      for (std::size_t i = 0; i < nseg && ok; ++i)
        ok = is_param(r.segments[i]) ? !segs[i].empty() : r.segments[i] == segs[i];
      if (ok) {
        out.pattern = r.pattern;
        break;
      }
    }
    return out;
  }
  out.handler = best_handler;
  out.pattern = best->pattern;
  for (std::size_t i = 0; i < nseg; ++i) {
    const std::string& s = best->segments[i];
    if (is_param(s)) out.params.emplace_back(std::string_view(s).substr(1, s.size() - 2), segs[i]);
  }
  return out;
}

}  // namespace sr::http
