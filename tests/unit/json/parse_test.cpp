// parse_request(): strict parsing (invalid_json) and validation (validation_failed).
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>

#include "json/json.hpp"

namespace sr::json {
namespace {

using namespace std::string_literals;

// "k" + std::to_string(i) without GCC 12's false -Wrestrict warning.
std::string numbered(const char* prefix, int i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

Schema signup() {
  return Schema{str("username", 3, 50, true), str("password", 8, 128, true),
                str("email", 3, 254, false), integer("age", 13, 120, false),
                boolean("newsletter", false)};
}

// Returns the ApiError thrown by parse_request (fails the test if none is thrown).
ApiError error_of(std::string_view body, const Schema& s) {
  try {
    parse_request(body, s);
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for body: " << body;
  return ApiError(ErrorCode::internal, "none");
}

void expect_invalid_json(std::string_view body, const Schema& s = signup()) {
  ApiError e = error_of(body, s);
  EXPECT_EQ(e.code(), ErrorCode::invalid_json) << "body: " << body << " message: " << e.what();
  EXPECT_TRUE(e.fields().empty());
  EXPECT_FALSE(std::string(e.what()).empty());
}

std::map<std::string, std::string> field_errors(std::string_view body, const Schema& s) {
  ApiError e = error_of(body, s);
  EXPECT_EQ(e.code(), ErrorCode::validation_failed) << "body: " << body << " message: " << e.what();
  EXPECT_STREQ(e.what(), "Validation failed");
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : e.fields()) {
    EXPECT_TRUE(m.emplace(k, v).second) << "field listed twice: " << k;
  }
  return m;
}

// A body accepted by signup() with the given extra members.
std::string ok_body(const std::string& extra = "") {
  return R"({"username":"alice","password":"correct horse")" + extra + "}";
}

// ---------------------------------------------------------------- accepted bodies

TEST(ParseRequest, AcceptsValidBodyAndExposesValues) {
  Fields f = parse_request(
      R"({"username":"alice","password":"correct horse","email":"a@b.c","age":42,"newsletter":true})",
      signup());
  EXPECT_EQ(f.str("username"), "alice");
  EXPECT_EQ(f.str("password"), "correct horse");
  EXPECT_EQ(f.str("email"), "a@b.c");
  EXPECT_EQ(f.integer("age"), 42);
  EXPECT_EQ(f.boolean("newsletter"), true);
  EXPECT_TRUE(f.has("age"));
  EXPECT_EQ(f.secret("password").view(), "correct horse");
}

TEST(ParseRequest, OptionalFieldsAbsent) {
  Fields f = parse_request(ok_body(), signup());
  EXPECT_FALSE(f.has("email"));
  EXPECT_FALSE(f.str("email").has_value());
  EXPECT_FALSE(f.integer("age").has_value());
  EXPECT_FALSE(f.boolean("newsletter").has_value());
  EXPECT_TRUE(f.secret("email").empty());
}

TEST(ParseRequest, AccessorsOfWrongTypeReturnNothing) {
  Fields f = parse_request(ok_body(R"(,"age":20)"), signup());
  EXPECT_FALSE(f.str("age").has_value());
  EXPECT_FALSE(f.boolean("age").has_value());
  EXPECT_FALSE(f.integer("username").has_value());
  EXPECT_TRUE(f.secret("age").empty());
}

TEST(ParseRequest, EscapesAreDecoded) {
  Fields f = parse_request(
      R"({"username":"al\u0069ce \"x\" \\ \/ \ud83d\ude00 \u00e9","password":"12345678"})",
      signup());
  EXPECT_EQ(f.str("username"), "alice \"x\" \\ / \xF0\x9F\x98\x80 \xC3\xA9");
}

TEST(ParseRequest, EscapedKeysMatchRules) {
  Fields f = parse_request(R"({"user\u006eame":"alice","password":"12345678"})", signup());
  EXPECT_EQ(f.str("username"), "alice");
}

TEST(ParseRequest, WhitespaceVariantsAccepted) {
  Fields f = parse_request(
      " \t\r\n{ \t\r\n\"username\" \n: \t\"alice\" \r\n, \"password\"\t:\"12345678\"\n}\r\n \t",
      signup());
  EXPECT_EQ(f.str("username"), "alice");
  EXPECT_EQ(f.str("password"), "12345678");
}

TEST(ParseRequest, EmptyObjectForSchemaWithoutRequiredFields) {
  Schema s{str("q", 0, 10, false)};
  Fields f = parse_request("{}", s);
  EXPECT_FALSE(f.has("q"));
}

TEST(ParseRequest, LargeStringValueDeliveredInPartsIsComplete) {
  // Boost.JSON hands a long escaped string to the handler in several parts.
  std::string v(5000, 'a');
  v += "\\n";
  v += std::string(5000, 'b');
  Schema s{FieldRule{.name = "t", .max_chars = 20000, .single_line = false}};
  Fields f = parse_request(R"({"t":")" + v + "\"}", s);
  ASSERT_TRUE(f.str("t"));
  EXPECT_EQ(f.str("t")->size(), 10001u);
  EXPECT_EQ(*f.str("t"), std::string(5000, 'a') + "\n" + std::string(5000, 'b'));
}

