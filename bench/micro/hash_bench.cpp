// t_hash: one Argon2id hash at the default account cost (SPEC: 19456 KiB, 2 passes).
#include <benchmark/benchmark.h>

#include "auth/password.hpp"
#include "util/secret.hpp"

static void BM_Argon2idDefault(benchmark::State& st) {
  auto pw = sr::SecretString::from_view("correct horse battery staple 42");
  sr::auth::Argon2Params p{19456, 2};
  for (auto _ : st) benchmark::DoNotOptimize(sr::auth::hash_password(pw, p));
}
BENCHMARK(BM_Argon2idDefault)->Unit(benchmark::kMillisecond)->Iterations(30);

static void BM_Argon2idVerifyDefault(benchmark::State& st) {
  auto pw = sr::SecretString::from_view("correct horse battery staple 42");
  sr::auth::Argon2Params p{19456, 2};
  auto h = sr::auth::hash_password(pw, p);
  for (auto _ : st) benchmark::DoNotOptimize(sr::auth::verify_password(pw, h, p));
}
BENCHMARK(BM_Argon2idVerifyDefault)->Unit(benchmark::kMillisecond)->Iterations(30);
// As the server's hash pool runs them: two at once (hash_workers = 2 in make bench). On a small
// machine two hashes share the cache and the memory bus: each takes longer than one alone.
BENCHMARK(BM_Argon2idVerifyDefault)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(15)
    ->Threads(2)
    ->UseRealTime();

BENCHMARK_MAIN();
