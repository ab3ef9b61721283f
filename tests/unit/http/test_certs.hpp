// Self-signed certificates for the TLS tests, made with OpenSSL at run time (nothing checked in).
#pragma once
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace sr::http::testing {

struct CertFiles {
  std::string cert, key;
};

// A P-256 key and a certificate for `subject_alt_names` (OpenSSL syntax: "DNS:a,IP:127.0.0.1"),
// written as PEM files into dir as <stem>.crt / <stem>.key. `days` may be negative (expired).
inline CertFiles make_cert(const std::filesystem::path& dir, const std::string& stem,
                           const std::string& subject_alt_names, const std::string& cn = "test",
                           long days = 30) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  if (!key || !x) throw std::runtime_error("openssl: cannot make a key");
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), static_cast<long>(::getpid()) ^ days);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), days < 0 ? days * 2 * 86400 : -60);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), days * 86400);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  if (!subject_alt_names.empty()) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, subject_alt_names.c_str());
    if (!ext) throw std::runtime_error("openssl: bad subjectAltName " + subject_alt_names);
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (!X509_sign(x.get(), key.get(), EVP_sha256())) throw std::runtime_error("openssl: sign");
  CertFiles f{(dir / (stem + ".crt")).string(), (dir / (stem + ".key")).string()};
  FILE* c = std::fopen(f.cert.c_str(), "w");
  FILE* k = std::fopen(f.key.c_str(), "w");
  if (!c || !k) throw std::runtime_error("cannot write " + f.cert);
  PEM_write_X509(c, x.get());
  PEM_write_PrivateKey(k, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(c);
  std::fclose(k);
  return f;
}

// The same key, encrypted with a passphrase (the server must refuse it, never prompt).
inline std::string encrypt_key(const std::string& key_file, const std::string& out_file) {
  FILE* in = std::fopen(key_file.c_str(), "r");
  if (!in) throw std::runtime_error("cannot read " + key_file);
  EVP_PKEY* key = PEM_read_PrivateKey(in, nullptr, nullptr, nullptr);
  std::fclose(in);
  FILE* out = std::fopen(out_file.c_str(), "w");
  char pass[] = "passphrase";
  PEM_write_PrivateKey(out, key, EVP_aes_256_cbc(), nullptr, 0, nullptr, pass);
  std::fclose(out);
  EVP_PKEY_free(key);
  return out_file;
}

}  // namespace sr::http::testing