TEST(ParseRequest, LongEscapedKeyDeliveredInParts) {
  std::string key(6000, 'k');
  std::string escaped = key.substr(0, 3000) + "\\u006b" + key.substr(3001);
  Schema s{integer(key, 0, 10, true)};
  Fields f = parse_request("{\"" + escaped + "\":7}", s);
  EXPECT_EQ(f.integer(key), 7);
}

// ---------------------------------------------------------------- invalid_json

TEST(ParseRequestInvalidJson, EmptyAndBlankBodies) {
  expect_invalid_json("");
  expect_invalid_json(" ");
  expect_invalid_json("\r\n\t ");
}

TEST(ParseRequestInvalidJson, MalformedSyntax) {
  for (const char* b : {"{",
                        "}",
                        "{\"username\"",
                        "{\"username\":}",
                        "{\"username\":\"alice\",}",
                        "{,}",
                        "{\"a\" 1}",
                        "{'a':1}",
                        "{a:1}",
                        "{\"a\":1 \"b\":2}",
                        "{\"a\":tru}",
                        "{\"a\":nul}",
                        "{\"a\":01}",
                        "{\"a\":1.}",
                        "{\"a\":.5}",
                        "{\"a\":+1}",
                        "{\"a\":NaN}",
                        "{\"a\":Infinity}",
                        "{\"a\":0x10}",
                        "{\"a\":\"unterminated}",
                        "{\"a\":\"bad \\x escape\"}",
                        "{\"a\":\"\\u12\"}",
                        "{/* comment */}",
                        "{} // comment",
                        "{\"a\":[1,]}"}) {
    expect_invalid_json(b);
  }
}

TEST(ParseRequestInvalidJson, RawControlCharacterInsideString) {
  expect_invalid_json("{\"username\":\"a\nb\",\"password\":\"12345678\"}");
  expect_invalid_json("{\"username\":\"a\tb\",\"password\":\"12345678\"}");
  expect_invalid_json("{\"username\":\"a\0b\",\"password\":\"12345678\"}"s);
}

TEST(ParseRequestInvalidJson, TopLevelNotAnObject) {
  for (const char* b : {"[]", "[{\"username\":\"alice\"}]", "\"text\"", "42", "-1", "1.5", "true",
                        "false", "null"}) {
    ApiError e = error_of(b, signup());
    EXPECT_EQ(e.code(), ErrorCode::invalid_json) << b;
    EXPECT_NE(std::string(e.what()).find("object"), std::string::npos) << b << ": " << e.what();
  }
}

TEST(ParseRequestInvalidJson, TrailingGarbage) {
  expect_invalid_json(ok_body() + "x");
  expect_invalid_json(ok_body() + " {}");
  expect_invalid_json(ok_body() + ok_body());
  expect_invalid_json(ok_body() + "\n1");
  expect_invalid_json(ok_body() + "\0"s);
  // trailing whitespace is fine
  EXPECT_NO_THROW(parse_request(ok_body() + " \r\n\t", signup()));
}

