// Reading a request head: our in-place reader (http/head.hpp) against Beast's request_parser as
// the server drives it (a fresh parser per request, fields copied into its field set), on the
// request wrk sends in `make bench` (a Bearer GET) and on a browser's cookie-carrying GET.
#include <benchmark/benchmark.h>

#include <boost/beast/http.hpp>
#include <string>

#include "http/head.hpp"

namespace {

namespace bhttp = boost::beast::http;

std::string bearer_get() {
  return "GET /personal/me HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: Bearer " +
         std::string(375, 'x') + "\r\n\r\n";
}

std::string browser_get() {
  return "GET /personal/me HTTP/1.1\r\nHost: strongroom.example\r\n"
         "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36\r\n"
         "Accept: application/json\r\nAccept-Language: en-GB,en;q=0.9\r\n"
         "Accept-Encoding: gzip, deflate, br\r\nReferer: https://strongroom.example/app/\r\n"
         "Sec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: cors\r\nSec-Fetch-Dest: empty\r\n"
         "Cookie: __Host-access_token=" +
         std::string(375, 'x') + "; __Host-csrf_access_token=" + std::string(43, 'y') +
         "\r\nConnection: keep-alive\r\n\r\n";
}

void BM_Head_Ours(benchmark::State& state, std::string req) {
  sr::http::QuickHead h;
  for (auto _ : state) {
    bool ok = sr::http::parse_quick_head(req, 16 * 1024, h);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(h.last("Authorization"));
    if (!ok) state.SkipWithError("not taken");
  }
}

void BM_Head_Beast(benchmark::State& state, std::string req) {
  for (auto _ : state) {
    bhttp::request_parser<bhttp::string_body> p;
    p.header_limit(16 * 1024);
    p.eager(false);
    boost::beast::error_code ec;
    p.put(boost::asio::buffer(req.data(), req.size()), ec);
    benchmark::DoNotOptimize(p.get()[bhttp::field::authorization]);
    if (ec || !p.is_done()) state.SkipWithError("not parsed");
  }
}

BENCHMARK_CAPTURE(BM_Head_Ours, bearer_get, bearer_get());
BENCHMARK_CAPTURE(BM_Head_Beast, bearer_get, bearer_get());
BENCHMARK_CAPTURE(BM_Head_Ours, browser_get, browser_get());
BENCHMARK_CAPTURE(BM_Head_Beast, browser_get, browser_get());

}  // namespace

BENCHMARK_MAIN();
