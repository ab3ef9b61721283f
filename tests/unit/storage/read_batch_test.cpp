// Repository::read_batch on both backends (PostgreSQL: one pipeline, the override in
// pg_repository.cpp; SQLite: the portable default), and the PostgreSQL pipeline itself: errors
// inside a pipeline, and pipelines on a connection whose backend was killed or stopped.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include "fixture.hpp"
#include "same.hpp"
#include "storage/postgres/pg_repository.hpp"
#include "util/error.hpp"

namespace sr::storage::test {
namespace {

using postgres::Batch;
using postgres::Conn;
using postgres::Params;
using postgres::Records;
using postgres::Result;
using postgres::PgRepository;

// What one user owns: everything read_batch can load, with non-ASCII text in the text fields and
// binary bytes in the binary ones.
struct Owned {
  int64_t uid = 0;
  std::string sid;
  std::vector<int64_t> link_ids, entry_ids;
};

class ReadBatchTest : public StorageTest {
 protected:
  Owned populate(const std::string& name) {
    Owned o;
    o.uid = make_user(name);
    o.sid = "sid-" + name + "\xc3\xa9\xe2\x82\xac";  // "é€"
    make_session(o.uid, o.sid);
    w([&](Repository& r) {
      Handbook h;
      h.full_name = "Name " + name;
      h.age = 42;
      h.bio = "bio \xf0\x9f\x94\x92";
      h.updated_at = 7;
      r.put_handbook(o.uid, h);
      for (int i = 0; i < 3; ++i)
        o.link_ids.push_back(
            r.add_link(o.uid, "p" + std::to_string(i), "https://" + name, 10 + i, 50)->id);
      VaultKey k;
      k.user_id = o.uid;
      k.kdf_salt = std::string("\0salt-", 6) + name;
      k.kdf_mem_kib = 19456;
      k.kdf_passes = 2;
      k.wrapped_key = std::string("\x00wk\x80", 4) + name;
      k.generation = 3;
      k.created_at = 5;
      k.updated_at = 6;
      r.create_vault_key(k);
      for (int i = 0; i < 2; ++i)
        o.entry_ids.push_back(r.add_vault_entry(o.uid, 20 + i, 10000, [&](int64_t id) {
                                 return std::string("ct\0", 3) + name + std::to_string(id);
                               })->id);
    });
    return o;
  }

  // read_batch in a read job, and (checked here against the single methods too) the same want
  // through Storage::read, the request's read (PostgreSQL: sent without a job).
  ReadBatch batch(const ReadBatch::Want& want) {
    ReadBatch b;
    b.want = want;
    r([&](Repository& r) { r.read_batch(b); });
    ReadBatch direct;
    direct.want = want;
    net_->read(*st_, direct);
    expect_matches_single_methods(direct);
    expect_same_batch(direct, b);
    return b;
  }

  // Every field of a equals b's (present in both or in neither).
  static void expect_same_batch(const ReadBatch& a, const ReadBatch& b) {
    auto one = [](const auto& x, const auto& y, const char* what) {
      ASSERT_EQ(x.has_value(), y.has_value()) << what;
      if (x) expect_same(*x, *y);
    };
    one(a.session, b.session, "session");
    one(a.user, b.user, "user");
    one(a.handbook, b.handbook, "handbook");
    one(a.vault_key, b.vault_key, "vault_key");
    one(a.vault_entry, b.vault_entry, "vault_entry");
    expect_same(a.links, b.links);
    expect_same(a.vault_entries, b.vault_entries);
    EXPECT_EQ(a.vault_index.size(), b.vault_index.size());
  }

