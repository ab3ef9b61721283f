// The composition root: configuration -> storage -> services -> routes -> server. The only place
// that knows every module.
#pragma once
#include "config/config.hpp"

namespace sr::app {

struct ServeOptions {
  bool migrate = true;  // false with --no-migrate
};

// Runs the server until SIGTERM/SIGINT; returns the process exit code.
int serve(config::Config cfg, const ServeOptions& opts);
// Applies pending migrations; returns the process exit code.
int migrate(const config::Config& cfg);
// Prints the findings of the configuration audit; non-zero when any is an error.
int check(const config::Config& cfg, bool deploy);

}  // namespace sr::app