TEST(ParseRequestInvalidJson, ByteOrderMarkRefused) {
  expect_invalid_json("\xEF\xBB\xBF" + ok_body());
}

TEST(ParseRequestInvalidJson, NonJsonWhitespaceRefused) {
  expect_invalid_json("\v" + ok_body());
  expect_invalid_json("\f" + ok_body());
  expect_invalid_json("\xC2\xA0" + ok_body());  // NBSP
  expect_invalid_json("{\"username\":\"alice\",\f\"password\":\"12345678\"}");
}

TEST(ParseRequestInvalidJson, InvalidUtf8InValues) {
  const std::string bad[] = {
      "\xC0\xAF",          // overlong '/'
      "\xE0\x80\xAF",      // overlong, 3 bytes
      "\xF0\x80\x80\xAF",  // overlong, 4 bytes
      "\xED\xA0\x80",      // UTF-8-encoded lone high surrogate U+D800
      "\xED\xBF\xBF",      // UTF-8-encoded low surrogate U+DFFF
      "\xF4\x90\x80\x80",  // above U+10FFFF
      "\xFF",
      "\xFE",
      "\x80",                  // stray continuation byte
      "\xC3",                  // truncated sequence
      "\xE2\x82",              // truncated sequence
      "\xC3\x28",              // bad continuation
      "\xF8\x88\x80\x80\x80",  // 5-byte form
  };
  for (const auto& b : bad) {
    expect_invalid_json(R"({"username":"al)" + b + R"(ice","password":"12345678"})");
  }
}

TEST(ParseRequestInvalidJson, InvalidUtf8InKeysAndIgnoredValues) {
  expect_invalid_json("{\"user\xC0\xAFname\":\"alice\",\"password\":\"12345678\"}");
  // inside an unknown field and inside a nested value: still refused
  expect_invalid_json(ok_body(",\"zzz\":\"\xED\xA0\x80\""));
  expect_invalid_json(ok_body(",\"age\":[\"\xFF\"]"));
}