  // Everything b holds equals what the single-row methods return for the same want.
  void expect_matches_single_methods(const ReadBatch& b) {
    const auto& w = b.want;
    r([&](Repository& r) {
      if (!w.session.empty()) {
        auto s = r.find_session(w.session);
        ASSERT_EQ(b.session.has_value(), s.has_value());
        if (s) expect_same(*b.session, *s);
      }
      if (w.user) {
        auto u = r.find_user(w.user_id);
        ASSERT_EQ(b.user.has_value(), u.has_value());
        if (u) expect_same(*b.user, *u);
      }
      if (w.handbook) {
        auto h = r.get_handbook(w.user_id);
        ASSERT_EQ(b.handbook.has_value(), h.has_value());
        if (h) expect_same(*b.handbook, *h);
      }
      if (w.links) expect_same(b.links, r.list_links(w.user_id));
      if (w.vault_key) {
        auto k = r.get_vault_key(w.user_id);
        ASSERT_EQ(b.vault_key.has_value(), k.has_value());
        if (k) expect_same(*b.vault_key, *k);
      }
      if (w.vault_entries) expect_same(b.vault_entries, r.list_vault_entries(w.user_id));
      if (w.vault_entry > 0) {
        auto e = r.get_vault_entry(w.user_id, w.vault_entry);
        ASSERT_EQ(b.vault_entry.has_value(), e.has_value());
        if (e) expect_same(*b.vault_entry, *e);
      }
    });
  }

