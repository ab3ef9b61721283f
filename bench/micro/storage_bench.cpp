// Storage micro-benchmark: primary-key reads and inserts per second through the Storage API
// (run_sync; the /personal/me read also through run() on an io_context), on SQLite (temp dir) and
// PostgreSQL (SR_TEST_PG_URL; skipped when unset). Inserts are durable commits (SQLite
// synchronous=FULL, PostgreSQL fsync on).
//
// Pipeline mode (PostgreSQL): N primary-key SELECTs in one job, one after the other (N round
// trips) or in one pipeline (one round trip); items/s = queries/s. And the /personal/me shape
// (session + user + handbook): Repository::read_batch vs the three single-row methods, one job
// each; items/s = requests/s.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <time.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "storage/postgres/pg_repository.hpp"
#include "storage/repository.hpp"

namespace {

using namespace sr::storage;

struct Db {
  std::unique_ptr<Storage> st;
  int64_t user_id = 0;
  std::string session_id;
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
    Session s;
    s.id = "sid-" + n;
    s.user_id = db->user_id;
    s.refresh_jti = "jti-" + n;
    s.expires_at = 4102444800;
    s.user_agent = "bench";
    s.ip = "127.0.0.1";
    r.create_session(s);
    Handbook h;
    h.full_name = "Bench User";
    h.age = 42;
    h.bio = std::string(200, 'b');
    r.put_handbook(db->user_id, h);
    db->session_id = s.id;
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

// The statement of PgRepository::find_user, prepared by Conn like any other.
constexpr char kPkRead[] =
    "SELECT id, username, email, password_hash, created_at FROM users WHERE id = $1";

// N PK reads in one job on one connection: one round trip each.
void pg_reads_sequential(benchmark::State& state, Db* db) {
  if (!db) return state.SkipWithError("SR_TEST_PG_URL not set");
  const auto n = state.range(0);
  for (auto _ : state) {
    int64_t rows = 0;
    db->st->run_sync(Access::read, [&](Repository& r) {
      auto& c = static_cast<postgres::PgRepository&>(r).conn();
      for (int64_t i = 0; i < n; ++i)
        rows += c.exec(kPkRead, postgres::Params().i(db->user_id)).rows();
    });
    if (rows != n) state.SkipWithError("user not found");
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// N PK reads in one job, in one pipeline: one round trip for all of them.
void pg_reads_pipelined(benchmark::State& state, Db* db) {
  if (!db) return state.SkipWithError("SR_TEST_PG_URL not set");
  const auto n = state.range(0);
  for (auto _ : state) {
    int64_t rows = 0;
    db->st->run_sync(Access::read, [&](Repository& r) {
      auto& c = static_cast<postgres::PgRepository&>(r).conn();
      postgres::Batch b;
      for (int64_t i = 0; i < n; ++i) b.add(kPkRead).i(db->user_id);
      for (const auto& res : c.pipeline(b)) rows += res.rows();
    });
    if (rows != n) state.SkipWithError("user not found");
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// The same without the pool: one Conn on the benchmark thread (libpq alone, as the issue's
// reference points were measured). N = 1 with exec(), N > 1 in one pipeline per iteration.
void pg_conn_reads(benchmark::State& state, bool pipelined) {
  Db* db = pg_db();
  if (!db) return state.SkipWithError("SR_TEST_PG_URL not set");
  postgres::ConnOptions o;
  o.conninfo = std::getenv("SR_TEST_PG_URL");
  postgres::Conn c(o);
  c.connect();
  const auto n = state.range(0);
  for (auto _ : state) {
    int64_t rows = 0;
    if (!pipelined) {
      for (int64_t i = 0; i < n; ++i)
        rows += c.exec(kPkRead, postgres::Params().i(db->user_id)).rows();
    } else {
      postgres::Batch b;
      for (int64_t i = 0; i < n; ++i) b.add(kPkRead).i(db->user_id);
      for (const auto& res : c.pipeline(b)) rows += res.rows();
    }
    if (rows != n) state.SkipWithError("user not found");
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// GET /personal/me: session + user + handbook, as one read_batch.
void me_read_batch(benchmark::State& state, Db* db) {
  if (!db) return state.SkipWithError("SR_TEST_PG_URL not set");
  for (auto _ : state) {
    ReadBatch b;
    b.want.session = db->session_id;
    b.want.user_id = db->user_id;
    b.want.user = b.want.handbook = true;
    db->st->run_sync(Access::read, [&](Repository& r) { r.read_batch(b); });
    if (!b.session || !b.user || !b.handbook) state.SkipWithError("rows not found");
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(state.iterations());
}

// The same three reads one after the other in one job.
void me_sequential(benchmark::State& state, Db* db) {
  if (!db) return state.SkipWithError("SR_TEST_PG_URL not set");
  for (auto _ : state) {
    std::optional<Session> s;
    std::optional<User> u;
    std::optional<Handbook> h;
    db->st->run_sync(Access::read, [&](Repository& r) {
      s = r.find_session(db->session_id);
      u = r.find_user(db->user_id);
      h = r.get_handbook(db->user_id);
    });
    if (!s || !u || !h) state.SkipWithError("rows not found");
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(u);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations());
}

// GET /personal/me's read as the network threads do it: Storage::run() from coroutines on one
// io_context run by the benchmark's thread, in bursts of `k` requests started together (as a
// turn of a busy event loop starts them; PostgreSQL: the jobs on fibers of this thread, their
// reads in one batch on the thread's read connection). Counter cpu_us: this thread's CPU per
// request -- the storage path's own cost, without HTTP and without the database's CPU, and,
// unlike a closed loop, not dependent on how fast the database answers (which sets batch sizes).
void me_on_loop(benchmark::State& state, Db* db) {
  if (!db) return state.SkipWithError("SR_TEST_PG_URL not set");
  constexpr int kBursts = 20;
  const auto k = static_cast<int>(state.range(0));
  boost::asio::io_context io{1};
  auto thread_cpu = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  double cpu = 0;
  bool failed = false;
  for (auto _ : state) {
    for (int burst = 0; burst < kBursts; ++burst) {
      for (int w = 0; w < k; ++w)
        boost::asio::co_spawn(
            io,
            [&]() -> sr::Task<void> {
              ReadBatch b;
              b.want.session = db->session_id;
              b.want.user_id = db->user_id;
              b.want.user = b.want.handbook = true;
              co_await db->st->run(Access::read, [&](Repository& r) { r.read_batch(b); });
              if (!b.session || !b.user || !b.handbook) failed = true;
            },
            boost::asio::detached);
      const double t0 = thread_cpu();
      io.run();
      cpu += thread_cpu() - t0;
      io.restart();
    }
  }
  if (failed) state.SkipWithError("rows not found");
  const double n = static_cast<double>(state.iterations()) * kBursts * k;
  state.counters["cpu_us"] = cpu / n * 1e6;
  state.SetItemsProcessed(static_cast<int64_t>(n));
}

void BM_SqliteMeOnLoop(benchmark::State& s) {
  me_on_loop(s, sqlite_db());
}
void BM_PgMeOnLoop(benchmark::State& s) {
  me_on_loop(s, pg_db());
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

void BM_PgPkReadSequential(benchmark::State& s) {
  pg_reads_sequential(s, pg_db());
}
void BM_PgPkReadPipelined(benchmark::State& s) {
  pg_reads_pipelined(s, pg_db());
}
void BM_PgConnPkReadSequential(benchmark::State& s) {
  pg_conn_reads(s, false);
}
void BM_PgConnPkReadPipelined(benchmark::State& s) {
  pg_conn_reads(s, true);
}
void BM_SqliteMeReadBatch(benchmark::State& s) {
  me_read_batch(s, sqlite_db());
}
void BM_SqliteMeSequential(benchmark::State& s) {
  me_sequential(s, sqlite_db());
}
void BM_PgMeReadBatch(benchmark::State& s) {
  me_read_batch(s, pg_db());
}
void BM_PgMeSequential(benchmark::State& s) {
  me_sequential(s, pg_db());
}

BENCHMARK(BM_SqlitePkRead)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_SqliteInsert)->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(BM_PgPkRead)->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(BM_PgInsert)->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(BM_PgPkReadSequential)->Arg(16)->Arg(64)->UseRealTime();
BENCHMARK(BM_PgPkReadPipelined)->Arg(1)->Arg(16)->Arg(64)->UseRealTime();
BENCHMARK(BM_PgConnPkReadSequential)->Arg(1)->Arg(64)->UseRealTime();
BENCHMARK(BM_PgConnPkReadPipelined)->Arg(16)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(BM_SqliteMeReadBatch)->Threads(1)->UseRealTime();
BENCHMARK(BM_SqliteMeSequential)->Threads(1)->UseRealTime();
BENCHMARK(BM_PgMeReadBatch)->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(BM_PgMeSequential)->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(BM_SqliteMeOnLoop)->Arg(1)->Arg(64)->UseRealTime();
BENCHMARK(BM_PgMeOnLoop)->Arg(1)->Arg(64)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
