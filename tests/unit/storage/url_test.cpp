#include <gtest/gtest.h>

#include "storage/repository.hpp"
#include "storage/url.hpp"

namespace sr::storage {
namespace {

TEST(DatabaseUrl, Sqlite) {
  auto a = parse_database_url("sqlite:///var/lib/strongroom/db.sqlite");
  EXPECT_EQ(a.kind, DatabaseUrl::Kind::sqlite);
  EXPECT_EQ(a.sqlite_path, "/var/lib/strongroom/db.sqlite");
  auto r = parse_database_url("sqlite://data/strongroom.db");
  EXPECT_EQ(r.sqlite_path, "data/strongroom.db");
  EXPECT_THROW(parse_database_url("sqlite://"), std::runtime_error);
  EXPECT_THROW(parse_database_url("sqlite:///dir/"), std::runtime_error);
}

TEST(DatabaseUrl, Postgres) {
  auto p = parse_database_url("postgresql://u:pw@db.example:5432/app?sslmode=verify-full");
  EXPECT_EQ(p.kind, DatabaseUrl::Kind::postgresql);
  EXPECT_EQ(p.conninfo, "postgresql://u:pw@db.example:5432/app?sslmode=verify-full");
  EXPECT_EQ(parse_database_url("postgres://h/db").kind, DatabaseUrl::Kind::postgresql);
}

TEST(DatabaseUrl, ErrorsNeverCarryThePassword) {
  for (const char* url :
       {"mysql://root:hunter2pw@h/db", "postgresql://u:hunter2pw@h/db?no_such_param=1",
        "postgresql://u@h/db?password=hunter2pw&bogus_key=1"}) {
    try {
      parse_database_url(url);
      ADD_FAILURE() << "accepted " << url;
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).find("hunter2pw"), std::string::npos) << e.what();
    }
    try {
      StorageOptions o;
      o.url = url;
      open_storage(o);
      ADD_FAILURE() << "opened " << url;
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).find("hunter2pw"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(parse_database_url(""), std::runtime_error);
}

TEST(DatabaseUrl, Redact) {
  EXPECT_EQ(redact_database_url("postgresql://u:pw@h:5432/db"), "postgresql://u:***@h:5432/db");
  EXPECT_EQ(redact_database_url("postgresql://u@h/db?sslmode=require&password=pw"),
            "postgresql://u@h/db?sslmode=require&password=***");
  EXPECT_EQ(redact_database_url("postgresql://u:p@ss@h/db"), "postgresql://u:***@h/db");
  EXPECT_EQ(redact_database_url("sqlite:///a/b.db"), "sqlite:///a/b.db");
}

}  // namespace
}  // namespace sr::storage
