// strongroom: serve | migrate | check [--deploy] | config-keys | backup | restore FILE | gen-secret
// | version
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <map>

#include "app/app.hpp"
#include "backup/commands.hpp"
#include "config/config.hpp"
#include "config/keys.hpp"
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
  // One flag per configuration key (secrets excepted: a command line is visible to other users),
  // overriding the file and the STRONGROOM_* environment; help texts from the declarations.
  std::map<std::string, std::string> flag_values;
  std::vector<std::pair<std::string, CLI::Option*>> flag_options;
  auto add_overrides = [&](CLI::App* cmd) {
    for (const auto& k : sr::config::keys()) {
      if (k.is_secret()) continue;
      std::string name(k.name);
      std::string flag = "--" + name;
      std::replace(flag.begin(), flag.end(), '_', '-');
      auto* opt = cmd->add_option(flag, flag_values[name], sr::config::option_help(k));
      opt->type_name(std::string(sr::config::type_name(k.kind)));
      flag_options.emplace_back(name, opt);
    }
    cmd->footer(sr::config::secrets_help());
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

  auto* config_keys =
      app.add_subcommand("config-keys", "List every configuration key (docs/configuration.md)");
  bool markdown = false;
  config_keys->add_flag("--markdown", markdown,
                        "Print the key table of docs/configuration.md (Markdown)");

  auto* backup = app.add_subcommand(
      "backup",
      "Back up the SQLite database: asks the server running on the data directory, or copies it "
      "directly when none runs; prints the checked backup's path");
  add_common(backup);
  add_overrides(backup);
  int backup_timeout = 3600;
  backup
      ->add_option("--timeout", backup_timeout,
                   "seconds to wait for the running server's backup (default 3600)")
      ->check(CLI::Range(1, 86400));

  auto* restore = app.add_subcommand(
      "restore",
      "Put a backup in place of the SQLite database (no server may run on the data directory); "
      "the current database is kept as strongroom.db.before-restore-<time>");
  add_common(restore);
  add_overrides(restore);
  std::string restore_file;
  restore->add_option("FILE", restore_file, "the backup file (strongroom-<time>.db)")->required();

  app.add_subcommand("gen-secret", "Print a new random secret (32 bytes, base64url)");
  app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);

  if (app.got_subcommand("gen-secret")) {
    std::cout << sr::config::generate_secret() << "\n";
    return 0;
  }
  if (app.got_subcommand("config-keys")) {
    if (markdown) {
      std::cout << sr::config::keys_markdown();
    } else {
      for (const auto& k : sr::config::keys())
        std::cout << k.name << "\t" << sr::config::option_help(k) << "\n";
    }
    return 0;
  }
  if (app.got_subcommand("version")) {
    std::cout << "strongroom " << kVersion << "\n";
    return 0;
  }

  if (!config_file.empty()) src.config_file = config_file;
  for (const auto& [key, opt] : flag_options)
    if (opt->count() > 0) src.flags[key] = flag_values[key];

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
  if (app.got_subcommand("backup")) return sr::backup::backup_command(cfg, backup_timeout);
  if (app.got_subcommand("restore")) return sr::backup::restore_command(cfg, restore_file);
  return 0;
}