  static void expect_nothing_but(const ReadBatch& b, const std::string& field) {
    EXPECT_TRUE(field == "session" || !b.session) << field;
    EXPECT_TRUE(field == "user" || !b.user) << field;
    EXPECT_TRUE(field == "handbook" || !b.handbook) << field;
    EXPECT_TRUE(field == "links" || b.links.empty()) << field;
    EXPECT_TRUE(field == "vault_key" || !b.vault_key) << field;
    EXPECT_TRUE(field == "vault_entries" || b.vault_entries.empty()) << field;
    EXPECT_TRUE(field == "vault_entry" || !b.vault_entry) << field;
  }
};

TEST_P(ReadBatchTest, EachFieldAlone) {
  Owned a = populate("alice");
  populate("bob");
  using Want = ReadBatch::Want;
  struct Case {
    std::string field;
    Want want;
  };
  std::vector<Case> cases = {
      {"session", Want{.session = a.sid}},
      {"user", Want{.user_id = a.uid, .user = true}},
      {"handbook", Want{.user_id = a.uid, .handbook = true}},
      {"links", Want{.user_id = a.uid, .links = true}},
      {"vault_key", Want{.user_id = a.uid, .vault_key = true}},
      {"vault_entries", Want{.user_id = a.uid, .vault_entries = true}},
      {"vault_entry", Want{.user_id = a.uid, .vault_entry = a.entry_ids[1]}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    auto b = batch(c.want);
    expect_nothing_but(b, c.field);
    expect_matches_single_methods(b);
  }
  // Spot checks of the values themselves (the single methods are tested by the conformance suite).
  auto b = batch(Want{.session = a.sid});
  ASSERT_TRUE(b.session);
  EXPECT_EQ(b.session->user_id, a.uid);
  b = batch(Want{.user_id = a.uid, .links = true});
  ASSERT_EQ(b.links.size(), 3u);
  EXPECT_EQ(b.links[2].id, a.link_ids[2]);
  b = batch(Want{.user_id = a.uid, .vault_entry = a.entry_ids[1]});
  ASSERT_TRUE(b.vault_entry);
  EXPECT_EQ(b.vault_entry->ciphertext,
            std::string("ct\0", 3) + "alice" + std::to_string(a.entry_ids[1]));
}

TEST_P(ReadBatchTest, EverythingTogether) {
  populate("bob");
  Owned a = populate("alice");
  ReadBatch::Want want{.session = a.sid,
                       .user_id = a.uid,
                       .user = true,
                       .handbook = true,
                       .links = true,
                       .vault_key = true,
                       .vault_entries = true,
                       .vault_entry = a.entry_ids[0]};
  auto b = batch(want);
  ASSERT_TRUE(b.session && b.user && b.handbook && b.vault_key && b.vault_entry);
  EXPECT_EQ(b.session->id, a.sid);
  EXPECT_EQ(b.user->id, a.uid);
  EXPECT_EQ(b.user->username, "alice");
  EXPECT_EQ(b.handbook->bio, "bio \xf0\x9f\x94\x92");
  EXPECT_EQ(b.links.size(), 3u);
  EXPECT_EQ(b.vault_key->generation, 3);
  EXPECT_EQ(b.vault_entries.size(), 2u);
  EXPECT_EQ(b.vault_entry->id, a.entry_ids[0]);
  expect_matches_single_methods(b);

  // Twice on the same connections: the statements are prepared by now and still give the same.
  auto again = batch(want);
  expect_matches_single_methods(again);
}

TEST_P(ReadBatchTest, NeverReturnsRowsOfAnotherUser) {
  Owned a = populate("alice");
  Owned b = populate("bob");
  // B's entry asked for with A as the owner: nothing.
  auto got = batch({.user_id = a.uid, .vault_entry = b.entry_ids[0]});
  EXPECT_FALSE(got.vault_entry);
  // A's lists hold A's rows only.
  got = batch({.user_id = a.uid, .links = true, .vault_entries = true});
  ASSERT_EQ(got.links.size(), 3u);
  ASSERT_EQ(got.vault_entries.size(), 2u);
  for (const auto& l : got.links) {
    EXPECT_EQ(l.user_id, a.uid);
    EXPECT_EQ(l.url, "https://alice");
  }
  for (const auto& e : got.vault_entries) EXPECT_EQ(e.user_id, a.uid);
  // The session is looked up by id alone (the caller checks its owner): B's session with A as
  // user_id comes back as B's, and A's rows alongside it stay A's.
  got = batch({.session = b.sid, .user_id = a.uid, .user = true, .vault_key = true});
  ASSERT_TRUE(got.session && got.user && got.vault_key);
  EXPECT_EQ(got.session->user_id, b.uid);
  EXPECT_EQ(got.user->id, a.uid);
  EXPECT_EQ(got.vault_key->user_id, a.uid);
  // A user with nothing: every optional empty, every list empty.
  int64_t empty = make_user("nobody");
  got = batch({.user_id = empty,
               .user = true,
               .handbook = true,
               .links = true,
               .vault_key = true,
               .vault_entries = true,
               .vault_entry = a.entry_ids[0]});
  ASSERT_TRUE(got.user);
  expect_nothing_but(got, "user");
}

TEST_P(ReadBatchTest, MissingSessionIsNulloptAndTheRestStillLoads) {
  Owned a = populate("alice");
  auto got = batch({.session = "no such session", .user_id = a.uid, .user = true});
  EXPECT_FALSE(got.session);
  EXPECT_TRUE(got.user);
  got = batch({.session = std::string("\0", 1)});
  EXPECT_FALSE(got.session);
  // Ids no stored session can have (a NUL, invalid UTF-8) alongside other parts: no session, the
  // rest still loads (PostgreSQL's TEXT would refuse them as parameters).
  for (const std::string& sid : {std::string("a\0b", 3), std::string("\xc3\x28\xff")}) {
    got = batch({.session = sid, .user_id = a.uid, .user = true, .handbook = true, .links = true});
    EXPECT_FALSE(got.session);
    EXPECT_TRUE(got.user && got.handbook);
    EXPECT_EQ(got.links.size(), 3u);
  }
  // A session id that is a prefix of a real one does not match it (cut before the last character,
  // and inside it).
  got = batch({.session = a.sid.substr(0, a.sid.size() - 3)});
  EXPECT_FALSE(got.session);
  got = batch({.session = a.sid.substr(0, a.sid.size() - 1)});
  EXPECT_FALSE(got.session);
}

TEST_P(ReadBatchTest, EmptyWantLoadsNothing) {
  Owned a = populate("alice");
  auto got = batch({});
  expect_nothing_but(got, "");
  got = batch({.user_id = a.uid});  // an owner but no field: still nothing
  expect_nothing_but(got, "");
}

// ---- PostgreSQL only: the pipeline itself -------------------------------------------------

PgRepository& pg_repo(Repository& r) {
  return static_cast<PgRepository&>(r);
}

constexpr char kInsertUser[] =
    "INSERT INTO users (username, username_norm, email, password_hash, created_at) "
    "VALUES ($1, $1, $2, 'h', 1) RETURNING id";
constexpr char kCountUsers[] = "SELECT count(*) FROM users WHERE username_norm = $1";
constexpr char kBegin[] = "BEGIN";
constexpr char kCommit[] = "COMMIT";
constexpr char kSelectOne[] = "SELECT 1";

int64_t count_users(Conn& c, const std::string& name) {
  return c.exec(kCountUsers, Params().t(name)).i64(0, 0);
}

// An authenticated GET's read is one statement: the session and the route's rows joined, each
// on its index (the statement as the storage prepared it, planned with sequential scans off).
TEST_P(ReadBatchTest, PgAuthenticatedReadIsOneStatementOnItsIndexes) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  Owned a = populate("alice");
  auto st = open(1);  // a fresh connection: only what this read prepared is there
  std::vector<std::vector<std::string>> prepared;
  st->run_sync(Access::read, [&](Repository& r) {
    ReadBatch b;
    b.want = {.session = a.sid, .user_id = a.uid, .user = true, .handbook = true};
    r.read_batch(b);
    EXPECT_TRUE(b.session && b.user && b.handbook);
    auto res = pg_repo(r).conn().exec(
        "SELECT statement, parameter_types::text FROM pg_prepared_statements", Params());
    for (int i = 0; i < res.rows(); ++i) prepared.push_back({res.bytes(i, 0), res.bytes(i, 1)});
  });
  std::vector<std::vector<std::string>> reads;
  for (const auto& p : prepared)
    if (p[0].find("sessions") != std::string::npos || p[0].find("users") != std::string::npos)
      reads.push_back(p);
  ASSERT_EQ(reads.size(), 1u) << "the read took more than one statement";
  const std::string& sql = reads[0][0];
  EXPECT_NE(sql.find("personal_handbook"), std::string::npos) << sql;
  EXPECT_EQ(reads[0][1], "{text,bigint,bigint}");
  RawPg raw(url_);
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.exec("SET enable_seqscan = off"));
  ASSERT_TRUE(raw.exec("PREPARE q(text, bigint, bigint) AS " + sql));
  char* sid = PQescapeLiteral(raw.c, a.sid.data(), a.sid.size());
  std::string plan;
  for (const auto& row :
       raw.rows("EXPLAIN EXECUTE q(" + std::string(sid) + ", " + std::to_string(a.uid) + ", 0)"))
    plan += row[0] + "\n";
  PQfreemem(sid);
  for (const char* index : {"sessions_pkey", "users_pkey", "personal_handbook_pkey"})
    EXPECT_NE(plan.find(index), std::string::npos) << index << "\n" << plan;
  EXPECT_EQ(plan.find("Seq Scan"), std::string::npos) << plan;
  st->close();
}

TEST_P(ReadBatchTest, PgPipelineReturnsOneResultPerStatementInOrder) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  auto st = open(1);
  st->run_sync(Access::read, [&](Repository& r) {
    Conn& c = pg_repo(r).conn();
    std::string name = "x", mail = "x@example.com";
    Batch b;
    for (int i = 0; i < 5; ++i) b.add("SELECT $1::bigint * 2").i(i);  // one statement, 5 times
    b.add(kInsertUser).t(name).t(mail);
    b.add(kCountUsers).t(name);  // sees the insert before it (same implicit transaction)
    auto res = c.pipeline(b);
    ASSERT_EQ(res.size(), 7u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(res[static_cast<std::size_t>(i)].i64(0, 0), 2 * i);
    EXPECT_GT(res[5].i64(0, 0), 0);
    EXPECT_EQ(res[6].i64(0, 0), 1);
    EXPECT_EQ(PQtransactionStatus(c.handle()), PQTRANS_IDLE);  // committed at the Sync
    EXPECT_TRUE(c.pipeline(Batch()).empty());
  });
}

// The joined read's one record column (Records): every field type the parts use, NULLs among
// them, and the server's own binary output refused when it is not the record the caller expects.
TEST_P(ReadBatchTest, PgRecordsReadTheJoinedRowsFields) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  auto st = open(1);
  st->run_sync(Access::read, [&](Repository& r) {
    Conn& c = pg_repo(r).conn();
    const std::string text = "t\xc3\xa9\xe2\x82\xac", bin("\x00\xff\x01", 3);
    Result res = c.exec(
        "SELECT ROW(x::int8, NULL::text, $1::text, $2::bytea, 7::int4, (-2)::int2, ''::text, "
        "NULL::int8) FROM generate_series(1, 3) AS x ORDER BY x",
        Params().t(text).b(bin));
    const Records rec(res, 8);
    ASSERT_EQ(rec.rows(), 3);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(rec.i64(i, 0), i + 1);
      EXPECT_TRUE(rec.is_null(i, 1));
      EXPECT_EQ(rec.opt_bytes(i, 1), std::nullopt);
      EXPECT_EQ(rec.bytes(i, 2), text);
      EXPECT_EQ(rec.bytes(i, 3), bin);
      EXPECT_EQ(rec.i64(i, 4), 7);
      EXPECT_EQ(rec.opt_i64(i, 5), -2);
      EXPECT_FALSE(rec.is_null(i, 6));
      EXPECT_EQ(rec.opt_bytes(i, 6), std::string());
      EXPECT_EQ(rec.opt_i64(i, 7), std::nullopt);
      EXPECT_THROW(rec.i64(i, 7), std::runtime_error);  // NULL read as a number: no value
    }
    EXPECT_THROW(rec.i64(0, 8), std::logic_error);  // past the fields
    EXPECT_THROW(rec.i64(3, 0), std::logic_error);  // past the rows
    // The field count is checked: a statement that is not the one the caller built is refused.
    EXPECT_THROW(Records(res, 7), std::runtime_error);
    EXPECT_THROW(Records(res, 9), std::runtime_error);
    EXPECT_THROW(Records(res, -1), std::logic_error);
    // A NULL record (no row matched an outer join of records) is refused, not read as NULLs.
    Result none = c.exec("SELECT NULL::record", Params());
    EXPECT_THROW(Records(none, 0), std::runtime_error);
    // No rows: nothing to parse.
    Result empty = c.exec("SELECT ROW(1::int8) WHERE false", Params());
    EXPECT_EQ(Records(empty, 1).rows(), 0);
  });
}

