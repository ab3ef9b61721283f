#pragma once
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

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

inline mode_t mode_of(const std::string& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

}  // namespace cfgtest
