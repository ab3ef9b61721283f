// Storage micro-benchmark: primary-key reads and inserts per second through the Storage API
// (run_sync), on SQLite (temp dir) and PostgreSQL (SR_TEST_PG_URL; skipped when unset).
// Inserts are durable commits (SQLite synchronous=FULL, PostgreSQL fsync on).
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "storage/repository.hpp"

namespace {

using namespace sr::storage;

struct Db {
  std::unique_ptr<Storage> st;
  int64_t user_id = 0;
  std::string dir;
  ~Db() {
    if (st) st->close();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

std::atomic<int64_t> seq{0};

Db* open_db(bool pg) {
  auto db = new Db;
  StorageOptions o;
  if (pg) {
    const char* u = std::getenv("SR_TEST_PG_URL");
    if (!u) return nullptr;
    o.url = u;
    o.pool_size = 4;
  } else {
    std::string tmpl = "/tmp/sr-bench.XXXXXX";
    db->dir = ::mkdtemp(tmpl.data());
    o.url = "sqlite://" + db->dir + "/bench.db";
  }
  db->st = open_storage(o);
  db->st->migrate();
  std::string n = "bench" + std::to_string(::getpid()) + "-" + std::to_string(seq++);
  db->st->run_sync(Access::write, [&](Repository& r) {
    db->user_id = r.create_user(n, n, n + "@example.com", "h", 1);
  });
  return db;
}

Db* sqlite_db() {
  static std::unique_ptr<Db> db(open_db(false));
  return db.get();
}
Db* pg_db() {
  static std::unique_ptr<Db> db(open_db(true));
  return db.get();
}

void pk_read(benchmark::State& state, Db* db) {
  if (!db) return state.SkipWithError("SR_TEST_PG_URL not set");
  for (auto _ : state) {
    std::optional<User> u;
    db->st->run_sync(Access::read, [&](Repository& r) { u = r.find_user(db->user_id); });
    if (!u) state.SkipWithError("user not found");
    benchmark::DoNotOptimize(u);
  }
  state.SetItemsProcessed(state.iterations());
}

void insert(benchmark::State& state, Db* db) {
  if (!db) return state.SkipWithError("SR_TEST_PG_URL not set");
  std::string prefix = "jti-" + std::to_string(::getpid()) + "-" + std::to_string(seq++) + "-";
  int64_t i = 0;
  for (auto _ : state) {
    std::string jti = prefix + std::to_string(i++);
    db->st->run_sync(Access::write,
                     [&](Repository& r) { r.block_token(jti, "sid", db->user_id, 4102444800); });
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_SqlitePkRead(benchmark::State& s) {
  pk_read(s, sqlite_db());
}
void BM_SqliteInsert(benchmark::State& s) {
  insert(s, sqlite_db());
}
void BM_PgPkRead(benchmark::State& s) {
  pk_read(s, pg_db());
}
void BM_PgInsert(benchmark::State& s) {
  insert(s, pg_db());
}

BENCHMARK(BM_SqlitePkRead)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_SqliteInsert)->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(BM_PgPkRead)->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(BM_PgInsert)->Threads(1)->Threads(4)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
