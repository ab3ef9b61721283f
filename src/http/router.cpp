#include "http/router.hpp"

#include <algorithm>
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

void add_handler(std::vector<std::pair<Method, Handler>>& hs, Method m, Handler h,
                 const std::string& pattern) {
  if (m == Method::OTHER || m == Method::HEAD)
    throw std::invalid_argument("router: HEAD follows GET; OTHER cannot be routed");
  if (!h) throw std::invalid_argument("router: empty handler for " + pattern);
  for (auto& [hm, _] : hs)
    if (hm == m) throw std::invalid_argument("router: duplicate route " + pattern);
  hs.emplace_back(m, std::move(h));
}

using Allowed = bool[std::size(kAllowOrder)];

void mark_allowed(Allowed& allowed, const std::vector<std::pair<Method, Handler>>& hs) {
  for (auto& [hm, h] : hs)
    for (std::size_t k = 0; k < std::size(kAllowOrder); ++k)
      if (kAllowOrder[k] == hm) allowed[k] = true;
}

// "GET, HEAD, PUT, OPTIONS": HEAD with GET, OPTIONS always (the server answers it).
std::string render_allow(Allowed& allowed) {
  if (allowed[0]) allowed[1] = true;
  allowed[std::size(kAllowOrder) - 1] = true;
  std::string out;
  for (std::size_t k = 0; k < std::size(kAllowOrder); ++k) {
    if (!allowed[k]) continue;
    if (!out.empty()) out += ", ";
    out += method_name(kAllowOrder[k]);
  }
  return out;
}

}  // namespace

void Router::add_prefix(Method m, std::string prefix, Handler h) {
  if (prefix.size() < 2 || prefix.front() != '/' || prefix.back() != '/')
    throw std::invalid_argument("router: a prefix starts and ends with '/': " + prefix);
  std::string pattern = prefix + "*";
  for (auto& r : prefixes_) {
    if (r.pattern != pattern) continue;
    add_handler(r.handlers, m, std::move(h), pattern);
    return;
  }
  Route r;
  r.pattern = std::move(pattern);
  add_handler(r.handlers, m, std::move(h), r.pattern);
  prefixes_.push_back(std::move(r));
}

std::optional<Router::Match> Router::match(Method m, std::string_view path) const {
  auto exact = match_exact(m, path);
  if (exact || prefixes_.empty()) return exact;
  return match_prefix(m, path);
}

std::optional<Router::Match> Router::match_prefix(Method m, std::string_view path) const {
  const Route* best = nullptr;  // the longest prefix
  for (const auto& r : prefixes_) {
    std::string_view prefix(r.pattern.data(), r.pattern.size() - 1);
    if (path.starts_with(prefix) && (!best || r.pattern.size() > best->pattern.size())) best = &r;
  }
  if (!best) return std::nullopt;
  const Method want = m == Method::HEAD ? Method::GET : m;
  Match out;
  out.pattern = best->pattern;
  Allowed allowed = {};
  mark_allowed(allowed, best->handlers);
  for (auto& [hm, h] : best->handlers)
    if (hm == want) out.handler = &h;
  if (!out.handler) out.allow = render_allow(allowed);
  return out;
}

void Router::add(Method m, std::string pattern, Handler h) {
  for (auto& r : routes_) {
    if (r.pattern != pattern) continue;
    add_handler(r.handlers, m, std::move(h), pattern);
    return;
  }
  Route r;
  std::vector<std::string_view> segs;
  if (!split_path(pattern, segs)) throw std::invalid_argument("router: bad pattern " + pattern);
  for (auto s : segs) {
    if (s.empty()) throw std::invalid_argument("router: empty segment in " + pattern);
    r.segments.emplace_back(s);
  }
  add_handler(r.handlers, m, std::move(h), pattern);
  const bool literal = std::none_of(r.segments.begin(), r.segments.end(),
                                    [](const std::string& s) { return is_param(s); });
  if (literal) literals_.emplace(pattern, routes_.size());
  r.pattern = std::move(pattern);
  routes_.push_back(std::move(r));
}

std::optional<Router::Match> Router::match_exact(Method m, std::string_view path) const {
  const Method want = m == Method::HEAD ? Method::GET : m;
  // A route without parameters that is this very path and has the method is the most specific
  // match there is: found without the scan below (which it would win).
  if (const auto it = literals_.find(path); it != literals_.end()) {
    const Route& r = routes_[it->second];
    for (const auto& [hm, h] : r.handlers) {
      if (hm != want) continue;
      Match out;
      out.handler = &h;
      out.pattern = r.pattern;
      return out;
    }
  }
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

  const Route* best = nullptr;  // most specific route having the method
  const Handler* best_handler = nullptr;
  int best_literals = -1;
  bool any = false;
  Allowed allowed = {};

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
    mark_allowed(allowed, r.handlers);
    for (auto& [hm, h] : r.handlers) {
      if (hm == want && literals > best_literals) {
        best = &r;
        best_handler = &h;
        best_literals = literals;
      }
    }
  }
  if (!any) return std::nullopt;

  Match out;
  if (!best) {
    out.allow = render_allow(allowed);
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