TEST(ParseRequestInvalidJson, EscapedLoneSurrogates) {
  for (const char* s : {"\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\ud800x", "\\ud800\\u0041",
                        "\\udc00\\ud800", "\\ud83d"}) {
    expect_invalid_json(std::string(R"({"username":"ab)") + s + R"(","password":"12345678"})");
    expect_invalid_json(std::string(R"({"x)") + s + R"(":1})");
  }
}

TEST(ParseRequestInvalidJson, DuplicateKeysAtTopLevel) {
  expect_invalid_json(R"({"username":"alice","password":"12345678","username":"bob"})");
  expect_invalid_json(R"({"username":"alice","password":"12345678","password":"12345678"})");
  // duplicate through an escape
  expect_invalid_json(R"({"username":"alice","password":"12345678","p\u0061ssword":"x"})");
  // duplicate unknown keys
  expect_invalid_json(ok_body(R"(,"zz":1,"zz":2)"));
  // duplicate null on a nullable field is still a duplicate
  Schema s{FieldRule{.name = "n", .nullable = true}};
  expect_invalid_json(R"({"n":null,"n":null})", s);
}

TEST(ParseRequestInvalidJson, DuplicateKeysNested) {
  expect_invalid_json(ok_body(R"(,"x":{"a":1,"a":2})"));
  expect_invalid_json(ok_body(R"(,"age":[{"a":1},{"b":1,"b":2}])"));
  expect_invalid_json(ok_body(R"(,"x":{"o":{"k":1},"p":{"q":{"k":1,"k":1}}})"));
  // same key in sibling objects, or at different levels, is not a duplicate
  auto e = field_errors(ok_body(R"(,"x":{"o":{"k":1},"p":{"k":{"k":1}},"k":[{"k":1},{"k":2}]})"),
                        signup());
  EXPECT_EQ(e.size(), 1u);
  EXPECT_EQ(e["x"], "unknown field");
}

TEST(ParseRequestInvalidJson, ManyKeysDuplicateFoundQuickly) {
  // Beyond the linear threshold the key set is hashed: duplicates are still found.
  std::string body = "{";
  for (int i = 0; i < 5000; ++i) {
    body += '"';
    body += numbered("k", i);
    body += "\":0,";
  }
  body += "\"k4321\":1}";
  expect_invalid_json(body);
  std::string nested = ok_body(",\"x\":{");
  nested.pop_back();
  for (int i = 0; i < 5000; ++i) {
    nested += '"';
    nested += numbered("k", i);
    nested += "\":0,";
  }
  nested += "\"k17\":1}}";
  expect_invalid_json(nested);
}

std::string nest(int depth) {
  // An object at depth 1 holding arrays down to `depth`.
  std::string s = R"({"username":"alice","password":"12345678","x":)";
  s += std::string(depth - 1, '[');
  s += std::string(depth - 1, ']');
  return s + "}";
}

TEST(ParseRequestInvalidJson, Depth32AcceptedDepth33Refused) {
  auto e = field_errors(nest(32), signup());  // parses: only the unknown field is wrong
  EXPECT_EQ(e.size(), 1u);
  EXPECT_EQ(e["x"], "unknown field");
  ApiError too_deep = error_of(nest(33), signup());
  EXPECT_EQ(too_deep.code(), ErrorCode::invalid_json);
  EXPECT_NE(std::string(too_deep.what()).find("32"), std::string::npos) << too_deep.what();
}

TEST(ParseRequestInvalidJson, DepthCountsObjectsToo) {
  std::string ok = "{\"x\":", end = "}";
  for (int i = 2; i <= 32; ++i) {
    ok += "{\"x\":";
    end += "}";
  }
  // 32 levels of objects: the innermost "x" holds 1
  std::string body32 = ok + "1" + end;
  EXPECT_EQ(error_of(body32, signup()).code(), ErrorCode::validation_failed);
  std::string body33 = ok + "{}" + end;
  EXPECT_EQ(error_of(body33, signup()).code(), ErrorCode::invalid_json);
}

TEST(ParseRequestInvalidJson, MegabyteOfNestingRejectedFastWithoutStackOverflow) {
  std::string arrays(1 << 20, '[');
  std::string objects = "{";
  for (int i = 0; i < (1 << 20) / 5; ++i) objects += "\"a\":{";
  std::string in_field = R"({"username":)" + std::string(1 << 20, '[');
  auto t0 = std::chrono::steady_clock::now();
  expect_invalid_json(arrays);
  expect_invalid_json(objects);
  expect_invalid_json(in_field);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_LT(ms, 200);
}

TEST(ParseRequestInvalidJson, SyntaxErrorWinsOverValidationErrors) {
  // unknown field and too-short value seen first, then broken JSON: the answer is invalid_json
  expect_invalid_json(R"({"zzz":1,"username":"a","password":)");
}

// ---------------------------------------------------------------- validation_failed

TEST(ParseRequestValidation, UnknownFieldsAllListed) {
  auto e = field_errors(ok_body(R"(,"is_admin":true,"role":"admin","id":{"a":1})"), signup());
  EXPECT_EQ(e.size(), 3u);
  EXPECT_EQ(e["is_admin"], "unknown field");
  EXPECT_EQ(e["role"], "unknown field");
  EXPECT_EQ(e["id"], "unknown field");
}

TEST(ParseRequestValidation, FieldNamesAreCaseSensitive) {
  auto e = field_errors(R"({"Username":"alice","password":"12345678"})", signup());
  EXPECT_EQ(e["Username"], "unknown field");
  EXPECT_EQ(e["username"], "is required");
}

TEST(ParseRequestValidation, MissingRequired) {
  auto e = field_errors("{}", signup());
  EXPECT_EQ(e.size(), 2u);
  EXPECT_EQ(e["username"], "is required");
  EXPECT_EQ(e["password"], "is required");
}

TEST(ParseRequestValidation, EveryProblemListedAtOnce) {
  auto e = field_errors(
      R"({"username":"al","email":5,"age":12,"newsletter":"yes","extra":null,"more":[]})",
      signup());
  EXPECT_EQ(e.size(), 7u);
  EXPECT_EQ(e["username"], "must be at least 3 characters");
  EXPECT_EQ(e["password"], "is required");
  EXPECT_EQ(e["email"], "must be a string");
  EXPECT_EQ(e["age"], "must be between 13 and 120");
  EXPECT_EQ(e["newsletter"], "must be a boolean");
  EXPECT_EQ(e["extra"], "unknown field");
  EXPECT_EQ(e["more"], "unknown field");
}

TEST(ParseRequestValidation, WrongTypesForStringField) {
  for (const char* v : {"1", "-1", "1.5", "true", "false", "null", "{}", "[]", "[\"alice\"]",
                        "{\"a\":\"alice\"}"}) {
    auto e = field_errors(std::string(R"({"password":"12345678","username":)") + v + "}", signup());
    EXPECT_EQ(e.size(), 1u) << v;
    EXPECT_EQ(e["username"], "must be a string") << v;
  }
}

TEST(ParseRequestValidation, WrongTypesForIntegerField) {
  for (const char* v : {"\"42\"", "true", "null", "{}", "[]", "[42]", "{\"v\":42}", "42.0", "42.5",
                        "1e1", "1E1", "4.2e1", "0.0", "-0.0", "1e-5", "1e400", "-1e400"}) {
    auto e = field_errors(ok_body(std::string(",\"age\":") + v), signup());
    EXPECT_EQ(e.size(), 1u) << v;
    EXPECT_EQ(e["age"], "must be an integer") << v;
  }
}

TEST(ParseRequestValidation, WrongTypesForBooleanField) {
  for (const char* v : {"\"true\"", "1", "0", "null", "{}", "[]", "[true]"}) {
    auto e = field_errors(ok_body(std::string(",\"newsletter\":") + v), signup());
    EXPECT_EQ(e.size(), 1u) << v;
    EXPECT_EQ(e["newsletter"], "must be a boolean") << v;
  }
}

TEST(ParseRequestValidation, WrongTypeInNestedValueReportedOnce) {
  auto e = field_errors(ok_body(R"(,"age":[1,[2,{"x":[3]}],"s",true,null])"), signup());
  EXPECT_EQ(e.size(), 1u);
  EXPECT_EQ(e["age"], "must be an integer");
  // and the fields after the nested value are still read
  Schema s{integer("a", 0, 10, false), str("b", 0, 10, false)};
  auto e2 = field_errors(R"({"a":{"k":[1,2]},"b":"this is too long"})", s);
  EXPECT_EQ(e2.size(), 2u);
  EXPECT_EQ(e2["a"], "must be an integer");
  EXPECT_EQ(e2["b"], "must be at most 10 characters");
}

TEST(ParseRequestValidation, NullOnNonNullableIsWrongType) {
  auto e = field_errors(R"({"username":null,"password":"12345678","age":null})", signup());
  EXPECT_EQ(e.size(), 2u);
  EXPECT_EQ(e["username"], "must be a string");
  EXPECT_EQ(e["age"], "must be an integer");
}

TEST(ParseRequestValidation, NullOnNullableReadsAsAbsent) {
  FieldRule bio = str("bio", 0, 100, false);
  bio.nullable = true;
  FieldRule n = integer("n", 0, 5, false);
  n.nullable = true;
  Schema s{bio, n};
  Fields f = parse_request(R"({"bio":null,"n":null})", s);
  EXPECT_FALSE(f.has("bio"));
  EXPECT_FALSE(f.str("bio").has_value());
  EXPECT_FALSE(f.has("n"));
  // required + nullable + null -> still missing
  FieldRule req = str("bio", 0, 100, true);
  req.nullable = true;
  auto e = field_errors(R"({"bio":null})", Schema{req});
  EXPECT_EQ(e["bio"], "is required");
}

TEST(ParseRequestValidation, IntegerBounds) {
  Schema s{integer("n", -5, 5, true)};
  EXPECT_EQ(parse_request(R"({"n":-5})", s).integer("n"), -5);
  EXPECT_EQ(parse_request(R"({"n":5})", s).integer("n"), 5);
  EXPECT_EQ(parse_request(R"({"n":-0})", s).integer("n"), 0);
  EXPECT_EQ(field_errors(R"({"n":6})", s)["n"], "must be between -5 and 5");
  EXPECT_EQ(field_errors(R"({"n":-6})", s)["n"], "must be between -5 and 5");
  Schema lo{integer("n", 1, std::numeric_limits<int64_t>::max(), true)};
  EXPECT_EQ(field_errors(R"({"n":0})", lo)["n"], "must be at least 1");
  Schema hi{integer("n", std::numeric_limits<int64_t>::min(), 9, true)};
  EXPECT_EQ(field_errors(R"({"n":10})", hi)["n"], "must be at most 9");
}

TEST(ParseRequestValidation, HugeIntegersRejectedCleanly) {
  constexpr auto kMin = std::numeric_limits<int64_t>::min();
  constexpr auto kMax = std::numeric_limits<int64_t>::max();
  Schema s{integer("n", kMin, kMax, true)};
  EXPECT_EQ(parse_request(R"({"n":9223372036854775807})", s).integer("n"), kMax);
  EXPECT_EQ(parse_request(R"({"n":-9223372036854775808})", s).integer("n"), kMin);
  for (const char* v : {"9223372036854775808", "18446744073709551615", "18446744073709551616",
                        "99999999999999999999999999999999999999"}) {
    EXPECT_EQ(field_errors(std::string(R"({"n":)") + v + "}", s)["n"],
              "must be at most 9223372036854775807")
        << v;
  }
  for (const char* v : {"-9223372036854775809", "-99999999999999999999999999999999"}) {
    EXPECT_EQ(field_errors(std::string(R"({"n":)") + v + "}", s)["n"],
              "must be at least -9223372036854775808")
        << v;
  }
  // a thousand digits
  std::string big(1000, '9');
  EXPECT_EQ(field_errors(R"({"n":)" + big + "}", s).size(), 1u);
  Schema age{integer("n", 0, 150, true)};
  EXPECT_EQ(field_errors(R"({"n":)" + big + "}", age)["n"], "must be between 0 and 150");
}

TEST(ParseRequestValidation, LengthCountsCodePoints) {
  Schema s{str("name", 3, 5, true)};
  // 5 code points, 10+ bytes
  EXPECT_EQ(parse_request("{\"name\":\"\xC3\xA9\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xC3\xA9\"}", s)
                .str("name")
                ->size(),
            13u);
  // 6 code points
  EXPECT_EQ(
      field_errors("{\"name\":\"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\"}", s)["name"],
      "must be at most 5 characters");
  // 2 code points of 4 bytes each (8 bytes) is still too short
  EXPECT_EQ(field_errors("{\"name\":\"\xF0\x9F\x98\x80\xF0\x9F\x98\x80\"}", s)["name"],
            "must be at least 3 characters");
  // escaped: \u00e9 is one character
  EXPECT_NO_THROW(parse_request(R"({"name":"\u00e9\u00e9\u00e9"})", s));
  EXPECT_EQ(
      field_errors(R"({"name":"\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00xy"})", s)["name"],
      "must be at most 5 characters");
}

TEST(ParseRequestValidation, LengthBoundaries) {
  Schema s{str("u", 3, 50, true)};
  EXPECT_NO_THROW(parse_request(R"({"u":")" + std::string(3, 'a') + "\"}", s));
  EXPECT_NO_THROW(parse_request(R"({"u":")" + std::string(50, 'a') + "\"}", s));
  EXPECT_EQ(field_errors(R"({"u":")" + std::string(51, 'a') + "\"}", s)["u"],
            "must be at most 50 characters");
  EXPECT_EQ(field_errors(R"({"u":"aa"})", s)["u"], "must be at least 3 characters");
  Schema one{str("u", 1, 10, true)};
  EXPECT_EQ(field_errors(R"({"u":""})", one)["u"], "must not be empty");
  Schema opt{str("u", 0, 10, false)};
  EXPECT_EQ(parse_request(R"({"u":""})", opt).str("u"), "");
  EXPECT_TRUE(parse_request(R"({"u":""})", opt).has("u"));
}