// Records::parse on values no server sends: every malformed shape is refused before a field is
// handed out (fuzz/fuzz_pg_record.cpp drives it with arbitrary bytes).
TEST(PgRecordParse, RefusesMalformedValues) {
  auto be = [](int32_t v) {
    const uint32_t u = static_cast<uint32_t>(v);
    return std::string{static_cast<char>(u >> 24), static_cast<char>(u >> 16),
                       static_cast<char>(u >> 8), static_cast<char>(u)};
  };
  const std::string field = be(20) + be(3) + "abc";  // oid, length, bytes
  Records::Field out[2];
  auto parse = [&](const std::string& v, int fields, int len = -2) {
    Records::parse(v.data(), len == -2 ? static_cast<int>(v.size()) : len, fields, out);
  };
  // The fields point into the value: it must outlive them (a named string, not a temporary).
  const std::string one = be(1) + field, two = be(2) + field + be(25) + be(-1);
  EXPECT_NO_THROW(parse(one, 1));
  EXPECT_EQ(out[0].p, one.data() + 12);
  EXPECT_EQ(std::string(out[0].p, static_cast<std::size_t>(out[0].len)), "abc");
  EXPECT_NO_THROW(parse(two, 2));
  EXPECT_EQ(out[0].p, two.data() + 12);
  EXPECT_EQ(out[1].len, -1);
  EXPECT_THROW(parse(be(1) + field, 1, -1), std::runtime_error);            // NULL record
  EXPECT_THROW(parse("", 0), std::runtime_error);                          // no count
  EXPECT_THROW(parse(be(1) + field, 2), std::runtime_error);               // count differs
  EXPECT_THROW(parse(be(1) + field.substr(0, 9), 1), std::runtime_error);  // value cut short
  EXPECT_THROW(parse(be(1) + be(20) + be(-2), 1), std::runtime_error);     // negative length
  EXPECT_THROW(parse(be(1) + be(20) + be(0x7fffffff) + "x", 1), std::runtime_error);
  EXPECT_THROW(parse(be(1) + field.substr(0, 6), 1), std::runtime_error);  // header cut short
  EXPECT_THROW(parse(be(1) + field + "x", 1), std::runtime_error);          // bytes left over
}

