// Prometheus metrics. Counters and histograms are sharded per thread (no shared cache line on the
// hot path) and summed when /metrics is scraped.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace sr::obs {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  // One finished HTTP request. route is the pattern ("/social/links/{id}") or "unmatched".
  void observe_request(std::string_view route, std::string_view method, int status,
                       int64_t latency_ns);
  // Named counters, e.g. inc("ratelimit_rejections_total", "route=\"/auth/signin\"").
  void inc(std::string_view name, std::string_view labels = {}, int64_t by = 1);
  // Gauges computed at scrape time (open connections, pool use, hash queue depth).
  void gauge(std::string name, std::string help, std::function<double()> read);
  // The whole exposition in Prometheus text format 0.0.4.
  std::string render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sr::obs
