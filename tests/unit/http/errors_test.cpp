#include "http/errors.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sr::http {
namespace {

boost::json::object body_of(const Response& r) {
  return boost::json::parse(r.body).as_object();
}

std::string header(const Response& r, std::string_view name) {
  for (auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

TEST(Errors, ApiErrorBodyFieldsAndHeaders) {
  ApiError e(ErrorCode::validation_failed, "invalid input",
             {{"username", "is required"}, {"age", "must be 13-120"}});
  Response r = error_response(e);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  auto o = body_of(r);
  EXPECT_EQ(o.at("error").as_string(), "invalid input");
  EXPECT_EQ(o.at("code").as_string(), "validation_failed");
  EXPECT_EQ(o.at("fields").at("username").as_string(), "is required");
  EXPECT_EQ(o.at("fields").at("age").as_string(), "must be 13-120");
}

TEST(Errors, NoFieldsKeyWithoutFields) {
  Response r = error_response(ErrorCode::not_found, "not found");
  EXPECT_EQ(r.status, 404);
  auto o = body_of(r);
  EXPECT_EQ(o.size(), 2u);
  EXPECT_EQ(o.at("code").as_string(), "not_found");
}

TEST(Errors, RetryAfterAndExtraHeaders) {
  ApiError e(ErrorCode::rate_limited, "too many requests");
  e.retry_after = 42;
  e.headers.emplace_back("RateLimit-Limit", "5");
  Response r = error_response(e);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(header(r, "Retry-After"), "42");
  EXPECT_EQ(header(r, "RateLimit-Limit"), "5");
}

TEST(Errors, HeaderTooLargeIs431WithPayloadCode) {
  Response r = error_response(ErrorCode::header_too_large, "request header too large");
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(body_of(r).at("code").as_string(), "payload_too_large");
}

TEST(Errors, EscapesMessage) {
  Response r = error_response(ErrorCode::validation_failed, "bad \"x\"\n");
  EXPECT_EQ(body_of(r).at("error").as_string(), "bad \"x\"\n");
}

Response map(auto&& thrower) {
  try {
    thrower();
  } catch (...) {
    return error_from_exception(std::current_exception(), "rid-1");
  }
  return {};
}

TEST(Errors, ExceptionMapping) {
  Response r = map([] { throw ApiError(ErrorCode::csrf_failed, "csrf token missing"); });
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(body_of(r).at("code").as_string(), "csrf_failed");

  r = map([] { throw UnavailableError("connection to db at 10.0.0.5 refused"); });
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(body_of(r).at("code").as_string(), "unavailable");
  EXPECT_EQ(r.body.find("10.0.0.5"), std::string::npos);

  r = map([] { throw ConflictError("UNIQUE constraint failed: users.email"); });
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(body_of(r).at("code").as_string(), "conflict");
  EXPECT_EQ(r.body.find("UNIQUE"), std::string::npos);

  r = map([] { throw std::runtime_error("SELECT * FROM secret_table /var/lib/x"); });
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(body_of(r).at("code").as_string(), "internal");
  EXPECT_EQ(r.body.find("secret_table"), std::string::npos);
  EXPECT_EQ(r.body.find("/var/lib"), std::string::npos);

  r = map([] { throw 42; });
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(body_of(r).at("code").as_string(), "internal");

  r = error_from_exception(nullptr, "rid");
  EXPECT_EQ(r.status, 500);
}

}  // namespace
}  // namespace sr::http
