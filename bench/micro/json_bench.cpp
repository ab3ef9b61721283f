// Micro-benchmarks of the json module against the libraries it could have been.
//
// Built by CMake with -DSR_BENCH=ON as bench_json_bench. RapidJSON (header-only, rapidjson-dev) is
// measured when its headers are present; simdjson needs its library, so it is measured only when
// built by hand with -DSR_BENCH_SIMDJSON -lsimdjson (see docs/json.md). The product depends on
// neither.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <string>

#include "json/json.hpp"

#if __has_include(<rapidjson/document.h>)
#define SR_BENCH_RAPIDJSON 1
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#endif
#if defined(SR_BENCH_SIMDJSON)
#include <simdjson.h>
#endif

namespace {

using namespace sr::json;

// ~200 bytes, the shape of POST /auth/signup.
const std::string kSignup =
    R"({"username":"alice_wonderland","email":"alice.wonderland@example.org",)"
    R"("password":"correct horse battery staple 42","full_name":"Alice Liddell",)"
    R"("age":29,"newsletter":true})";

const Schema& signup_schema() {
  static const Schema s{str("username", 3, 50, true),   str("email", 3, 254, true),
                        str("password", 8, 128, true),  str("full_name", 0, 100, false),
                        integer("age", 13, 150, false), boolean("newsletter", false)};
  return s;
}

void BM_Parse_Ours_ParseRequest(benchmark::State& st) {
  const Schema& s = signup_schema();
  for (auto _ : st) {
    Fields f = parse_request(kSignup, s);
    benchmark::DoNotOptimize(f.str("password")->data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kSignup.size()));
}
BENCHMARK(BM_Parse_Ours_ParseRequest);

// DOM only: no validation, no duplicate-key check (Boost keeps the last duplicate).
void BM_Parse_BoostJson_DOM(benchmark::State& st) {
  for (auto _ : st) {
    boost::json::value v = boost::json::parse(kSignup);
    benchmark::DoNotOptimize(v.as_object().find("password"));
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kSignup.size()));
}
BENCHMARK(BM_Parse_BoostJson_DOM);

// The fastest way to use the Boost DOM: a reused parser and a stack buffer for the value.
void BM_Parse_BoostJson_DOM_Monotonic(benchmark::State& st) {
  boost::json::parser p;
  for (auto _ : st) {
    unsigned char buf[4096];
    boost::json::monotonic_resource mr(buf, sizeof buf);
    p.reset(&mr);
    p.write(kSignup);
    boost::json::value v = p.release();
    benchmark::DoNotOptimize(v.as_object().find("password"));
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kSignup.size()));
}
BENCHMARK(BM_Parse_BoostJson_DOM_Monotonic);

#ifdef SR_BENCH_RAPIDJSON
void BM_Parse_RapidJson_DOM(benchmark::State& st) {
  for (auto _ : st) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseValidateEncodingFlag>(kSignup.data(), kSignup.size());
    benchmark::DoNotOptimize(d.HasParseError());
    benchmark::DoNotOptimize(d["password"].GetString());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kSignup.size()));
}
BENCHMARK(BM_Parse_RapidJson_DOM);
#endif

#ifdef SR_BENCH_SIMDJSON
// On-demand, reading every field once (lazy: unread values are not fully validated).
void BM_Parse_Simdjson_OnDemand(benchmark::State& st) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(kSignup);
  for (auto _ : st) {
    auto doc = parser.iterate(padded);
    std::size_t n = 0;
    for (auto field : doc.get_object()) {
      std::string_view key = field.unescaped_key();
      auto v = field.value();
      if (key == "age") {
        n += static_cast<std::size_t>(int64_t(v.get_int64()));
      } else if (key == "newsletter") {
        n += bool(v.get_bool());
      } else {
        n += std::string_view(v.get_string()).size();
      }
    }
    benchmark::DoNotOptimize(n);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kSignup.size()));
}
BENCHMARK(BM_Parse_Simdjson_OnDemand);
#endif

