// The fibers of the PostgreSQL event loops (fiber.hpp): a body runs on its own stack until it
// suspends, continues where it left off when resumed, and its stack goes back to the pool. Under
// AddressSanitizer a stack given back must carry no poison of the frames that lived on it: the
// memory is reused (by the next fiber or, once unmapped, by any later mapping), and stale redzones
// there made a later, unrelated write (SQLite's WAL into a fresh mapping) look like a stack
// overflow.
#include "storage/postgres/fiber.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define SR_TEST_ASAN 1
#endif

namespace sr::storage::postgres {
namespace {

// Deep enough to leave instrumented frames (with redzones) all over the stack's used part, and
// an exception thrown and caught on the fiber's stack.
int deep(int n, std::vector<std::string>& trail) {
  char local[512];
  local[n % sizeof local] = static_cast<char>(n);
  if (n == 0) {
    try {
      throw std::runtime_error("on the fiber");
    } catch (const std::exception& e) {
      trail.emplace_back(e.what());
    }
    return local[0];
  }
  return deep(n - 1, trail) + local[n % sizeof local];
}

TEST(Fiber, RunsUntilItSuspendsAndContinuesWhereItLeftOff) {
  StackPool pool(4);
  std::vector<std::string> trail;
  Fiber f;
  Fiber* inside = nullptr;
  f.start(pool, [&] {
    inside = Fiber::current();
    trail.push_back("first");
    f.suspend();
    trail.push_back("second");
    deep(40, trail);
    f.suspend();
    trail.push_back("third");
  });
  EXPECT_EQ(inside, &f);
  EXPECT_EQ(Fiber::current(), nullptr);
  EXPECT_EQ(trail, std::vector<std::string>({"first"}));
  EXPECT_FALSE(f.finished());
  f.resume();
  EXPECT_EQ(trail, std::vector<std::string>({"first", "second", "on the fiber"}));
  EXPECT_FALSE(f.finished());
  f.resume();
  EXPECT_TRUE(f.finished());
  EXPECT_EQ(trail.back(), "third");
  EXPECT_EQ(Fiber::current(), nullptr);
}

// Each fiber is resumed by the one that runs: current() follows the nesting.
TEST(Fiber, FibersStartedInsideAFiberReturnToIt) {
  StackPool pool(4);
  Fiber outer, inner;
  std::vector<Fiber*> seen;
  outer.start(pool, [&] {
    seen.push_back(Fiber::current());
    inner.start(pool, [&] {
      seen.push_back(Fiber::current());
      inner.suspend();
      seen.push_back(Fiber::current());
    });
    seen.push_back(Fiber::current());
    inner.resume();
    seen.push_back(Fiber::current());
  });
  EXPECT_TRUE(outer.finished());
  EXPECT_TRUE(inner.finished());
  EXPECT_EQ(seen, std::vector<Fiber*>({&outer, &inner, &outer, &inner, &outer}));
}

#if SR_TEST_ASAN
bool clean(const boost::context::stack_context& sc) {
  char* bottom = static_cast<char*>(sc.sp) - sc.size;
  return __asan_region_is_poisoned(bottom, sc.size) == nullptr;
}

// The stack of a finished fiber is clean in ASan's shadow, whether the pool keeps it for the next
// fiber or unmaps it.
TEST(Fiber, AStackGivenBackCarriesNoPoison) {
  StackPool pool(1);
  // A stack whose place we know: the next fiber to start takes it.
  auto known = pool.allocate();
  pool.deallocate(known);
  Fiber a, b;
  std::vector<std::string> trail;
  auto body = [&](Fiber& me) {
    return [&] {
      deep(60, trail);
      me.suspend();
      deep(60, trail);
    };
  };
  a.start(pool, body(a));  // on `known`
  b.start(pool, body(b));  // on a new stack
  b.resume();              // b's stack is kept (the pool has room for one)
  a.resume();              // the pool is full: `known` is unmapped
  ASSERT_TRUE(a.finished() && b.finished());
  EXPECT_TRUE(clean(known)) << "an unmapped stack";
  auto kept = pool.allocate();
  EXPECT_NE(kept.sp, known.sp);
  EXPECT_TRUE(clean(kept)) << "a stack kept for reuse";
  pool.deallocate(kept);
}
#endif

}  // namespace
}  // namespace sr::storage::postgres