TEST_P(ReadBatchTest, PgFailingStatementAbortsThePipelineAndTheConnectionServesTheNextCall) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  Owned a = populate("alice");
  auto st = open(1);  // one connection: every call below runs on the same one
  st->run_sync(Access::write, [&](Repository& r) {
    Conn& c = pg_repo(r).conn();
    std::string fresh = "fresh", fresh_mail = "fresh@example.com";
    std::string taken = "alice", taken_mail = "alice@example.com";

    // Implicit transaction: the insert before the conflict is rolled back, the statement after
    // it is skipped, and the first error is thrown as exec() would map it.
    Batch b;
    b.add(kInsertUser).t(fresh).t(fresh_mail);
    b.add(kInsertUser).t(taken).t(taken_mail);  // 23505
    b.add(kSelectOne);
    EXPECT_THROW(c.pipeline(b), sr::ConflictError);
    EXPECT_EQ(PQtransactionStatus(c.handle()), PQTRANS_IDLE);
    EXPECT_EQ(count_users(c, fresh), 0);

    // Explicit BEGIN ... COMMIT: the session is not left in an aborted transaction.
    Batch t;
    t.add(kBegin);
    t.add(kInsertUser).t(fresh).t(fresh_mail);
    t.add(kInsertUser).t(taken).t(taken_mail);
    t.add(kCommit);
    EXPECT_THROW(c.pipeline(t), sr::ConflictError);
    EXPECT_EQ(PQtransactionStatus(c.handle()), PQTRANS_IDLE);
    EXPECT_EQ(count_users(c, fresh), 0);

    // A statement that is not a conflict keeps its own mapping (here: a bug, runtime_error), and
    // a statement prepared for the first time inside an aborted pipeline is prepared later.
    Batch e;
    e.add(kSelectOne);
    e.add("SELECT 1 / ($1::bigint - $1::bigint)").i(3);  // 22012 division by zero
    e.add("SELECT $1::bigint + 1").i(41);                // never prepared: aborted
    try {
      c.pipeline(e);
      ADD_FAILURE() << "division by zero did not throw";
    } catch (const sr::ConflictError&) {
      ADD_FAILURE() << "mapped to ConflictError";
    } catch (const sr::UnavailableError&) {
      ADD_FAILURE() << "mapped to UnavailableError";
    } catch (const std::runtime_error& err) {
      EXPECT_NE(std::string(err.what()).find("22012"), std::string::npos) << err.what();
    }
    Batch again;
    again.add("SELECT $1::bigint + 1").i(41);
    EXPECT_EQ(c.pipeline(again)[0].i64(0, 0), 42);

    // The same connection serves the next calls: exec, a pipeline, a read_batch, a capped insert.
    EXPECT_EQ(c.exec(kSelectOne, Params()).i64(0, 0), 1);
    ReadBatch rb;
    rb.want = {.session = a.sid, .user_id = a.uid, .user = true, .links = true};
    r.read_batch(rb);
    EXPECT_TRUE(rb.session && rb.user);
    EXPECT_EQ(rb.links.size(), 3u);
    EXPECT_TRUE(r.add_link(a.uid, "p", "u", 1, 50));
    EXPECT_EQ(PQtransactionStatus(c.handle()), PQTRANS_IDLE);
  });
  // And the conflicts of the repository's own pipelines are ConflictError as before.
  EXPECT_THROW(
      st->run_sync(Access::write, [](Repository& r) { r.add_link(999999, "p", "u", 1, 50); }),
      sr::ConflictError);
  EXPECT_THROW(st->run_sync(Access::write,
                            [](Repository& r) {
                              r.add_vault_entry(999999, 1, 10, [](int64_t) { return "c"; });
                            }),
               sr::ConflictError);
  EXPECT_NO_THROW(st->run_sync(Access::read, [](Repository& r) { r.ping(); }));
}

