// What a backup costs the server's writer (docs/operations.md, "Backups and restore"). A SQLite
// database of about 70 MB held exclusively as the server holds it (unix-excl, WAL), one writer
// thread committing small rows through the Storage API as fast as it can (synchronous=FULL, as
// served), and backups taken meanwhile by each method of backup::make_backup.
// Time = one backup (copy, check, fsync, rename). Counters: the writer's commit latency (p50, p99,
// max, ms) and commits per second while backups run, and the same in the second before them.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backup/backup.hpp"
#include "storage/repository.hpp"
#include "storage/sqlite/sqlite_repository.hpp"
#include "util/clock.hpp"

namespace {

using namespace sr;

struct Live {
  std::string dir, db_path;
  std::unique_ptr<storage::Storage> st;
  Live() {
    std::string tmpl = "/tmp/sr-backup-bench-XXXXXX";
    dir = ::mkdtemp(tmpl.data());
    db_path = dir + "/live.db";
    storage::StorageOptions o;
    o.url = "sqlite://" + db_path;
    o.sqlite_exclusive = true;
    st = storage::open_storage(o);
    st->migrate();
    st->run_sync(storage::Access::write, [](storage::Repository& r) {
      auto& db = static_cast<storage::sqlite::SqliteRepository&>(r).db();
      db.exec("CREATE TABLE bench_fill (id INTEGER PRIMARY KEY, b BLOB NOT NULL)");
      db.exec("CREATE INDEX bench_fill_b ON bench_fill (substr(b, 1, 16))");
      db.exec(
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000) "
          "INSERT INTO bench_fill (b) SELECT randomblob(1000) FROM n");
    });
  }
  ~Live() {
    st->close();
    std::filesystem::remove_all(dir);
  }
};

Live& live() {
  static Live l;
  return l;
}

struct Commit {
  int64_t start, end;
};

class Writer {
 public:
  explicit Writer(storage::Storage& st) : st_(st), thread_([this] { loop(); }) {}
  ~Writer() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const std::vector<Commit>& commits() const { return commits_; }

 private:
  void loop() {
    while (!stop_) {
      int64_t t0 = mono_ns();
      st_.run_sync(storage::Access::write, [](storage::Repository& r) {
        static_cast<storage::sqlite::SqliteRepository&>(r).db().exec(
            "INSERT INTO bench_fill (b) VALUES (randomblob(200))");
      });
      commits_.push_back({t0, mono_ns()});
    }
  }
  storage::Storage& st_;
  std::atomic<bool> stop_{false};
  std::vector<Commit> commits_;
  std::thread thread_;
};

double quantile_ms(std::vector<int64_t> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))]) /
         1e6;
}

void BM_Backup(benchmark::State& state, backup::Method method) {
  Live& l = live();
  backup::Target t{l.db_path, "unix-excl", l.dir + "/backups", 1};
  Writer w(*l.st);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // warm-up, then the baseline second
  const int64_t first = mono_ns();
  std::vector<std::pair<int64_t, int64_t>> windows;
  int64_t bytes = 0;
  for (auto _ : state) {
    int64_t b0 = mono_ns();
    bytes = backup::make_backup(t, method).bytes;
    windows.emplace_back(b0, mono_ns());
  }
  w.stop();
  std::vector<int64_t> during, before;
  int64_t during_ns = 0;
  for (auto [b0, b1] : windows) during_ns += b1 - b0;
  for (const Commit& c : w.commits()) {
    if (c.end < first && c.start >= first - 1'000'000'000) before.push_back(c.end - c.start);
    for (auto [b0, b1] : windows)
      if (c.end > b0 && c.start < b1) {
        during.push_back(c.end - c.start);
        break;
      }
  }
  state.counters["file_MB"] = static_cast<double>(bytes) / 1e6;
  state.counters["during_commits_per_s"] =
      during_ns ? static_cast<double>(during.size()) * 1e9 / static_cast<double>(during_ns) : 0;
  state.counters["during_p50_ms"] = quantile_ms(during, 0.5);
  state.counters["during_p99_ms"] = quantile_ms(during, 0.99);
  state.counters["during_max_ms"] = quantile_ms(during, 1.0);
  state.counters["before_commits_per_s"] = static_cast<double>(before.size());
  state.counters["before_p99_ms"] = quantile_ms(before, 0.99);
  state.counters["before_max_ms"] = quantile_ms(before, 1.0);
}

BENCHMARK_CAPTURE(BM_Backup, online_api, backup::Method::online_api)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Backup, vacuum_into, backup::Method::vacuum_into)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