TEST(ParseRequestValidation, ControlCharactersInSingleLineField) {
  Schema s{str("u", 0, 100, true)};
  for (const char* v : {"a\\u0000b", "\\u0001", "a\\nb", "a\\rb", "a\\tb", "\\u001f", "\\u007f",
                        "x\\b", "x\\f", "\x7f"}) {
    auto e = field_errors(std::string(R"({"u":")") + v + "\"}", s);
    EXPECT_EQ(e["u"], "must not contain control characters") << v;
  }
  // not controls: U+0080 (C1 is allowed by the rule), space, non-ASCII
  EXPECT_NO_THROW(parse_request(R"({"u":"a b \u00a0 \u0080 \u2028"})", s));
}

TEST(ParseRequestValidation, ControlCharacterFoundAtEveryPositionOfLongValues) {
  // Printable ASCII is checked 8 bytes at a time: a control must be seen wherever it sits.
  Schema s{str("u", 0, 100, true)};
  for (const char* ctl : {"\\u0000", "\\u0001", "\\u001f", "\\n", "\u007f"}) {
    for (int pos = 0; pos <= 30; ++pos) {
      std::string v = std::string(pos, 'a') + ctl + std::string(30 - pos, 'b');
      EXPECT_EQ(field_errors(R"({"u":")" + v + "\"}", s)["u"],
                "must not contain control characters")
          << "pos " << pos << " " << ctl;
    }
  }
  // and code points are counted right across 8-byte chunks mixing ASCII and UTF-8
  Schema len{str("u", 0, 20, true)};
  std::string twenty =
      "abcdefghij\xC3\xA9"
      "bcdefgh\xF0\x9F\x98\x80"
      "z";  // 20 code points
  EXPECT_NO_THROW(parse_request(R"({"u":")" + twenty + "\"}", len));
  EXPECT_EQ(field_errors(R"({"u":")" + twenty + "x\"}", len)["u"], "must be at most 20 characters");
  EXPECT_NO_THROW(parse_request(R"({"u":")" + std::string(20, 'x') + "\"}", len));
  EXPECT_EQ(field_errors(R"({"u":")" + std::string(21, 'x') + "\"}", len)["u"],
            "must be at most 20 characters");
}

