// `strongroom backup` and `strongroom restore` (SPEC 16, docs/operations.md). Each returns the
// process exit code and writes its own output: the backup's path on stdout, problems on stderr.
#pragma once
#include <string>

#include "config/config.hpp"

namespace sr::backup {

// Asks the server that runs on cfg.data_dir (found through its pid file) for a backup over its
// control socket and waits up to timeout_s for the outcome; with no server running, copies the
// database itself. 0 when the checked backup exists (its path printed), 1 when not, 2 on
// PostgreSQL.
int backup_command(const config::Config& cfg, int timeout_s);

// Puts a checked copy of `file` in place of the SQLite database, refusing while a server runs
// on cfg.data_dir or another process holds the database. 0 when done, 1 when refused or failed,
// 2 on PostgreSQL.
int restore_command(const config::Config& cfg, const std::string& file);

}  // namespace sr::backup