TEST_P(ReadBatchTest, PgPipelineOnAKilledBackendIsUnavailableAndThePoolRecovers) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  Owned a = populate("alice");
  auto st = open(1);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(st->run_sync(Access::read,
                            [&](Repository& r) {
                              Conn& c = pg_repo(r).conn();
                              int64_t pid =
                                  c.exec("SELECT pg_backend_pid()::bigint", Params()).i64(0, 0);
                              terminate_backend(url_, pid);
                              std::this_thread::sleep_for(std::chrono::milliseconds(100));
                              ReadBatch b;
                              b.want = {.session = a.sid, .user_id = a.uid, .user = true};
                              r.read_batch(b);  // inside the job: no health check in between
                            }),
               sr::UnavailableError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  // The worker reconnects for the next job.
  ReadBatch b;
  b.want = {.session = a.sid, .user_id = a.uid, .user = true, .vault_entries = true};
  EXPECT_NO_THROW(st->run_sync(Access::read, [&](Repository& r) { r.read_batch(b); }));
  EXPECT_TRUE(b.session && b.user);
  EXPECT_EQ(b.vault_entries.size(), 2u);
}

// A backend that stops answering (SIGSTOP: as a black-holed network looks to the client) cannot
// hang a pipeline: the client deadline (statement timeout + 2 s) drops the connection.
TEST_P(ReadBatchTest, PgPipelineOnAStoppedBackendFailsWithinTheDeadline) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  Owned a = populate("alice");
  constexpr int kTimeoutMs = 300;
  auto st = open(1, kTimeoutMs);
  int64_t pid = 0;
  st->run_sync(Access::read, [&](Repository& r) {
    pid = pg_repo(r).conn().exec("SELECT pg_backend_pid()::bigint", Params()).i64(0, 0);
  });
  StoppedBackend stopped(url_, pid);
  if (!stopped.stopped()) {
    // scripts/run-tests.sh runs a local server it can signal: only a hand-run may opt out.
    if (pg_may_skip()) GTEST_SKIP() << "cannot signal the server's backend";
    FAIL() << "cannot signal the server's backend (not the same user or host); "
              "SR_TEST_ALLOW_NO_PG=1 skips this";
  }

  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(st->run_sync(Access::read,
                            [&](Repository& r) {
                              ReadBatch b;
                              b.want = {.session = a.sid,
                                        .user_id = a.uid,
                                        .user = true,
                                        .handbook = true,
                                        .links = true};
                              r.read_batch(b);
                            }),
               sr::UnavailableError);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(kTimeoutMs + 2000 - 100));
  EXPECT_LT(took, std::chrono::milliseconds(kTimeoutMs + 2000 + 1500));
  // The pool opens a new connection for the next job.
  EXPECT_NO_THROW(st->run_sync(Access::read, [](Repository& r) { r.ping(); }));
}

INSTANTIATE_TEST_SUITE_P(Backends, ReadBatchTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql), backend_name);

}  // namespace
}  // namespace sr::storage::test
