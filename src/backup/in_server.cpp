#include "backup/in_server.hpp"

#include "backup/control.hpp"
#include "backup/pid_file.hpp"
#include "backup/worker.hpp"
#include "observability/log.hpp"
#include "storage/url.hpp"

namespace sr::backup {

const char* const kPostgresBackupAdvice =
    "strongroom backup copies the embedded SQLite database; this server uses PostgreSQL, whose own "
    "tools are the way: pg_dump (a logical copy, e.g. pg_dump -Fc -f strongroom.dump \"$URL\") or "
    "point-in-time recovery (base backups and WAL archiving: pg_basebackup, archive_command). "
    "See docs/operations.md, \"Backups and restore\".";

InServer::InServer(const config::Config& cfg, std::string_view dialect, obs::Metrics& metrics) {
  try {
    pid_t holder = 0;
    pid_file_ = PidFile::acquire(cfg.data_dir, &holder);
    if (!pid_file_)
      obs::log(
          obs::Level::warn, "pidfile.in_use",
          {{"path", pid_file_path(cfg.data_dir)},
           {"pid", static_cast<int64_t>(holder)},
           {"detail", "another process runs on this data_dir; `strongroom backup` talks to it"}});
  } catch (const std::exception& e) {
    obs::log(obs::Level::warn, "pidfile.failed", {{"detail", e.what()}});
  }
  if (dialect != "sqlite") return;

  Target t;
  t.db_path = storage::parse_database_url(cfg.database_url).sqlite_path;
  t.vfs = cfg.sqlite_exclusive ? "unix-excl" : nullptr;
  t.dir = cfg.backup_dir;
  t.keep = cfg.backup_keep;
  worker_ = std::make_unique<Worker>(std::move(t), cfg.backup_interval, metrics);
  if (!pid_file_) return;  // the socket belongs to the holder of the pid file
  try {
    control_ = std::make_unique<ControlServer>(
        control_socket_path(cfg.data_dir), [this](std::string_view command) -> std::string {
          if (command != "backup") return "error unknown command";
          Outcome out = worker_->request("cli").get();
          return out.ok ? "ok " + out.path : "error " + out.error;
        });
  } catch (const std::exception& e) {
    obs::log(obs::Level::warn, "backup.control_unavailable", {{"detail", e.what()}});
  }
}

InServer::~InServer() {
  control_.reset();
  worker_.reset();
  pid_file_.reset();
}

void InServer::on_signal() {
  if (worker_)
    worker_->request("signal");
  else
    obs::log(obs::Level::warn, "backup.unsupported", {{"detail", kPostgresBackupAdvice}});
}

}  // namespace sr::backup
