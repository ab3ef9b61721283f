// strongroom: serve | migrate | check [--deploy] | gen-secret | version
#include <CLI/CLI.hpp>

#include <iostream>

#include "app/app.hpp"
#include "config/config.hpp"
#include "util/random.hpp"

namespace {

constexpr const char* kVersion = "0.1.0";

sr::config::Config load_or_exit(const sr::config::Sources& src) {
  try {
    return sr::config::load(src);
  } catch (const sr::config::ConfigError& e) {
    std::cerr << "strongroom: invalid configuration:\n";
    for (auto& p : e.problems()) std::cerr << "  - " << p << "\n";
    std::exit(2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  sr::crypto_init();
  CLI::App app{"strongroom - a secure, fast REST backend for personal data"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");

  sr::config::Sources src;
  std::string config_file;
  auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("-c,--config", config_file,
                    "TOML configuration file (keys of docs/configuration.md)")
        ->check(CLI::ExistingFile);
  };
  // Flags that override the file and STRONGROOM_* environment.
  std::string listen, profile, data_dir, database_url, redis_url, log_level;
  int threads = -1;
  auto add_overrides = [&](CLI::App* cmd) {
    cmd->add_option("--profile", profile, "development | production | test");
    cmd->add_option("--listen", listen, "address:port to listen on (port 0 picks a free port)");
    cmd->add_option("--data-dir", data_dir, "directory for the SQLite file, secrets and logs");
    cmd->add_option("--database-url", database_url, "sqlite://PATH or postgresql://...");
    cmd->add_option("--redis-url", redis_url, "redis://host:port/db for shared rate limits");
    cmd->add_option("--log-level", log_level, "debug | info | warn | error");
    cmd->add_option("--threads", threads, "network threads (default: number of cores)");
  };

  auto* serve = app.add_subcommand("serve", "Run the HTTP server (applies migrations first)");
  add_common(serve);
  add_overrides(serve);
  bool no_migrate = false;
  serve->add_flag("--no-migrate", no_migrate, "Do not apply schema migrations at start");

  auto* migrate = app.add_subcommand("migrate", "Apply pending schema migrations and exit");
  add_common(migrate);
  add_overrides(migrate);

  auto* check = app.add_subcommand(
      "check", "Audit the effective configuration; exit 1 on any error-level finding");
  add_common(check);
  add_overrides(check);
  bool deploy = false;
  check->add_flag("--deploy", deploy, "Judge the configuration as a production deployment");

  app.add_subcommand("gen-secret", "Print a new random secret (32 bytes, base64url)");
  app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);

  if (app.got_subcommand("gen-secret")) {
    std::cout << sr::config::generate_secret() << "\n";
    return 0;
  }
  if (app.got_subcommand("version")) {
    std::cout << "strongroom " << kVersion << "\n";
    return 0;
  }

  if (!config_file.empty()) src.config_file = config_file;
  auto flag = [&](const char* key, const std::string& v) {
    if (!v.empty()) src.flags[key] = v;
  };
  flag("listen", listen);
  flag("profile", profile);
  flag("data_dir", data_dir);
  flag("database_url", database_url);
  flag("redis_url", redis_url);
  flag("log_level", log_level);
  if (threads >= 0) src.flags["threads"] = std::to_string(threads);

  auto cfg = load_or_exit(src);
  if (app.got_subcommand("serve")) {
    try {
      return sr::app::serve(std::move(cfg), {!no_migrate});
    } catch (const std::exception& e) {
      std::cerr << "strongroom: " << e.what() << "\n";
      return 1;
    }
  }
  if (app.got_subcommand("migrate")) return sr::app::migrate(cfg);
  if (app.got_subcommand("check")) return sr::app::check(cfg, deploy);
  return 0;
}
