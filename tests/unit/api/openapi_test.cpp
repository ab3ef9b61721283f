// The OpenAPI document generator (api/openapi.hpp) against the real route table: every route is
// in the document with a described success body, its body schema carries the bounds, patterns
// and required fields of the json::Schema the server validates with, its security follows its
// gate, and every error status has the SPEC 2 body with that status's codes. A route added
// without a response shape fails EveryRouteDescribesItsSuccessBody, naming the route.
#include "api/openapi.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <limits>
#include <set>

#include "api/routes.hpp"
#include "auth/hash_pool.hpp"
#include "services/passwords.hpp"
#include "util/error.hpp"

namespace sr::api {
namespace {

namespace bj = boost::json;

std::string method_key(http::Method m) {
  std::string s(http::method_name(m));
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string name(const Route& r) {
  return std::string(http::method_name(r.method)) + " " + std::string(r.path);
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = std::make_unique<auth::HashPool>(1, 4);
    passwords_ = std::make_unique<services::Passwords>(*pool_, auth::Argon2Params{64, 1},
                                                       auth::PolicyOptions{});
    routes_ = route_table(*passwords_);
    root_ = bj::parse(openapi_document(routes_, response_shapes(), CookieNames::for_secure(false)));
    doc_ = root_.as_object();
  }

  const bj::object& op(const Route& r) const {
    return doc_.at("paths").at(r.path).at(method_key(r.method)).as_object();
  }
  // Follows a local "$ref" ("#/components/schemas/X").
  const bj::object& deref(const bj::value& v) const {
    const bj::object& o = v.as_object();
    if (!o.contains("$ref")) return o;
    std::string_view p = o.at("$ref").as_string();
    p.remove_prefix(1);  // '#'
    return root_.at_pointer(p).as_object();
  }

  std::unique_ptr<auth::HashPool> pool_;
  std::unique_ptr<services::Passwords> passwords_;
  std::vector<Route> routes_;
  bj::value root_;
  bj::object doc_;
};

TEST_F(OpenApiTest, IsOpenApi31WithEveryRouteOfTheTableAndNoOther) {
  EXPECT_EQ(doc_.at("openapi").as_string(), "3.1.0");
  std::size_t ops = 0;
  for (const auto& [path, item] : doc_.at("paths").as_object()) ops += item.as_object().size();
  EXPECT_EQ(ops, routes_.size());
  for (const Route& r : routes_) {
    SCOPED_TRACE(name(r));
    ASSERT_TRUE(doc_.at("paths").as_object().contains(r.path));
    ASSERT_TRUE(doc_.at("paths").at(r.path).as_object().contains(method_key(r.method)));
    EXPECT_EQ(op(r).at("summary").as_string(), r.summary);
    EXPECT_FALSE(r.summary.empty());
  }
  // The document describes itself.
  bool self = false;
  for (const Route& r : routes_) self = self || r.path == "/openapi.json";
  EXPECT_TRUE(self);
}

TEST_F(OpenApiTest, EveryRouteDescribesItsSuccessBody) {
  for (const Route& r : routes_) {
    SCOPED_TRACE(name(r));
    // A route added to the table needs Route::response (api/openapi.hpp has the notation).
    if (r.status == 204) {
      EXPECT_TRUE(r.response.empty()) << name(r) << ": a 204 has no body to describe";
    } else {
      EXPECT_FALSE(r.response.empty())
          << name(r) << " has no Route::response: describe its success body (api/openapi.hpp)";
    }
    const bj::object& ok = op(r).at("responses").at(std::to_string(r.status)).as_object();
    EXPECT_EQ(ok.contains("content"), !r.response.empty());
  }
}

TEST_F(OpenApiTest, BodySchemasCarryTheBoundsTheParserApplies) {
  int bodies = 0;
  for (const Route& r : routes_) {
    SCOPED_TRACE(name(r));
    if (!r.body) {
      EXPECT_FALSE(op(r).contains("requestBody"));
      continue;
    }
    ++bodies;
    const bj::object& rb = op(r).at("requestBody").as_object();
    EXPECT_EQ(rb.at("required").as_bool(), !r.body_optional);
    const bj::object& s = rb.at("content").at("application/json").at("schema").as_object();
    EXPECT_EQ(s.at("type").as_string(), "object");
    // The parser refuses unknown fields (json/json.hpp).
    EXPECT_EQ(s.at("additionalProperties"), bj::value(false));
    const bj::object& props = s.at("properties").as_object();
    EXPECT_EQ(props.size(), r.body->rules().size());
    std::set<std::string> required, want_required;
    if (s.contains("required"))
      for (const auto& v : s.at("required").as_array()) required.emplace(v.as_string());
    for (const json::FieldRule& f : r.body->rules()) {
      SCOPED_TRACE(f.name);
      if (f.required) want_required.insert(f.name);
      ASSERT_TRUE(props.contains(f.name));
      const bj::object& p = props.at(f.name).as_object();
      const bj::value& type = p.at("type");
      std::string_view base = type.is_array() ? type.as_array()[0].as_string() : type.as_string();
      EXPECT_EQ(type.is_array(), f.nullable);
      switch (f.type) {
        case json::Type::string:
          EXPECT_EQ(base, "string");
          EXPECT_EQ(p.contains("minLength") ? p.at("minLength").to_number<std::size_t>() : 0,
                    f.min_chars);
          ASSERT_TRUE(p.contains("maxLength")) << "every string field of the API is bounded";
          EXPECT_EQ(p.at("maxLength").to_number<std::size_t>(), f.max_chars);
          ASSERT_TRUE(p.contains("pattern"));
          if (!f.pattern.empty()) {
            EXPECT_EQ(p.at("pattern").as_string(), f.pattern);
          }
          break;
        case json::Type::integer:
          EXPECT_EQ(base, "integer");
          EXPECT_EQ(p.at("minimum").to_number<int64_t>(), f.min_int);
          EXPECT_EQ(p.at("maximum").to_number<int64_t>(), f.max_int);
          break;
        case json::Type::boolean:
          EXPECT_EQ(base, "boolean");
          break;
      }
      if (!f.doc.empty()) {
        ASSERT_TRUE(p.contains("description"));
        EXPECT_NE(std::string_view(p.at("description").as_string()).find(f.doc),
                  std::string_view::npos);
      }
    }
    EXPECT_EQ(required, want_required);
  }
  EXPECT_GT(bodies, 0);
}

TEST_F(OpenApiTest, PathParametersAndSecurityFollowTheRoute) {
  for (const Route& r : routes_) {
    SCOPED_TRACE(name(r));
    const bj::object& o = op(r);
    bool has_id = false;
    for (const auto& p : o.at("parameters").as_array()) {
      const bj::object& q = deref(p);
      if (q.at("in").as_string() == "path") {
        has_id = true;
        EXPECT_EQ(q.at("name").as_string(), "id");
        EXPECT_TRUE(q.at("required").as_bool());
        EXPECT_TRUE(q.at("schema").as_object().contains("pattern"));
      }
    }
    EXPECT_EQ(has_id, r.param != Param::none);
    EXPECT_EQ(has_id, r.path.find("{id}") != std::string_view::npos);

    const bool authenticated = r.gate == Gate::user || r.gate == Gate::vault;
    ASSERT_EQ(o.contains("security"), authenticated);
    if (!authenticated) continue;
    const bool unsafe = r.method != http::Method::GET;
    bool bearer = false, cookie = false;
    for (const auto& alt : o.at("security").as_array()) {
      const bj::object& a = alt.as_object();
      // Every way in names a known scheme.
      for (const auto& [scheme, scopes] : a)
        EXPECT_TRUE(doc_.at("components").at("securitySchemes").as_object().contains(scheme));
      bearer = bearer || a.contains("bearer");
      if (a.contains("accessCookie")) {
        cookie = true;
        EXPECT_EQ(a.contains("csrfHeader"), unsafe) << "CSRF goes with unsafe cookie requests";
      }
      EXPECT_EQ(a.contains("vaultToken") || a.contains("vaultCookie"), r.gate == Gate::vault);
    }
    EXPECT_TRUE(bearer);
    EXPECT_TRUE(cookie);
  }
}

TEST_F(OpenApiTest, ErrorsHaveTheSpecBodyWithTheCodesOfTheirStatus) {
  for (const Route& r : routes_) {
    SCOPED_TRACE(name(r));
    const bj::object& responses = op(r).at("responses").as_object();
    std::set<int> statuses;
    for (const auto& [status, resp] : responses) statuses.insert(std::stoi(std::string(status)));
    for (int s : {413, 500, 503}) EXPECT_TRUE(statuses.contains(s)) << s;
    if (r.gate != Gate::ops) {
      EXPECT_TRUE(statuses.contains(429));
    }
    if (r.gate == Gate::user || r.gate == Gate::vault) {
      EXPECT_TRUE(statuses.contains(401));
    }
    if (r.body) {
      EXPECT_TRUE(statuses.contains(400) && statuses.contains(415));
    }
    if (r.param != Param::none) {
      EXPECT_TRUE(statuses.contains(404));
    }
    for (int e : r.errors) EXPECT_TRUE(statuses.contains(e)) << e;
    if (!r.limits.empty()) {
      EXPECT_TRUE(responses.at(std::to_string(r.status))
                      .at("headers")
                      .as_object()
                      .contains("RateLimit-Limit"));
    }

    for (int s : statuses) {
      if (s < 400) continue;
      SCOPED_TRACE(s);
      const bj::object& body =
          deref(responses.at(std::to_string(s)).at("content").at("application/json").at("schema"));
      // ErrorNNN: the SPEC 2 body, its code one of those util/error.hpp gives that status.
      const bj::array& all_of = body.at("allOf").as_array();
      EXPECT_EQ(deref(all_of[0]).at("required"), (bj::array{"error", "code"}));
      for (const auto& code : all_of[1].at("properties").at("code").at("enum").as_array()) {
        bool found = false;
        for (int i = 0; i < 64; ++i) {
          const auto c = static_cast<ErrorCode>(i);
          found = found || (code.as_string() == code_name(c) && code_status(c) == s);
        }
        EXPECT_TRUE(found) << code.as_string();
      }
    }
    if (r.limits.empty()) continue;
    EXPECT_TRUE(responses.at("429").at("headers").as_object().contains("Retry-After"));
  }
  const bj::array& codes = doc_.at("components")
                               .at("schemas")
                               .at("Error")
                               .at("properties")
                               .at("code")
                               .at("enum")
                               .as_array();
  for (ErrorCode c : {ErrorCode::validation_failed, ErrorCode::csrf_failed, ErrorCode::vault_locked,
                      ErrorCode::rate_limited, ErrorCode::internal})
    EXPECT_NE(std::find(codes.begin(), codes.end(), bj::value(code_name(c))), codes.end());
}

TEST_F(OpenApiTest, ResponseNotationBecomesStrictSchemas) {
  Route r{.method = http::Method::GET,
          .path = "/x/{id}",
          .gate = Gate::anonymous,
          .summary = "x",
          .param = Param::row_id,
          .response = "{a: id, b?: string|null, c: [Link], d: {e: time}}"};
  const NamedShape shapes[] = {{"Link", "{id: id}"}};
  const bj::value doc = bj::parse(openapi_document({r}, shapes, CookieNames::for_secure(true)));
  const bj::object& s = doc.at_pointer(
                               "/paths/~1x~1{id}/get/responses/200/content/"
                               "application~1json/schema")
                            .as_object();
  EXPECT_EQ(s.at("required"), (bj::array{"a", "c", "d"}));
  EXPECT_EQ(s.at("additionalProperties"), bj::value(false));
  const bj::object& p = s.at("properties").as_object();
  EXPECT_EQ(p.at("a").at("minimum"), bj::value(1));
  EXPECT_EQ(p.at("b").at("anyOf").as_array().size(), 2u);
  EXPECT_EQ(p.at("c").at("items").at("$ref").as_string(), "#/components/schemas/Link");
  EXPECT_EQ(p.at("d").at("additionalProperties"), bj::value(false));
  EXPECT_EQ(p.at("d").at("properties").at("e").at("format").as_string(), "date-time");
  // Secure cookies carry their prefixes in the security schemes too.
  EXPECT_EQ(doc.at_pointer("/components/securitySchemes/accessCookie/name").as_string(),
            CookieNames::for_secure(true).access);
}

TEST_F(OpenApiTest, ABadShapeIsRefusedNamingTheRoute) {
  for (std::string_view bad :
       {"{message: strin}", "{message: string", "Nope", "[Link", "{a: id, a: id}", "{a id}"}) {
    Route r{.method = http::Method::POST,
            .path = "/somewhere",
            .gate = Gate::user,
            .summary = "x",
            .response = bad};
    try {
      openapi_document({r}, response_shapes(), CookieNames::for_secure(false));
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("POST /somewhere"), std::string::npos) << e.what();
    }
  }
}

TEST_F(OpenApiTest, EveryNamedShapeIsUsed) {
  const std::string text = bj::serialize(doc_.at("paths"));
  for (const NamedShape& s : response_shapes()) {
    const std::string ref = "#/components/schemas/" + std::string(s.name) + "\"";
    bool used = text.find(ref) != std::string::npos;
    // or through another shape
    for (const NamedShape& o : response_shapes())
      used = used || (o.name != s.name &&
                      bj::serialize(doc_.at("components").at("schemas").at(o.name)).find(ref) !=
                          std::string::npos);
    EXPECT_TRUE(used) << s.name;
  }
}

}  // namespace
}  // namespace sr::api
