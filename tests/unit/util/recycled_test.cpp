#include "util/recycled.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int g_alive = 0;

struct State {
  explicit State(int v = 0, bool fail = false) : value(v) {
    if (fail) throw std::runtime_error("refused");
    ++g_alive;
  }
  ~State() { --g_alive; }
  int value;
  std::string text;  // empty in every new object, whatever the last one held
  std::vector<int> items;
};

TEST(Recycled, EachObjectIsNewInAReusedBlock) {
  const State* first = nullptr;
  {
    sr::Recycled<State> a(7);
    EXPECT_EQ(a->value, 7);
    EXPECT_EQ(g_alive, 1);
    a->text = "a string longer than the short-string buffer";
    a->items = {1, 2, 3};
    first = &*a;
  }
  EXPECT_EQ(g_alive, 0);  // destroyed, not just kept
  sr::Recycled<State> b;
  EXPECT_EQ(&*b, first);  // the same block...
  EXPECT_EQ(b->value, 0);  // ...holding a new object
  EXPECT_TRUE(b->text.empty());
  EXPECT_TRUE(b->items.empty());
}

TEST(Recycled, NestedObjectsHaveTheirOwnBlocks) {
  sr::Recycled<State> a(1);
  sr::Recycled<State> b(2);
  EXPECT_NE(&*a, &*b);
  EXPECT_EQ(a->value, 1);
  EXPECT_EQ(b->value, 2);
  EXPECT_EQ(g_alive, 2);
}

TEST(Recycled, AConstructorThatThrowsGivesTheBlockBack) {
  const State* block = nullptr;
  {
    sr::Recycled<State> a;
    block = &*a;
  }
  EXPECT_THROW(sr::Recycled<State>(1, true), std::runtime_error);
  EXPECT_EQ(g_alive, 0);
  sr::Recycled<State> b(3);
  EXPECT_EQ(&*b, block);  // the failed construction returned it to the list
  EXPECT_EQ(b->value, 3);
}

// A type whose constructor leaves its bytes as the block holds them.
struct Raw {
  Raw() {}  // NOLINT: deliberately no initialization
  unsigned char bytes[200];
};

TEST(Recycled, ABlockIsZeroedWhenItsObjectEnds) {
  const Raw* block = nullptr;
  {
    sr::Recycled<Raw> a;
    for (auto& b : a->bytes) b = 0xAB;  // request data, say
    block = &*a;
  }
  sr::Recycled<Raw> b;
  ASSERT_EQ(&*b, block);
  for (unsigned char c : b->bytes) ASSERT_EQ(c, 0);
}

// A coroutine may end on another thread than the one it began on: the block then goes to that
// thread's list. Run under ASan, this also checks that no block is lost or freed twice when the
// threads end.
TEST(Recycled, AnObjectMadeOnOneThreadMayEndOnAnother) {
  std::vector<std::unique_ptr<sr::Recycled<State>>> made;
  std::thread maker([&] {
    for (int i = 0; i < 100; ++i) made.push_back(std::make_unique<sr::Recycled<State>>(i));
  });
  maker.join();
  EXPECT_EQ(g_alive, 100);
  std::thread ender([&] {
    for (int i = 0; i < 100; ++i) EXPECT_EQ((*made[i])->value, i);
    made.clear();
    sr::Recycled<State> again(5);  // served from this thread's list
    EXPECT_EQ(again->value, 5);
  });
  ender.join();
  EXPECT_EQ(g_alive, 0);
}

}  // namespace
