// src/backup against real SQLite files and real processes: both copy methods on a live database
// held exclusively (as the server holds it) while another thread commits, the checks, the names,
// and the pid file's lock seen from another process.
#include "backup/backup.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "backup/pid_file.hpp"
#include "storage/repository.hpp"
#include "storage/sqlite/sqlite_repository.hpp"

namespace {

using namespace sr;
namespace fs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = "/tmp/sr-backup-test-XXXXXX";
    path = ::mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

int64_t count_rows(const std::string& file) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM filler", -1, &st, nullptr);
  int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

class LiveBackup : public ::testing::TestWithParam<backup::Method> {};

// Every commit acknowledged before the backup began is in the copy, whichever method, while
// commits keep coming; the copy is one checked 0600 file and the writer never failed.
TEST_P(LiveBackup, HoldsEveryCommitAcknowledgedBeforeIt) {
  TempDir d;
  storage::StorageOptions o;
  o.url = "sqlite://" + d.path + "/live.db";
  o.sqlite_exclusive = true;
  auto st = storage::open_storage(o);
  st->migrate();
  auto exec = [&](const char* sql) {
    st->run_sync(storage::Access::write, [&](storage::Repository& r) {
      static_cast<storage::sqlite::SqliteRepository&>(r).db().exec(sql);
    });
  };
  exec("CREATE TABLE filler (id INTEGER PRIMARY KEY, b BLOB NOT NULL)");
  exec(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
      "INSERT INTO filler (b) SELECT randomblob(1000) FROM n");
  std::atomic<int64_t> acked{5000};
  std::atomic<bool> stop{false}, failed{false};
  std::thread writer([&] {
    while (!stop) {
      try {
        exec("INSERT INTO filler (b) VALUES (randomblob(100))");
        ++acked;
      } catch (...) {
        failed = true;
      }
    }
  });
  while (acked < 5100) std::this_thread::yield();
  backup::Target t{d.path + "/live.db", "unix-excl", d.path + "/backups", 3};
  const int64_t before = acked.load();
  backup::Made m = backup::make_backup(t, GetParam());
  const int64_t after_copy = acked.load();
  while (acked < after_copy + 50) std::this_thread::yield();  // the server kept committing
  stop = true;
  writer.join();
  st->close();

  EXPECT_FALSE(failed);
  EXPECT_GE(count_rows(m.path), before);
  EXPECT_EQ(fs::path(m.path).parent_path(), fs::path(t.dir));
  EXPECT_EQ(fs::status(m.path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_FALSE(fs::exists(m.path + "-wal"));
  EXPECT_GT(m.schema_version, 0);
  EXPECT_EQ(backup::check_database_file(m.path), m.schema_version);
  // Nothing but the backup is left in the directory (no temporary file).
  EXPECT_EQ(std::distance(fs::directory_iterator(t.dir), fs::directory_iterator{}), 1);
}

INSTANTIATE_TEST_SUITE_P(Methods, LiveBackup,
                         ::testing::Values(backup::Method::online_api,
                                           backup::Method::vacuum_into));

TEST(Backup, MissingDatabaseIsAnErrorAndCreatesNothing) {
  TempDir d;
  backup::Target t{d.path + "/none.db", nullptr, d.path + "/backups", 3};
  EXPECT_THROW(backup::make_backup(t), backup::BackupError);
  EXPECT_FALSE(fs::exists(t.db_path));
  EXPECT_TRUE(fs::is_empty(t.dir));
}

TEST(Backup, NewestSeesOnlyBackupNames) {
  TempDir d;
  for (const char* n : {"strongroom-20000101T000000Z.db", "strongroom-20300101T000000Z.dbx",
                        "strongroom-2030010xT000000Z.db", "strongroom-20300101T000000.db",
                        "xstrongroom-20300101T000000Z.db"})
    write_file(d.path + "/" + n, "x");
  auto newest = backup::newest_backup(d.path);
  ASSERT_TRUE(newest.has_value());
  EXPECT_EQ(backup::utc_stamp(*newest), "20000101T000000Z");
  EXPECT_EQ(backup::utc_stamp(0), "19700101T000000Z");
  EXPECT_FALSE(backup::newest_backup(d.path + "/missing").has_value());
}

TEST(Backup, CheckRefusesWhatIsNotAStrongroomDatabase) {
  TempDir d;
  write_file(d.path + "/text.db", std::string(5000, 'x'));
  EXPECT_THROW(backup::check_database_file(d.path + "/text.db"), backup::BackupError);
  sqlite3* db = nullptr;
  sqlite3_open((d.path + "/other.db").c_str(), &db);
  sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  try {
    backup::check_database_file(d.path + "/other.db");
    FAIL() << "accepted a database without strongroom's schema";
  } catch (const backup::BackupError& e) {
    EXPECT_NE(std::string(e.what()).find("not a strongroom database"), std::string::npos);
  }
}

// The lock is the truth, not the file: another process sees the holder while it lives, and
// nobody once it is gone, though the file (from a crash) still names it.
TEST(PidFile, HolderIsSeenFromAnotherProcessUntilItDies) {
  TempDir d;
  int ready[2], release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pid_t holder = 0;
    auto p = backup::PidFile::acquire(d.path, &holder);
    char c = p ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    (void)!::read(release[0], &c, 1);
    ::_exit(0);  // no destructor: the file stays, as after a crash
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_EQ(backup::pid_file_holder(d.path), child);
  pid_t holder = 0;
  EXPECT_EQ(backup::PidFile::acquire(d.path, &holder), nullptr);
  EXPECT_EQ(holder, child);
  (void)!::write(release[1], "x", 1);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(fs::exists(backup::pid_file_path(d.path)));
  EXPECT_FALSE(backup::pid_file_holder(d.path).has_value());
  {
    auto mine = backup::PidFile::acquire(d.path, &holder);
    ASSERT_NE(mine, nullptr);
    std::ifstream f(backup::pid_file_path(d.path));
    pid_t written = 0;
    f >> written;
    EXPECT_EQ(written, ::getpid());
  }
  EXPECT_FALSE(fs::exists(backup::pid_file_path(d.path)));
}

}  // namespace
