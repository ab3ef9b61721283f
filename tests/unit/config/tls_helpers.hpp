// Self-signed certificates made with OpenSSL for the TLS checks: any validity window, a key that
// matches or not.
#pragma once
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace cfgtest {

struct TlsPair {
  std::string cert, key;  // paths
};

inline EVP_PKEY* new_ec_key() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  if (!k) throw std::runtime_error("EVP_EC_gen failed");
  return k;
}

inline void write_pem(const std::string& path, mode_t mode, auto&& writer) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  bool ok = writer(f) == 1;
  std::fclose(f);
  ::chmod(path.c_str(), mode);
  if (!ok) throw std::runtime_error("PEM write failed");
}

// A certificate valid from now+not_before_s to now+not_after_s (seconds, may be negative), written
// to <dir>/<name>.crt; the key to <dir>/<name>.key (mode key_mode). With other_key, the key file
// holds a different key than the certificate's.
inline TlsPair make_tls_pair(const std::string& dir, const std::string& name, long not_before_s,
                             long not_after_s, bool other_key = false, mode_t key_mode = 0600) {
  EVP_PKEY* key = new_ec_key();
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(x), not_after_s);
  X509_set_pubkey(x, key);
  X509_NAME* n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, n);
  if (X509_sign(x, key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
  TlsPair p{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
  write_pem(p.cert, 0644, [&](FILE* f) { return PEM_write_X509(f, x); });
  EVP_PKEY* written = other_key ? new_ec_key() : key;
  write_pem(p.key, key_mode, [&](FILE* f) {
    return PEM_write_PrivateKey(f, written, nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (written != key) EVP_PKEY_free(written);
  X509_free(x);
  EVP_PKEY_free(key);
  return p;
}

}  // namespace cfgtest