TEST(ParseRequestValidation, MultiLineFieldAllowsTabNewlineButNotNulOrOtherControls) {
  FieldRule r = str("notes", 0, 1000, true);
  r.single_line = false;
  Schema s{r};
  Fields f = parse_request(R"({"notes":"line1\nline2\r\n\tindent \u007f"})", s);
  EXPECT_EQ(f.str("notes"), "line1\nline2\r\n\tindent \x7f");
  for (const char* v : {"a\\u0000b", "\\u0001", "\\u001b[31m", "x\\b", "x\\f", "\\u000b"}) {
    EXPECT_EQ(field_errors(std::string(R"({"notes":")") + v + "\"}", s)["notes"],
              "must not contain control characters")
        << v;
  }
}

TEST(ParseRequestValidation, NulRejectedInEveryStringField) {
  FieldRule multi = str("m", 0, 100, false);
  multi.single_line = false;
  Schema s{str("a", 0, 100, false), multi};
  auto e = field_errors(R"({"a":"\u0000","m":"x\u0000"})", s);
  EXPECT_EQ(e.size(), 2u);
  EXPECT_EQ(e["a"], "must not contain control characters");
  EXPECT_EQ(e["m"], "must not contain control characters");
}

TEST(ParseRequestValidation, CustomCheck) {
  FieldRule email = str("email", 3, 254, true);
  int calls = 0;
  email.check = [&calls](std::string_view v) -> std::optional<std::string> {
    ++calls;
    if (v.find('@') == std::string_view::npos) return "must be an email address";
    return std::nullopt;
  };
  Schema s{email, str("u", 1, 5, false)};
  EXPECT_EQ(parse_request(R"({"email":"a@b"})", s).str("email"), "a@b");
  auto e = field_errors(R"({"email":"abc","u":"toolong"})", s);
  EXPECT_EQ(e.size(), 2u);
  EXPECT_EQ(e["email"], "must be an email address");
  EXPECT_EQ(e["u"], "must be at most 5 characters");
  // the check is not run on a value that already failed a basic rule
  calls = 0;
  EXPECT_EQ(field_errors(R"({"email":"ab"})", s)["email"], "must be at least 3 characters");
  EXPECT_EQ(calls, 0);
}

