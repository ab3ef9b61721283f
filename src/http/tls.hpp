// Native TLS (SPEC 15): the OpenSSL server context built from a PEM certificate chain and key, and
// the names that certificate is valid for (the redirect listener only ever points at those).
// Built whole and swapped whole: SIGHUP builds a new one; connections keep the one they started
// with, so a reload never touches a live connection.
#pragma once
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace sr::http {

struct TlsIdentity {
  explicit TlsIdentity(boost::asio::ssl::context c) : ctx(std::move(c)) {}
  boost::asio::ssl::context ctx;
  // DNS names (lower case, "*.example.com" kept as is) and IP addresses of the certificate's
  // subjectAltName, else its subject CN; in the certificate's order.
  std::vector<std::string> names;
  std::string not_after;  // "2027-01-02T03:04:05Z", for the log
};

class TlsError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// TLS 1.2 and 1.3 only; the Mozilla "intermediate" suites (ECDHE/DHE with AES-GCM or
// ChaCha20-Poly1305: forward-secret AEAD only); groups X25519, P-256, P-384; ALPN http/1.1 (a
// client that offers ALPN without it is refused); no renegotiation, no compression, no session
// tickets (resumption from a bounded server-side cache instead). Throws TlsError naming the file
// and the reason when the files cannot be read, are not PEM, or the key does not match the
// certificate; never prompts for a passphrase (an encrypted key is an error).
std::shared_ptr<TlsIdentity> load_tls_identity(const std::string& cert_file,
                                               const std::string& key_file);

// The ALPN choice of the server for a client's offer (wire format: length-prefixed names):
// "http/1.1" when offered, else empty (the handshake is then refused). Exposed for tests.
std::string_view choose_alpn(std::string_view client_offer) noexcept;

}  // namespace sr::http
