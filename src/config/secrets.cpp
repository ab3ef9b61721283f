// Secrets of the development profile live in <data_dir>/secrets (directory 0700, file 0600), a
// `key=value` text file with base64url values, created once with O_CREAT|O_EXCL and published with
// link() so that two processes starting together end up with the same keys. A key added in a later
// version (totp_key) is added to an existing file by rename(), keeping the other values.
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>

#include "config/config.hpp"
#include "config/keys.hpp"
#include "util/encoding.hpp"
#include "util/random.hpp"

namespace sr::config {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw ConfigError({what});
}

std::string errno_text() {
  return std::strerror(errno);
}

std::string mode_text(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

// mkdir -p; directories created here get 0700.
void make_dirs(const std::string& dir) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    cur = dir.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
      fail("data_dir: cannot create directory " + cur + ": " + errno_text());
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    fail("data_dir: " + dir + " is not a directory");
}

struct Entries {
  std::map<std::string, std::string> values;  // base64url text, as stored
  ~Entries() {
    for (auto& [k, v] : values) sodium_memzero(v.data(), v.size());
  }
};

// Reads the file if it exists. Refuses one that others could read or that is not ours.
bool read_secrets(const std::string& path, Entries& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    fail("data_dir: cannot open secrets file " + path + ": " + errno_text());
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("data_dir: secrets file " + path + " is not a regular file");
  }
  if (st.st_mode & 077) {
    ::close(fd);
    fail("data_dir: secrets file " + path + " is accessible by group or others (mode " +
         mode_text(st.st_mode) + "); run `chmod 600 " + path +
         "` (and rotate the secrets if others may have read them)");
  }
  if (st.st_uid != ::geteuid()) {
    ::close(fd);
    fail("data_dir: secrets file " + path + " is owned by another user (uid " +
         std::to_string(st.st_uid) + ")");
  }
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  sodium_memzero(buf, sizeof buf);
  ::close(fd);
  if (n < 0) fail("data_dir: cannot read secrets file " + path + ": " + errno_text());

  size_t line_no = 0, pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    ++line_no;
    pos = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) {
      sodium_memzero(line.data(), line.size());
      sodium_memzero(text.data(), text.size());
      fail("data_dir: secrets file " + path + " line " + std::to_string(line_no) +
           ": expected key=value");
    }
    std::string key = line.substr(0, eq);
    out.values[key] = line.substr(eq + 1);
    sodium_memzero(line.data(), line.size());
  }
  sodium_memzero(text.data(), text.size());
  return true;
}

void write_all(int fd, const std::string& s, const std::string& path) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("data_dir: cannot write " + path + ": " + errno_text());
    }
    off += static_cast<size_t>(n);
  }
}

// Writes a temporary file 0600 (O_CREAT|O_EXCL), fsyncs it, then publishes it: link() when the
// file must not exist yet (false if another process won the race), rename() to replace.
bool publish(const std::string& dir, const std::string& path, const Entries& e, bool replace) {
  std::string body =
      "# strongroom development secrets: generated once, reused after restarts.\n"
      "# Keep private (mode 0600). Deleting this file invalidates every session.\n";
  for (const auto& [k, v] : e.values) body += k + "=" + v + "\n";
  std::string tmp = path + ".tmp." + random_token(9);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    sodium_memzero(body.data(), body.size());
    fail("data_dir: cannot create " + tmp + ": " + errno_text());
  }
  try {
    write_all(fd, body, tmp);
  } catch (...) {
    sodium_memzero(body.data(), body.size());
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  sodium_memzero(body.data(), body.size());
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    fail("data_dir: cannot write " + tmp + ": " + errno_text());
  }
  bool won = true;
  if (replace) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      ::unlink(tmp.c_str());
      fail("data_dir: cannot replace " + path + ": " + errno_text());
    }
  } else {
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      if (err != EEXIST) fail("data_dir: cannot create " + path + ": " + std::strerror(err));
      won = false;
    } else {
      ::unlink(tmp.c_str());
    }
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return won;
}

SecretBytes decode_stored(const std::string& path, const std::string& key, const std::string& v,
                          size_t exact) {
  auto d = base64url_decode(v);
  if (!d || d->size() < 32 || (exact && d->size() != exact)) {
    if (d) sodium_memzero(d->data(), d->size());
    fail("data_dir: secrets file " + path + ": " + key +
         " is not a base64url key of the expected length; delete the line to regenerate it");
  }
  SecretBytes s = SecretBytes::from_view(*d);
  sodium_memzero(d->data(), d->size());
  return s;
}

}  // namespace

void prepare_secrets(Config& c) {
  std::vector<const KeyDecl*> missing;
  for (const auto& k : keys()) {
    if (k.kind != Kind::secret || !(c.*k.secret).empty()) continue;
    c.*k.source = "missing";
    missing.push_back(&k);
  }
  if (missing.empty()) return;

  if (c.profile == "production") return;  // start refuses; see production_problems()
  if (c.profile == "test") {
    for (const KeyDecl* k : missing) {
      c.*k->secret = SecretBytes::random(32);
      c.*k->source = "ephemeral";
    }
    return;
  }

  make_dirs(c.data_dir);
  const std::string path = c.data_dir + "/secrets";
  for (int attempt = 0; attempt < 3; ++attempt) {
    Entries e;
    bool existed = read_secrets(path, e);
    bool changed = false;
    // Every secret key gets an entry, not only the missing ones, so that a key configured today
    // and dropped tomorrow falls back to a stable stored value. Entries already there are kept.
    for (const auto& k : keys()) {
      if (k.kind != Kind::secret || e.values.count(std::string(k.name))) continue;
      e.values[std::string(k.name)] = generate_secret();
      changed = true;
    }
    if (changed && !publish(c.data_dir, path, e, existed)) continue;  // lost a race: reread
    for (const KeyDecl* k : missing) {
      const std::string name(k->name);
      c.*k->secret = decode_stored(path, name, e.values[name], k->exact_bytes);
      c.*k->source = "generated";
    }
    return;
  }
  fail("data_dir: could not create the secrets file " + path + " (concurrent starts?)");
}

}  // namespace sr::config
