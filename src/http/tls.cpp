#include "http/tls.hpp"

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <ctime>

namespace sr::http {
namespace {

namespace ssl = boost::asio::ssl;

// Mozilla's "intermediate" configuration (v5.7): TLS 1.2 suites, all ECDHE/DHE + AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:prime256v1:secp384r1";
constexpr unsigned char kSessionContext[] = "strongroom";

// The first queued OpenSSL error as text (and the queue emptied), or `fallback`.
std::string openssl_error(const char* fallback) {
  unsigned long e = ERR_get_error();
  std::string out = fallback;
  if (e) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out = buf;
  }
  ERR_clear_error();
  return out;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  std::string_view offer(reinterpret_cast<const char*>(in), inlen);
  std::string_view chosen = choose_alpn(offer);
  if (chosen.empty()) return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol
  *out = reinterpret_cast<const unsigned char*>(chosen.data());
  *outlen = static_cast<unsigned char>(chosen.size());
  return SSL_TLSEXT_ERR_OK;
}

// The RFC 7919 group ffdhe2048 for the DHE suites (Mozilla's choice; OpenSSL's automatic choice
// would be the older RFC 3526 group).
bool use_ffdhe2048(SSL_CTX* ctx) {
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr);
  if (!pctx) return false;
  EVP_PKEY* dh = nullptr;
  char group[] = "ffdhe2048";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
                         OSSL_PARAM_construct_end()};
  const bool made = EVP_PKEY_paramgen_init(pctx) == 1 &&
                    EVP_PKEY_CTX_set_params(pctx, params) == 1 && EVP_PKEY_paramgen(pctx, &dh) == 1;
  EVP_PKEY_CTX_free(pctx);
  if (!made) return false;
  if (SSL_CTX_set0_tmp_dh_pkey(ctx, dh) == 1) return true;  // owns dh now
  EVP_PKEY_free(dh);
  return false;
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::vector<std::string> names_of(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type == GEN_DNS) {
        const ASN1_STRING* s = g->d.dNSName;
        names.push_back(lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                          static_cast<std::size_t>(ASN1_STRING_length(s)))));
      } else if (g->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* s = g->d.iPAddress;
        char buf[INET6_ADDRSTRLEN] = {};
        int len = ASN1_STRING_length(s);
        if ((len == 4 || len == 16) &&
            inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), buf, sizeof buf))
          names.emplace_back(buf);
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    X509_NAME* subject = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (idx >= 0) {
      const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
      names.push_back(lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                        static_cast<std::size_t>(ASN1_STRING_length(s)))));
    }
  }
  // Only names a Location header can carry safely (the redirect listener uses them).
  std::erase_if(names, [](const std::string& n) {
    if (n.empty() || n.size() > 253) return true;
    for (char c : n)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
            c == '*'))
        return true;
    return false;
  });
  return names;
}

std::string not_after_of(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return {};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace

std::string_view choose_alpn(std::string_view offer) noexcept {
  constexpr std::string_view kHttp11 = "http/1.1";
  while (!offer.empty()) {
    const std::size_t n = static_cast<unsigned char>(offer.front());
    if (n == 0 || n + 1 > offer.size()) return {};  // malformed list
    if (offer.substr(1, n) == kHttp11) return kHttp11;
    offer.remove_prefix(n + 1);
  }
  return {};
}

std::shared_ptr<TlsIdentity> load_tls_identity(const std::string& cert_file,
                                               const std::string& key_file) {
  ERR_clear_error();
  auto id = std::make_shared<TlsIdentity>(ssl::context(ssl::context::tls_server));
  SSL_CTX* ctx = id->ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kGroups) != 1 || !use_ffdhe2048(ctx))
    throw TlsError("TLS setup: " + openssl_error("cannot apply the TLS settings"));
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  // Idle connections do not keep their 2 x 16 KiB record buffers.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // Resumption from a bounded cache that forgets a session after an hour (no ticket key that
  // lives as long as the process and would unlock every recorded session).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_sess_set_cache_size(ctx, 8192);
  SSL_CTX_set_timeout(ctx, 3600);
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  // Never ask a terminal for a passphrase: an encrypted key is refused instead.
  SSL_CTX_set_default_passwd_cb(ctx, [](char*, int, int, void*) { return 0; });

  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
    throw TlsError("tls_cert " + cert_file + ": " +
                   openssl_error("cannot read a PEM certificate chain"));
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH)
      throw TlsError("tls_key " + key_file + ": " + openssl_error("cannot read a PEM private key"));
    ERR_clear_error();
    throw TlsError("tls_key " + key_file + " does not match the certificate in " + cert_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1)
    throw TlsError("tls_key " + key_file + " does not match the certificate in " + cert_file +
                   ": " + openssl_error("key mismatch"));
  X509* cert = SSL_CTX_get0_certificate(ctx);
  id->names = names_of(cert);
  id->not_after = not_after_of(cert);
  ERR_clear_error();
  return id;
}

}  // namespace sr::http
