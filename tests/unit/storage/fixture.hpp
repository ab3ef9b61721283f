// The storage conformance fixture: every TEST_P runs against SQLite (a fresh temp dir) and against
// PostgreSQL (SR_TEST_PG_URL, schema dropped and re-created per test). Without SR_TEST_PG_URL the
// PostgreSQL instances FAIL, unless SR_TEST_ALLOW_NO_PG=1 says skipping is acceptable.
#pragma once
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "storage/repository.hpp"

namespace sr::storage::test {

enum class Backend { sqlite, postgresql };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& i) {
  return i.param == Backend::sqlite ? "SQLite" : "PostgreSQL";
}

inline std::string pg_url() {
  const char* u = std::getenv("SR_TEST_PG_URL");
  return u ? u : "";
}

inline bool pg_may_skip() {
  const char* a = std::getenv("SR_TEST_ALLOW_NO_PG");
  return a && std::string(a) == "1";
}

#define SR_REQUIRE_PG()                                                                   \
  do {                                                                                    \
    if (::sr::storage::test::pg_url().empty()) {                                          \
      if (::sr::storage::test::pg_may_skip()) GTEST_SKIP() << "SR_TEST_PG_URL unset";     \
      FAIL() << "SR_TEST_PG_URL is not set: start a throwaway server with "               \
                "`scripts/pg-test.sh start /tmp/pg.env && . /tmp/pg.env && export "       \
                "SR_TEST_PG_URL`, or set SR_TEST_ALLOW_NO_PG=1 to skip PostgreSQL tests"; \
    }                                                                                     \
  } while (0)

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sr-storage-test.XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs constant SQL on PostgreSQL outside the storage (test setup only).
inline void pg_exec(const std::string& url, const char* sql) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string m = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("test: cannot connect to PostgreSQL: " + m);
  }
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  PGresult* r = PQexec(c, sql);
  auto st = PQresultStatus(r);
  std::string m = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    throw std::runtime_error("test: " + std::string(sql) + ": " + m);
}

// A PostgreSQL connection of the test's own, outside the storage (races, raw inspection).
struct RawPg {
  explicit RawPg(const std::string& url) : c(PQconnectdb(url.c_str())) {}
  ~RawPg() { PQfinish(c); }
  RawPg(const RawPg&) = delete;
  RawPg& operator=(const RawPg&) = delete;
  bool ok() const { return PQstatus(c) == CONNECTION_OK; }
  bool exec(const std::string& sql) {
    PGresult* res = PQexec(c, sql.c_str());
    const auto st = PQresultStatus(res);
    PQclear(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  }
  // The first column of the first row ("" when there is none or the query failed).
  std::string scalar(const std::string& sql) {
    PGresult* res = PQexec(c, sql.c_str());
    std::string out;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) out = PQgetvalue(res, 0, 0);
    PQclear(res);
    return out;
  }
  // Every row of a query, every value as text ("" for NULL); throws with the server's message.
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    PGresult* res = PQexec(c, sql.c_str());
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      std::string m = PQerrorMessage(c);
      PQclear(res);
      throw std::runtime_error("test: " + sql + ": " + m);
    }
    std::vector<std::vector<std::string>> out(static_cast<std::size_t>(PQntuples(res)));
    for (int i = 0; i < PQntuples(res); ++i)
      for (int j = 0; j < PQnfields(res); ++j)
        out[static_cast<std::size_t>(i)].emplace_back(
            PQgetvalue(res, i, j), static_cast<std::size_t>(PQgetlength(res, i, j)));
    PQclear(res);
    return out;
  }
  PGconn* c;
};

inline void sqlite_exec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  std::string m = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error("test: " + std::string(sql) + ": " + m);
}

class StorageTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::postgresql) {
      SR_REQUIRE_PG();
      url_ = pg_url();
      pg_exec(url_, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
    } else {
      dir_ = std::make_unique<TempDir>();
      db_path_ = dir_->path() + "/data/strongroom.db";
      url_ = "sqlite://" + db_path_;
    }
    st_ = open();
    st_->migrate();
  }

  void TearDown() override {
    if (st_) st_->close();
  }

  std::unique_ptr<Storage> open(int pool = 4, int statement_timeout_ms = 5000) {
    StorageOptions o;
    o.url = url_;
    o.pool_size = pool;
    o.statement_timeout_ms = statement_timeout_ms;
    o.connect_timeout_s = 1;
    return open_storage(o);
  }

  bool pg() const { return GetParam() == Backend::postgresql; }

  // Runs f(Repository&) through the storage and returns its result.
  template <class F>
  auto w(F&& f, Access a = Access::write) {
    using R = std::invoke_result_t<F, Repository&>;
    if constexpr (std::is_void_v<R>) {
      st_->run_sync(a, [&](Repository& r) { f(r); });
    } else {
      std::optional<R> out;
      st_->run_sync(a, [&](Repository& r) { out.emplace(f(r)); });
      return std::move(*out);
    }
  }
  template <class F>
  auto r(F&& f) {
    return w(std::forward<F>(f), Access::read);
  }

  int64_t make_user(const std::string& name) {
    return w([&](Repository& r) {
      return r.create_user(name, name, name + "@example.com", "hash-" + name, 1000);
    });
  }

  Session make_session(int64_t uid, const std::string& id, int64_t created = 1000,
                       int64_t expires = 100000) {
    Session s;
    s.id = id;
    s.user_id = uid;
    s.refresh_jti = "jti-" + id;
    s.created_at = created;
    s.last_used_at = created;
    s.expires_at = expires;
    s.user_agent = "ua";
    s.ip = "127.0.0.1";
    w([&](Repository& r) { r.create_session(s); });
    return s;
  }

  std::unique_ptr<TempDir> dir_;
  std::string db_path_;
  std::string url_;
  std::unique_ptr<Storage> st_;
};

}  // namespace sr::storage::test