// A typical response: GET /personal/me, 10 fields.
struct Me {
  int64_t id = 12345;
  std::string username = "alice_wonderland";
  std::string email = "alice.wonderland@example.org";
  std::string full_name = "Alice Liddell";
  std::string phone = "+44 20 7946 0958";
  std::string address = "2 Riverside, Oxford OX1 1AA";
  std::string bio = "Curiouser and curiouser! \"quoted\" and a\nnewline";
  bool email_verified = true;
  std::string created_at = "2024-05-01T10:20:30Z";
  std::string updated_at = "2024-06-11T08:00:00Z";
};

void BM_Write_Ours_Writer(benchmark::State& st) {
  Me me;
  std::size_t bytes = 0;
  for (auto _ : st) {
    Writer w;
    w.begin_object()
        .kv("id", me.id)
        .kv("username", me.username)
        .kv("email", me.email)
        .kv("full_name", me.full_name)
        .kv("phone", me.phone)
        .kv("address", me.address)
        .kv("bio", me.bio)
        .kv("email_verified", me.email_verified)
        .kv("created_at", me.created_at)
        .kv("updated_at", me.updated_at)
        .end_object();
    std::string body = w.take();
    bytes = body.size();
    benchmark::DoNotOptimize(body.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * bytes));
}
BENCHMARK(BM_Write_Ours_Writer);

// Build a boost::json::object, then serialize it (what a handler using Boost would do).
void BM_Write_BoostJson_BuildAndSerialize(benchmark::State& st) {
  Me me;
  std::size_t bytes = 0;
  for (auto _ : st) {
    boost::json::object o;
    o["id"] = me.id;
    o["username"] = me.username;
    o["email"] = me.email;
    o["full_name"] = me.full_name;
    o["phone"] = me.phone;
    o["address"] = me.address;
    o["bio"] = me.bio;
    o["email_verified"] = me.email_verified;
    o["created_at"] = me.created_at;
    o["updated_at"] = me.updated_at;
    std::string body = boost::json::serialize(o);
    bytes = body.size();
    benchmark::DoNotOptimize(body.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * bytes));
}
BENCHMARK(BM_Write_BoostJson_BuildAndSerialize);

// serialize() alone, on an object built once.
void BM_Write_BoostJson_SerializeOnly(benchmark::State& st) {
  Me me;
  boost::json::object o{{"id", me.id},
                        {"username", me.username},
                        {"email", me.email},
                        {"full_name", me.full_name},
                        {"phone", me.phone},
                        {"address", me.address},
                        {"bio", me.bio},
                        {"email_verified", me.email_verified},
                        {"created_at", me.created_at},
                        {"updated_at", me.updated_at}};
  std::size_t bytes = 0;
  for (auto _ : st) {
    std::string body = boost::json::serialize(o);
    bytes = body.size();
    benchmark::DoNotOptimize(body.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * bytes));
}
BENCHMARK(BM_Write_BoostJson_SerializeOnly);

#ifdef SR_BENCH_RAPIDJSON
void BM_Write_RapidJson_Writer(benchmark::State& st) {
  Me me;
  std::size_t bytes = 0;
  auto kv = [](auto& w, const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  for (auto _ : st) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("id");
    w.Int64(me.id);
    kv(w, "username", me.username);
    kv(w, "email", me.email);
    kv(w, "full_name", me.full_name);
    kv(w, "phone", me.phone);
    kv(w, "address", me.address);
    kv(w, "bio", me.bio);
    w.Key("email_verified");
    w.Bool(me.email_verified);
    kv(w, "created_at", me.created_at);
    kv(w, "updated_at", me.updated_at);
    w.EndObject();
    std::string body(sb.GetString(), sb.GetSize());  // same end product: a std::string
    bytes = body.size();
    benchmark::DoNotOptimize(body.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * bytes));
}
BENCHMARK(BM_Write_RapidJson_Writer);
#endif

void BM_EscapeInto_Ascii100(benchmark::State& st) {
  const std::string s(100, 'a');
  std::string out;
  out.reserve(256);
  for (auto _ : st) {
    out.clear();
    escape_into(out, s);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_EscapeInto_Ascii100);

}  // namespace

BENCHMARK_MAIN();