TEST(ParseRequestValidation, BadFieldIsNotReportedAsMissingToo) {
  auto e = field_errors(R"({"username":"ab","password":1})", signup());
  EXPECT_EQ(e.size(), 2u);
  EXPECT_EQ(e["username"], "must be at least 3 characters");
  EXPECT_EQ(e["password"], "must be a string");
}

TEST(ParseRequestValidation, UnknownFieldNamesKeptVerbatim) {
  auto e = field_errors(ok_body(R"(,"a\"b\u0001":1,"":2)"), signup());
  EXPECT_EQ(e.size(), 2u);
  EXPECT_EQ(e["a\"b\x01"], "unknown field");
  EXPECT_EQ(e[""], "unknown field");
}

// ---------------------------------------------------------------- builders and Fields

TEST(Builders, SetWhatTheySay) {
  FieldRule s = str("u", 3, 50, true);
  EXPECT_EQ(s.name, "u");
  EXPECT_EQ(s.type, Type::string);
  EXPECT_TRUE(s.required);
  EXPECT_EQ(s.min_chars, 3u);
  EXPECT_EQ(s.max_chars, 50u);
  EXPECT_TRUE(s.single_line);
  EXPECT_FALSE(s.nullable);
  FieldRule i = integer("age", 13, 120, false);
  EXPECT_EQ(i.type, Type::integer);
  EXPECT_FALSE(i.required);
  EXPECT_EQ(i.min_int, 13);
  EXPECT_EQ(i.max_int, 120);
  FieldRule b = boolean("x", true);
  EXPECT_EQ(b.type, Type::boolean);
  EXPECT_TRUE(b.required);
  EXPECT_EQ(b.name, "x");
}

TEST(FieldsTest, ManyValuesSurviveGrowth) {
  Fields f;
  for (int i = 0; i < 100; ++i) f.set_string(numbered("k", i), numbered("value", i));
  f.set_integer("n", -7);
  f.set_boolean("b", false);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(f.str(numbered("k", i)), numbered("value", i));
  EXPECT_EQ(f.integer("n"), -7);
  EXPECT_EQ(f.boolean("b"), false);
  EXPECT_FALSE(f.has("nope"));
}

TEST(FieldsTest, MoveKeepsValues) {
  Fields a = parse_request(ok_body(), signup());
  Fields b(std::move(a));
  EXPECT_EQ(b.str("username"), "alice");
  Fields c;
  c.set_string("x", "old");
  c = std::move(b);
  EXPECT_EQ(c.str("username"), "alice");
  EXPECT_FALSE(c.has("x"));
}

TEST(FieldsTest, SecretIsACopy) {
  Fields f = parse_request(ok_body(), signup());
  SecretString s = f.secret("password");
  EXPECT_EQ(s.view(), "correct horse");
  EXPECT_NE(static_cast<const void*>(s.data()),
            static_cast<const void*>(f.str("password")->data()));
}

}  // namespace
}  // namespace sr::json
