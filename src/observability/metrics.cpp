#include "observability/metrics.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace sr::obs {
namespace {

// Latency buckets (seconds) and the same bounds in nanoseconds for the hot path.
constexpr std::array<int64_t, 12> kBucketsNs = {
    500'000,    1'000'000,   2'500'000,   5'000'000,   10'000'000,    25'000'000,
    50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000};

// The `le` labels, written out (to_chars would print 0.0005 as 5e-04).
constexpr std::array<std::string_view, 12> kBucketLabels = {"0.0005", "0.001", "0.0025", "0.005",
                                                            "0.01",   "0.025", "0.05",   "0.1",
                                                            "0.25",   "0.5",   "1",      "2.5"};

struct ReqView {
  std::string_view route, method;
  int status;
};
struct ReqKey {
  std::string route, method;
  int status;
};
struct ReqHash {
  using is_transparent = void;
  std::size_t operator()(const ReqView& k) const noexcept {
    std::size_t h = std::hash<std::string_view>{}(k.route);
    h ^= std::hash<std::string_view>{}(k.method) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h ^ (static_cast<std::size_t>(k.status) * 0x100000001b3ULL);
  }
  std::size_t operator()(const ReqKey& k) const noexcept {
    return (*this)(ReqView{k.route, k.method, k.status});
  }
};
struct ReqEq {
  using is_transparent = void;
  static ReqView v(const ReqKey& k) { return {k.route, k.method, k.status}; }
  static ReqView v(const ReqView& k) { return k; }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const noexcept {
    ReqView x = v(a), y = v(b);
    return x.status == y.status && x.route == y.route && x.method == y.method;
  }
};
struct Series {
  int64_t count = 0;
  int64_t sum_ns = 0;
  std::array<int64_t, 12> buckets{};  // not cumulative; cumulated at render
};

struct CtrView {
  std::string_view name, labels;
};
struct CtrKey {
  std::string name, labels;
};
struct CtrHash {
  using is_transparent = void;
  std::size_t operator()(const CtrView& k) const noexcept {
    std::size_t h = std::hash<std::string_view>{}(k.name);
    return h ^ (std::hash<std::string_view>{}(k.labels) + 0x9e3779b97f4a7c15ULL + (h << 6));
  }
  std::size_t operator()(const CtrKey& k) const noexcept {
    return (*this)(CtrView{k.name, k.labels});
  }
};
struct CtrEq {
  using is_transparent = void;
  static CtrView v(const CtrKey& k) { return {k.name, k.labels}; }
  static CtrView v(const CtrView& k) { return k; }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const noexcept {
    CtrView x = v(a), y = v(b);
    return x.name == y.name && x.labels == y.labels;
  }
};

// One per (thread, Metrics). Its mutex is taken by its own thread on every update and by render()
// only, so it is practically never contended.
struct Shard {
  std::mutex mu;
  std::unordered_map<ReqKey, Series, ReqHash, ReqEq> requests;
  std::unordered_map<CtrKey, int64_t, CtrHash, CtrEq> counters;
};

std::atomic<uint64_t> g_next_id{1};

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, p);
}
void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, p);
}
// Prometheus label value escaping: backslash, double quote, newline.
void append_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

}  // namespace

struct Metrics::Impl {
  const uint64_t id = g_next_id.fetch_add(1);
  mutable std::mutex mu;  // shards list and gauges
  std::vector<std::unique_ptr<Shard>> shards;
  struct Gauge {
    std::string name, help;
    std::function<double()> read;
  };
  std::vector<Gauge> gauges;

