// The OpenAPI 3.1 document of the route table (see api/openapi.hpp). Built once, when the
// api::Context is made, and served as it is.
#include "api/openapi.hpp"

#include <boost/json.hpp>
#include <cctype>
#include <limits>
#include <map>
#include <set>

#include "util/error.hpp"

namespace sr::api {
namespace {

namespace bj = boost::json;

std::string component(std::string_view kind, std::string_view name) {
  return std::string("#/components/").append(kind).append("/").append(name);
}

bj::object ref(std::string_view kind, std::string_view name) {
  return bj::object{{"$ref", component(kind, name)}};
}

// ---- Route::response, the notation of api/openapi.hpp

class ShapeParser {
 public:
  ShapeParser(std::string_view text, const std::set<std::string, std::less<>>& names)
      : s_(text), names_(names) {}

  bj::value parse() {
    bj::value v = shape();
    skip_space();
    if (i_ != s_.size()) fail("unexpected text");
    return v;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    throw std::invalid_argument(std::string(what) + " at offset " + std::to_string(i_) + " of \"" +
                                std::string(s_) + "\"");
  }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool eat(char c) {
    skip_space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  std::string_view word() {
    skip_space();
    const std::size_t begin = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_'))
      ++i_;
    if (begin == i_) fail("expected a name");
    return s_.substr(begin, i_ - begin);
  }

  bj::value shape() {
    bj::array alts;
    do alts.push_back(alternative());
    while (eat('|'));
    if (alts.size() == 1) return alts[0];
    return bj::object{{"anyOf", std::move(alts)}};
  }
  bj::value alternative() {
    if (eat('{')) return object();
    if (eat('[')) {
      bj::value item = shape();
      expect(']');
      return bj::object{{"type", "array"}, {"items", std::move(item)}};
    }
    return named(word());
  }
  bj::value object() {
    bj::object props;
    bj::array required;
    if (!eat('}')) {
      do {
        const std::string_view key = word();
        const bool optional = eat('?');
        expect(':');
        if (props.contains(key)) fail("duplicate field");
        props[key] = shape();
        if (!optional) required.emplace_back(key);
      } while (eat(','));
      expect('}');
    }
    bj::object o{{"type", "object"}, {"properties", std::move(props)}};
    if (!required.empty()) o["required"] = std::move(required);
    o["additionalProperties"] = false;  // what the server writes, and nothing else
    return o;
  }
  bj::value named(std::string_view n) {
    if (n == "string" || n == "integer" || n == "boolean" || n == "null" || n == "object")
      return bj::object{{"type", n}};
    if (n == "id") return bj::object{{"type", "integer"}, {"minimum", 1}};
    if (n == "count") return bj::object{{"type", "integer"}, {"minimum", 0}};
    if (n == "time")
      return bj::object{{"type", "string"},
                        {"format", "date-time"},
                        {"pattern", R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$)"}};
    if (std::isupper(static_cast<unsigned char>(n[0]))) {
      if (!names_.contains(n)) fail("unknown shape " + std::string(n));
      return ref("schemas", n);
    }
    fail("unknown type " + std::string(n));
  }

  std::string_view s_;
  const std::set<std::string, std::less<>>& names_;
  std::size_t i_ = 0;
};

// ---- request bodies: json::Schema as the parser applies it (json/json.hpp)

// What the parser refuses in single-line and multi-line strings, as ECMA-262 patterns.
constexpr std::string_view kSingleLine = R"(^[^\u0000-\u001F\u007F]*$)";
constexpr std::string_view kMultiLine = R"(^[^\u0000-\u0008\u000B\u000C\u000E-\u001F]*$)";

bj::object field_schema(const json::FieldRule& r) {
  bj::object o;
  std::string doc = r.doc;
  switch (r.type) {
    case json::Type::string:
      o["type"] = "string";
      if (r.min_chars > 0) o["minLength"] = r.min_chars;
      if (r.max_chars != std::numeric_limits<std::size_t>::max()) o["maxLength"] = r.max_chars;
      // The field's own pattern, when it has one, admits no control character either.
      o["pattern"] = !r.pattern.empty() ? std::string_view(r.pattern)
                     : r.single_line    ? kSingleLine
                                        : kMultiLine;
      if (!doc.empty()) doc += "; ";
      doc += r.single_line ? "one line: no control characters"
                           : "several lines allowed (tab, CR, LF); no other control character";
      doc += "; lengths in Unicode code points";
      break;
    case json::Type::integer:
      o["type"] = "integer";
      if (r.min_int != std::numeric_limits<int64_t>::min()) o["minimum"] = r.min_int;
      if (r.max_int != std::numeric_limits<int64_t>::max()) o["maximum"] = r.max_int;
      break;
    case json::Type::boolean:
      o["type"] = "boolean";
      break;
  }
  if (r.nullable) {
    o["type"] = bj::array{o["type"], "null"};
    doc += doc.empty() ? "null reads as absent" : "; null reads as absent";
  }
  if (!doc.empty()) o["description"] = doc;
  return o;
}

bj::object body_schema(const json::Schema& schema) {
  bj::object props;
  bj::array required;
  for (const json::FieldRule& r : schema.rules()) {
    props[r.name] = field_schema(r);
    if (r.required) required.emplace_back(r.name);
  }
  bj::object o{{"type", "object"}, {"properties", std::move(props)}};
  if (!required.empty()) o["required"] = std::move(required);
  o["additionalProperties"] = false;  // unknown fields are refused (400)
  return o;
}

// ---- errors (SPEC 2)

// Every machine code by its status. The codes are read from util/error.hpp, so that a code
// added there appears here without an edit.
std::map<int, std::set<std::string>> codes_by_status() {
  std::map<int, std::set<std::string>> out;
  for (int i = 0; i < 128; ++i) {
    const auto c = static_cast<ErrorCode>(i);
    out[code_status(c)].insert(code_name(c));
  }
  return out;
}

bj::object error_schema(const std::map<int, std::set<std::string>>& codes) {
  bj::array all;
  std::set<std::string> seen;
  for (const auto& [status, names] : codes)
    for (const auto& n : names)
      if (seen.insert(n).second) all.emplace_back(n);
  return bj::object{
      {"type", "object"},
      {"description", "Every error (SPEC 2); validation errors add `fields`"},
      {"properties",
       bj::object{
           {"error",
            bj::object{
                {"type", "string"}, {"minLength", 1}, {"description", "a message for people"}}},
           {"code", bj::object{{"type", "string"}, {"enum", std::move(all)}}},
           {"fields", bj::object{{"type", "object"},
                                 {"description", "per field: what is wrong with it"},
                                 {"additionalProperties", bj::object{{"type", "string"}}}}},
       }},
      {"required", bj::array{"error", "code"}},
      {"additionalProperties", false},
  };
}

// The error statuses of a route: those implied by what it declares, and its own.
std::set<int> error_statuses(const Route& r) {
  // Answered by the transport before any route (body or header block too large), or when
  // something fails: possible everywhere.
  std::set<int> s{413, 431, 500, 503};
  const bool unsafe = r.method != http::Method::GET && r.method != http::Method::HEAD;
  if (r.gate != Gate::ops) s.insert(429);  // the general limit
  if (r.gate == Gate::user || r.gate == Gate::vault) {
    s.insert(401);
    if (unsafe) s.insert(403);  // CSRF
  }
  if (r.gate == Gate::vault) s.insert({403, 409});  // vault locked, not set up
  if (r.param != Param::none) s.insert(404);
  if (r.body) s.insert({400, 415});
  if (!r.limits.empty()) s.insert(429);
  s.insert(r.errors.begin(), r.errors.end());
  return s;
}

std::string_view reason(int status) {
  switch (status) {
    case 400:
      return "Bad input (validation_failed with fields, or invalid_json)";
    case 401:
      return "Not authenticated";
    case 403:
      return "CSRF failure, forbidden, or vault locked";
    case 404:
      return "Not found, or not the caller's";
    case 409:
      return "Conflict";
    case 413:
      return "Body too large";
    case 415:
      return "Body is not application/json";
    case 429:
      return "Rate limited (see Retry-After)";
    case 431:
      return "Header block too large";
    case 503:
      return "A dependency (the database) is unavailable";
    default:
      return "Error";
  }
}

// ---- headers and security

bj::object header(std::string_view description, bj::object schema) {
  return bj::object{{"description", description}, {"schema", std::move(schema)}};
}

bj::object headers_component() {
  const bj::object integer{{"type", "integer"}, {"minimum", 0}};
  return bj::object{
      {"X-Request-ID",
       header("The client's X-Request-ID when it is at most 64 of [A-Za-z0-9._-], else a "
              "generated one",
              bj::object{{"type", "string"}, {"pattern", "^[A-Za-z0-9._-]{1,64}$"}})},
      {"RateLimit-Limit",
       header("Requests allowed in the window of the route's own limit", integer)},
      {"RateLimit-Remaining", header("Requests left in the window", integer)},
      {"RateLimit-Reset", header("Seconds until the window resets", integer)},
      {"Retry-After", header("Seconds to wait before trying again", integer)},
      {"X-Vault-Token",
       header(
           "A renewed vault session token, sent when at least half of the vault session had gone",
           bj::object{{"type", "string"}})},
  };
}

bj::object security_schemes(const CookieNames& cookies) {
  auto api_key = [](std::string_view in, std::string_view name, std::string_view description) {
    return bj::object{{"type", "apiKey"}, {"in", in}, {"name", name}, {"description", description}};
  };
  return bj::object{
      {"bearer", bj::object{{"type", "http"},
                            {"scheme", "bearer"},
                            {"bearerFormat", "JWT"},
                            {"description",
                             "The access token (signin or refresh with return_tokens / a "
                             "body); no CSRF header needed"}}},
      {"accessCookie",
       api_key("cookie", cookies.access,
               "The access token cookie set by signin and refresh; unsafe methods also need "
               "csrfHeader")},
      {"csrfHeader",
       api_key("header", "X-CSRF-TOKEN",
               "The csrf claim of the access token (csrf_token of signin and refresh, or the " +
                   cookies.csrf_access + " cookie)")},
      {"vaultToken",
       api_key("header", "X-Vault-Token", "The vault_token of POST /vault/unlock-vault")},
      {"vaultCookie", api_key("cookie", cookies.vault,
                              "The vault session cookie set by POST /vault/unlock-vault")},
  };
}

bj::array security(const Route& r) {
  bj::array out;
  if (r.gate != Gate::user && r.gate != Gate::vault) return out;
  const bool unsafe = r.method != http::Method::GET && r.method != http::Method::HEAD;
  std::vector<bj::object> users{bj::object{{"bearer", bj::array{}}}};
  bj::object cookie{{"accessCookie", bj::array{}}};
  if (unsafe) cookie["csrfHeader"] = bj::array{};
  users.push_back(std::move(cookie));
  for (const auto& u : users) {
    if (r.gate == Gate::user) {
      out.push_back(u);
      continue;
    }
    for (std::string_view vault : {"vaultToken", "vaultCookie"}) {
      bj::object both = u;
      both[vault] = bj::array{};
      out.push_back(std::move(both));
    }
  }
  return out;
}

// ---- operations

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string operation_id(const Route& r) {
  std::string id = lower(http::method_name(r.method));
  for (char c : r.path) {
    const bool word = std::isalnum(static_cast<unsigned char>(c));
    if (word)
      id += c;
    else if (id.back() != '_')
      id += '_';
  }
  while (id.back() == '_') id.pop_back();
  return id;
}

std::string_view tag(const Route& r) {
  if (r.gate == Gate::ops) return "operations";
  const std::size_t next = r.path.find('/', 1);
  if (next == std::string_view::npos) return "service";
  return r.path.substr(1, next - 1);
}

bj::object path_parameter(Param p) {
  const bool row = p == Param::row_id;
  return bj::object{
      {"name", "id"},
      {"in", "path"},
      {"required", true},
      {"description", row ? "A row id: a canonical positive decimal; anything else is 404"
                          : "A session id (GET /auth/sessions); anything else is 404"},
      {"schema", bj::object{{"type", "string"},
                            {"pattern", row ? "^[1-9][0-9]{0,17}$" : "^[A-Za-z0-9_-]{1,64}$"}}},
  };
}

// Headers every answer of the route carries: the request id, and the RateLimit-* of its own
// limits (success or not, SPEC 8).
bj::object response_headers(const Route& r) {
  bj::object h{{"X-Request-ID", ref("headers", "X-Request-ID")}};
  if (!r.limits.empty())
    for (std::string_view n : {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"})
      h[n] = ref("headers", n);
  return h;
}

bj::object success(const Route& r, const std::set<std::string, std::less<>>& names) {
  bj::object resp{{"description", r.summary}};
  bj::object headers = response_headers(r);
  if (r.gate == Gate::vault) headers["X-Vault-Token"] = ref("headers", "X-Vault-Token");
  resp["headers"] = std::move(headers);
  if (r.response == "text/plain") {
    resp["content"] = bj::object{{"text/plain", bj::object{{"schema", {{"type", "string"}}}}}};
  } else if (!r.response.empty()) {
    bj::value schema;
    try {
      schema = ShapeParser(r.response, names).parse();
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(http::method_name(r.method)) + " " +
                                  std::string(r.path) + ": response: " + e.what());
    }
    resp["content"] = bj::object{{"application/json", bj::object{{"schema", std::move(schema)}}}};
  }
  return resp;
}

bj::object operation(const Route& r, const std::set<std::string, std::less<>>& names,
                     const std::map<int, std::set<std::string>>& codes) {
  bj::object op{
      {"operationId", operation_id(r)}, {"summary", r.summary}, {"tags", bj::array{tag(r)}}};
  bj::array params;
  if (r.param != Param::none) params.push_back(path_parameter(r.param));
  for (const QueryParam& q : r.query) {
    bj::object schema{{"type", "integer"}, {"minimum", q.minimum}};
    if (q.maximum) schema["maximum"] = *q.maximum;
    params.push_back(bj::object{{"name", q.name},
                                {"in", "query"},
                                {"required", false},
                                {"description", q.description},
                                {"schema", std::move(schema)}});
  }
  params.push_back(ref("parameters", "X-Request-ID"));
  op["parameters"] = std::move(params);
  if (r.body) {
    op["requestBody"] = bj::object{
        {"required", !r.body_optional},
        {"content", bj::object{{"application/json", bj::object{{"schema", body_schema(*r.body)}}}}},
    };
  }
  bj::object responses;
  responses[std::to_string(r.status)] = success(r, names);
  for (int status : error_statuses(r)) {
    bj::object headers = response_headers(r);
    if (status == 429) headers["Retry-After"] = ref("headers", "Retry-After");
    const bool known = codes.contains(status);
    bj::object content{
        {"application/json",
         bj::object{{"schema", ref("schemas", known ? "Error" + std::to_string(status)
                                                    : std::string("Error"))}}}};
    responses[std::to_string(status)] = bj::object{
        {"description", reason(status)}, {"headers", std::move(headers)}, {"content", content}};
  }
  op["responses"] = std::move(responses);
  if (bj::array sec = security(r); !sec.empty()) op["security"] = std::move(sec);
  if (!r.limits.empty()) {
    bj::array rules;
    for (const RouteLimit& l : r.limits) rules.emplace_back(l.rule);
    op["x-rate-limits"] = std::move(rules);  // the rows of SPEC 8 (docs/ratelimit.md)
  }
  return op;
}

}  // namespace

std::string openapi_document(const std::vector<Route>& routes, std::span<const NamedShape> shapes,
                             const CookieNames& cookies) {
  std::set<std::string, std::less<>> names;
  for (const NamedShape& s : shapes) names.emplace(s.name);

  const auto codes = codes_by_status();
  bj::object schemas{{"Error", error_schema(codes)}};
  for (const auto& [status, code_names] : codes) {
    bj::array allowed;
    for (const auto& n : code_names) allowed.emplace_back(n);
    schemas["Error" + std::to_string(status)] = bj::object{
        {"allOf",
         bj::array{ref("schemas", "Error"),
                   bj::object{{"properties",
                               bj::object{{"code", bj::object{{"enum", std::move(allowed)}}}}}}}},
    };
  }
  for (const NamedShape& s : shapes) {
    try {
      schemas[s.name] = ShapeParser(s.shape, names).parse();
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("shape " + std::string(s.name) + ": " + e.what());
    }
  }

  bj::object paths;
  for (const Route& r : routes) {
    bj::value& item = paths[r.path];
    if (!item.is_object()) item = bj::object{};
    item.as_object()[lower(http::method_name(r.method))] = operation(r, names, codes);
  }

  bj::object doc{
      {"openapi", "3.1.0"},
      {"info",
       bj::object{
           {"title", "strongroom"},
           {"version", "1"},
           {"description",
            "Accounts, sessions, a profile, social links and an encrypted password vault. "
            "Generated from the server's route table and the field schemas it validates "
            "request bodies with (docs/api.md). Request bodies: application/json, at most "
            "64 KiB, nesting at most 32, no duplicate keys, no unknown fields."},
       }},
      {"paths", std::move(paths)},
      {"components",
       bj::object{
           {"schemas", std::move(schemas)},
           {"parameters",
            bj::object{{"X-Request-ID",
                        bj::object{{"name", "X-Request-ID"},
                                   {"in", "header"},
                                   {"required", false},
                                   {"description",
                                    "Echoed when at most 64 of [A-Za-z0-9._-], else replaced"},
                                   {"schema", bj::object{{"type", "string"}}}}}}},
           {"headers", headers_component()},
           {"securitySchemes", security_schemes(cookies)},
       }},
  };
  return bj::serialize(doc);
}

}  // namespace sr::api
