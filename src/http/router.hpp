// Routes: exact segments and {name} parameters, e.g. "/social/links/{id}". A parameter matches one
// non-empty path segment (no '/'); its value is passed raw (handlers validate it). A prefix route
// (add_prefix) takes every path under its prefix that no exact route takes: the web interface's
// page paths and assets (src/ui).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/types.hpp"

namespace sr::http {

class Router {
 public:
  void add(Method m, std::string pattern, Handler h);
  // Every path starting with `prefix` (which ends in '/') that no route of add() matches; its
  // pattern in logs and metrics is prefix + "*", whatever the path.
  void add_prefix(Method m, std::string prefix, Handler h);

  struct Match {
    const Handler* handler = nullptr;  // null: path known but method not allowed (405)
    std::string_view pattern;          // the route's pattern
    std::vector<std::pair<std::string_view, std::string_view>> params;  // views into the path
    // "GET, PUT" (+ OPTIONS), for 405 and preflight: filled only when no handler matched (a
    // request that has one never sends Allow, so it does not pay for building it).
    std::string allow;
  };
  // nullopt: no route has this path (404). HEAD matches GET routes.
  std::optional<Match> match(Method m, std::string_view path) const;

 private:
  struct Route {
    std::string pattern;
    std::vector<std::string> segments;  // "{x}" marks a parameter
    std::vector<std::pair<Method, Handler>> handlers;
  };
  std::vector<Route> routes_;
  std::vector<Route> prefixes_;  // pattern = prefix + "*", no segments
  // The routes without parameters, by pattern: index into routes_.
  std::map<std::string, std::size_t, std::less<>> literals_;

  std::optional<Match> match_exact(Method m, std::string_view path) const;
  std::optional<Match> match_prefix(Method m, std::string_view path) const;
};

}  // namespace sr::http
