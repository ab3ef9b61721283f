// Routes: exact segments and {name} parameters, e.g. "/social/links/{id}". A parameter matches one
// non-empty path segment (no '/'); its value is passed raw (handlers validate it).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/types.hpp"

namespace sr::http {

class Router {
 public:
  void add(Method m, std::string pattern, Handler h);

  struct Match {
    const Handler* handler = nullptr;  // null: path known but method not allowed (405)
    std::string_view pattern;          // the route's pattern
    std::vector<std::pair<std::string_view, std::string_view>> params;  // views into the path
    std::string allow;  // "GET, PUT" (+ OPTIONS) for 405 and preflight
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
};

}  // namespace sr::http
