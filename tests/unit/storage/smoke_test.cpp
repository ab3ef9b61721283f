#include <gtest/gtest.h>
#include "storage/repository.hpp"
TEST(Smoke, Builds) { SUCCEED(); }
