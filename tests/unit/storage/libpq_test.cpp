// The dlopen()ed libpq (storage/postgres/libpq.hpp): every function of the table is there after a
// load, and a library that is missing or is not libpq gives an error that says which and why,
// instead of a crash at the first call.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "storage/postgres/libpq.hpp"

namespace sr::storage::postgres {
namespace {

TEST(Libpq, LoadsEveryFunctionOfTheTable) {
  const Libpq& pq = libpq();
#define SR_EXPECT_LOADED(name) EXPECT_NE(pq.name, nullptr) << #name;
  SR_LIBPQ_FUNCTIONS(SR_EXPECT_LOADED)
#undef SR_EXPECT_LOADED
  EXPECT_EQ(&libpq(), &pq);  // loaded once
  // A call through the table reaches the real library: it parses a URL and refuses a bad one.
  char* err = nullptr;
  PQconninfoOption* opts = pq.PQconninfoParse("postgresql://u@h:5/db", &err);
  ASSERT_NE(opts, nullptr);
  pq.PQconninfoFree(opts);
  EXPECT_EQ(pq.PQconninfoParse("postgresql://h:notaport/db?bogus_option=1", &err), nullptr);
  ASSERT_NE(err, nullptr);
  pq.PQfreemem(err);
}

std::string load_error(const char* file) {
  try {
    load_libpq(file);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Libpq, AMissingLibraryIsAClearError) {
  const std::string e = load_error("libstrongroom-no-such-library.so.5");
  EXPECT_NE(e.find("postgresql: cannot load libstrongroom-no-such-library.so.5"), std::string::npos)
      << e;
  EXPECT_NE(e.find("libpq5"), std::string::npos) << e;  // says what to install
}

TEST(Libpq, ALibraryWithoutLibpqsFunctionsIsRefused) {
  const std::string e = load_error("libc.so.6");  // loads, but has none of them
  EXPECT_NE(e.find("cannot load libc.so.6 (it has no PQclear)"), std::string::npos) << e;
}

}  // namespace
}  // namespace sr::storage::postgres
