// Reads the native TLS certificate chain and key the way the listener will (PEM, OpenSSL 3), so
// that `check` and the production start can report a broken pair before a client meets it.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>

#include "config/detail.hpp"

namespace sr::config::detail {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// Never prompts for a passphrase (OpenSSL's default callback reads the terminal): an encrypted
// key fails to load instead.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

std::unique_ptr<BIO, BioFree> open_file(const std::string& path, std::string& problem) {
  errno = 0;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) problem = "cannot be read (" + std::string(std::strerror(errno ? errno : EIO)) + ")";
  return bio;
}

int64_t unix_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

TlsFiles inspect_tls(const std::string& cert_path, const std::string& key_path) {
  TlsFiles out;
  std::unique_ptr<X509, X509Free> leaf;
  if (auto bio = open_file(cert_path, out.cert_problem)) {
    while (X509* raw = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)) {
      std::unique_ptr<X509, X509Free> cert(raw);
      int64_t nb = unix_time(X509_get0_notBefore(raw)), na = unix_time(X509_get0_notAfter(raw));
      if (!leaf || nb > out.not_before) out.not_before = nb;
      if (!leaf || na < out.not_after) out.not_after = na;
      if (!leaf) leaf = std::move(cert);
    }
    if (!leaf) out.cert_problem = "holds no PEM certificate";
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
  if (auto bio = open_file(key_path, out.key_problem)) {
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    if (!key) out.key_problem = "holds no unencrypted PEM private key";
  }
  if (leaf && key) out.mismatch = X509_check_private_key(leaf.get(), key.get()) != 1;
  ERR_clear_error();  // what failed is reported above; leave no error queued for the next user
  return out;
}

}  // namespace sr::config::detail
