#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "config/config.hpp"

extern char** environ;

namespace cfgtest {

// A fresh directory under /tmp, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sr-config-test-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name, const std::string& content, mode_t mode = 0600) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }

 private:
  std::string path_;
};

// Clears every STRONGROOM_* variable for the test's duration and restores them afterwards, so
// that tests can setenv() freely.
class EnvGuard {
 public:
  EnvGuard() {
    for (char** e = environ; e && *e; ++e) {
      std::string kv(*e);
      if (kv.rfind("STRONGROOM_", 0) != 0) continue;
      auto eq = kv.find('=');
      saved_[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (auto& [k, v] : saved_) ::unsetenv(k.c_str());
  }
  ~EnvGuard() {
    for (auto& n : set_) ::unsetenv(n.c_str());
    for (auto& [k, v] : saved_) ::setenv(k.c_str(), v.c_str(), 1);
  }
  void set(const std::string& name, const std::string& value) {
    ::setenv(name.c_str(), value.c_str(), 1);
    set_.push_back(name);
  }

 private:
  std::map<std::string, std::string> saved_;
  std::vector<std::string> set_;
};

inline sr::config::Sources flags_only(std::map<std::string, std::string> flags) {
  sr::config::Sources s;
  s.use_environment = false;
  s.flags = std::move(flags);
  return s;
}

// The problems of a load that must fail (fails the test if it does not).
inline std::vector<std::string> problems_of(const sr::config::Sources& s) {
  try {
    sr::config::load(s);
  } catch (const sr::config::ConfigError& e) {
    return e.problems();
  }
  ADD_FAILURE() << "load() accepted the configuration";
  return {};
}

// A production configuration that passes every check; `more` adds or replaces flags.
inline sr::config::Config good_production(const TempDir& d,
                                          std::map<std::string, std::string> more = {}) {
  using sr::config::generate_secret;
  auto s = flags_only({
      {"profile", "production"},
      {"data_dir", d.path()},
      {"jwt_secret", generate_secret()},
      {"vault_session_key", generate_secret()},
      {"totp_key", generate_secret()},
      {"behind_tls_proxy", "true"},
      {"trusted_proxies", "10.0.0.5"},
      {"cors_origins", "https://app.example.com"},
  });
  for (auto& [k, v] : more) s.flags[k] = v;
  ::chmod(d.path().c_str(), 0700);
  return sr::config::load(s);
}

inline std::string dump(const std::vector<sr::config::Finding>& f) {
  std::string out;
  for (const auto& x : f) out += x.key + ": " + x.message + "\n";
  return out;
}

inline mode_t mode_of(const std::string& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

}  // namespace cfgtest