  Shard& local() {
    // Per thread: (Metrics id, shard). Ids are never reused, so a stale entry is never matched.
    thread_local std::vector<std::pair<uint64_t, Shard*>> cache;
    for (auto& [i, s] : cache)
      if (i == id) return *s;
    std::lock_guard lock(mu);
    shards.push_back(std::make_unique<Shard>());
    cache.emplace_back(id, shards.back().get());
    return *shards.back();
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::observe_request(std::string_view route, std::string_view method, int status,
                              int64_t latency_ns) {
  Shard& s = impl_->local();
  std::lock_guard lock(s.mu);
  auto it = s.requests.find(ReqView{route, method, status});
  if (it == s.requests.end())
    it =
        s.requests.emplace(ReqKey{std::string(route), std::string(method), status}, Series{}).first;
  Series& se = it->second;
  ++se.count;
  se.sum_ns += latency_ns;
  for (std::size_t i = 0; i < kBucketsNs.size(); ++i) {
    if (latency_ns <= kBucketsNs[i]) {
      ++se.buckets[i];
      break;
    }
  }
}

void Metrics::inc(std::string_view name, std::string_view labels, int64_t by) {
  Shard& s = impl_->local();
  std::lock_guard lock(s.mu);
  auto it = s.counters.find(CtrView{name, labels});
  if (it == s.counters.end())
    it = s.counters.emplace(CtrKey{std::string(name), std::string(labels)}, 0).first;
  it->second += by;
}

void Metrics::gauge(std::string name, std::string help, std::function<double()> read) {
  std::lock_guard lock(impl_->mu);
  for (auto& g : impl_->gauges) {
    if (g.name == name) {  // re-registration replaces (e.g. a restarted server)
      g.help = std::move(help);
      g.read = std::move(read);
      return;
    }
  }
  impl_->gauges.push_back({std::move(name), std::move(help), std::move(read)});
}

std::string Metrics::render() const {
  // Sum the shards into ordered maps (stable output).
  std::map<std::tuple<std::string, std::string, int>, int64_t> counts;
  std::map<std::pair<std::string, std::string>, Series> hists;
  std::map<std::string, std::map<std::string, int64_t>> counters;
  std::vector<std::pair<std::string, std::string>> gauge_meta;
  std::vector<std::function<double()>> gauge_read;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& sp : impl_->shards) {
      std::lock_guard sl(sp->mu);
      for (const auto& [k, v] : sp->requests) {
        counts[{k.route, k.method, k.status}] += v.count;
        Series& h = hists[{k.route, k.method}];
        h.count += v.count;
        h.sum_ns += v.sum_ns;
        for (std::size_t i = 0; i < h.buckets.size(); ++i) h.buckets[i] += v.buckets[i];
      }
      for (const auto& [k, v] : sp->counters) counters[k.name][k.labels] += v;
    }
    for (const auto& g : impl_->gauges) {
      gauge_meta.emplace_back(g.name, g.help);
      gauge_read.push_back(g.read);
    }
  }

  std::string out;
  out.reserve(4096);
  out += "# HELP http_requests_total HTTP requests by route pattern, method and status.\n";
  out += "# TYPE http_requests_total counter\n";
  for (const auto& [k, v] : counts) {
    out += "http_requests_total{route=\"";
    append_label_value(out, std::get<0>(k));
    out += "\",method=\"";
    append_label_value(out, std::get<1>(k));
    out += "\",status=\"";
    append_int(out, std::get<2>(k));
    out += "\"} ";
    append_int(out, v);
    out += '\n';
  }
  out += "# HELP http_request_duration_seconds HTTP request latency by route pattern and method.\n";
  out += "# TYPE http_request_duration_seconds histogram\n";
  for (const auto& [k, h] : hists) {
    std::string labels = "route=\"";
    append_label_value(labels, k.first);
    labels += "\",method=\"";
    append_label_value(labels, k.second);
    labels += '"';
    int64_t cum = 0;
    for (std::size_t i = 0; i < kBucketLabels.size(); ++i) {
      cum += h.buckets[i];
      out += "http_request_duration_seconds_bucket{";
      out += labels;
      out += ",le=\"";
      out += kBucketLabels[i];
      out += "\"} ";
      append_int(out, cum);
      out += '\n';
    }
    out += "http_request_duration_seconds_bucket{";
    out += labels;
    out += ",le=\"+Inf\"} ";
    append_int(out, h.count);
    out += "\nhttp_request_duration_seconds_sum{";
    out += labels;
    out += "} ";
    append_double(out, static_cast<double>(h.sum_ns) / 1e9);
    out += "\nhttp_request_duration_seconds_count{";
    out += labels;
    out += "} ";
    append_int(out, h.count);
    out += '\n';
  }
  for (const auto& [name, series] : counters) {
    out += "# HELP " + name + " Counter " + name + ".\n";
    out += "# TYPE " + name + " counter\n";
    for (const auto& [labels, v] : series) {
      out += name;
      if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
      }
      out += ' ';
      append_int(out, v);
      out += '\n';
    }
  }
  // Gauges are read outside the lock: a reader may itself take locks.
  for (std::size_t i = 0; i < gauge_meta.size(); ++i) {
    const auto& [name, help] = gauge_meta[i];
    out += "# HELP " + name + ' ' + help + '\n';
    out += "# TYPE " + name + " gauge\n";
    out += name;
    out += ' ';
    double v = 0;
    try {
      v = gauge_read[i] ? gauge_read[i]() : 0.0;
    } catch (...) {
      v = std::nan("");
    }
    append_double(out, v);
    out += '\n';
  }
  return out;
}

}  // namespace sr::obs
