// Native TLS (SPEC 15): the context's rules, the redirect Location, and the server over real
// loopback sockets driven by a plain OpenSSL client.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include "http/redirect.hpp"
#include "http/server.hpp"
#include "http/test_certs.hpp"
#include "http/tls.hpp"
#include "observability/log.hpp"

namespace sr::http {
namespace {

namespace fs = std::filesystem;
using testing::CertFiles;
using testing::make_cert;

std::string wire(std::initializer_list<std::string_view> names) {
  std::string out;
  for (auto n : names) {
    out.push_back(static_cast<char>(n.size()));
    out.append(n);
  }
  return out;
}

TEST(Alpn, PicksHttp11OrNothing) {
  EXPECT_EQ(choose_alpn(wire({"h2", "http/1.1"})), "http/1.1");
  EXPECT_EQ(choose_alpn(wire({"http/1.1"})), "http/1.1");
  EXPECT_EQ(choose_alpn(wire({"h2"})), "");
  EXPECT_EQ(choose_alpn(wire({"http/1.0", "spdy/3"})), "");
  EXPECT_EQ(choose_alpn(""), "");
  EXPECT_EQ(choose_alpn(std::string("\x09http/1.1", 9)), "");  // length past the end
  EXPECT_EQ(choose_alpn(std::string("\x00\x08http/1.1", 10)), "");
}

TEST(Redirect, HostOnlyWhenTheCertificateCoversIt) {
  const std::vector<std::string> names = {"*.example.com", "example.com", "127.0.0.1", "::1"};
  EXPECT_EQ(https_redirect_location("example.com", "/a?b=c", names, 443),
            "https://example.com/a?b=c");
  EXPECT_EQ(https_redirect_location("WWW.Example.COM:80", "/", names, 8443),
            "https://www.example.com:8443/");
  EXPECT_EQ(https_redirect_location("127.0.0.1:8080", "/x", names, 8443),
            "https://127.0.0.1:8443/x");
  EXPECT_EQ(https_redirect_location("[::1]:8080", "/x", names, 443), "https://[::1]/x");
  EXPECT_EQ(https_redirect_location("[0:0::1]", "/x", names, 443), "https://[0:0::1]/x");
  // Anything the certificate does not cover goes to its first plain name, never to the Host.
  for (std::string_view host :
       {"evil.example", "a.b.example.com", "example.com.evil", "evil.example:443", "",
        "example.com@evil.example", "evil.example/x", "[::2]", "10.0.0.1", "exa mple.com",
        "example.com:80x", "[::1"})
    EXPECT_EQ(https_redirect_location(host, "/p", names, 443), "https://example.com/p") << host;
  // Only origin-form targets: absolute-form, authority-form and * get no redirect.
  EXPECT_EQ(https_redirect_location("example.com", "http://evil.example/", names, 443), "");
  EXPECT_EQ(https_redirect_location("example.com", "*", names, 443), "");
  EXPECT_EQ(https_redirect_location("example.com", "", names, 443), "");
  // A path that looks like a network-path reference stays a path under the fixed host.
  EXPECT_EQ(https_redirect_location("evil.example", "//evil.example/x", names, 443),
            "https://example.com//evil.example/x");
  // Only wildcards: a host they cover is used; any other gets no redirect.
  EXPECT_EQ(https_redirect_location("a.example.com", "/", {"*.example.com"}, 443),
            "https://a.example.com/");
  EXPECT_EQ(https_redirect_location("evil.example", "/", {"*.example.com"}, 443), "");
}

class TlsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sr-tls-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(TlsFiles, LoadsNamesAndRefusesBadPairs) {
  CertFiles a = make_cert(dir_, "a", "DNS:Example.com,DNS:*.example.com,IP:127.0.0.1,IP:::1");
  auto id = load_tls_identity(a.cert, a.key);
  EXPECT_EQ(id->names,
            (std::vector<std::string>{"example.com", "*.example.com", "127.0.0.1", "::1"}));
  EXPECT_EQ(id->not_after.size(), 20u) << id->not_after;

  CertFiles cn_only = make_cert(dir_, "cn", "", "Host.Example");
  EXPECT_EQ(load_tls_identity(cn_only.cert, cn_only.key)->names,
            std::vector<std::string>{"host.example"});

  CertFiles b = make_cert(dir_, "b", "DNS:b.example");
  auto expect_error = [](const std::string& cert, const std::string& key, std::string_view word) {
    try {
      load_tls_identity(cert, key);
      ADD_FAILURE() << "accepted " << cert << " + " << key;
    } catch (const TlsError& e) {
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  expect_error(a.cert, b.key, "does not match");
  expect_error((dir_ / "missing.crt").string(), a.key, "tls_cert");
  expect_error(a.cert, (dir_ / "missing.key").string(), "tls_key");
  expect_error(a.key, a.key, "tls_cert");   // a key is not a certificate
  expect_error(a.cert, a.cert, "tls_key");  // nor a certificate a key
  // An encrypted key is refused without asking anyone for a passphrase (stdin is not read).
  expect_error(a.cert, testing::encrypt_key(a.key, (dir_ / "enc.key").string()), "tls_key");
}

// --- a blocking OpenSSL client ----------------------------------------------------------------

// A blocking TCP connection to 127.0.0.1:port whose reads give up after 5 s; -1 on failure.
int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct ClientOptions {
  int min_version = TLS1_VERSION;
  int max_version = TLS1_3_VERSION;
  std::string tls12_ciphers;  // empty: OpenSSL's default
  std::string alpn;           // wire format; empty: none offered
};

class TlsClient {
 public:
  TlsClient(uint16_t port, const ClientOptions& o = {}) {
    fd_ = connect_loopback(port);
    if (fd_ < 0) return;
    ctx_ = SSL_CTX_new(TLS_client_method());
    // The client offers whatever the test asks, even what OpenSSL's defaults forbid.
    SSL_CTX_set_security_level(ctx_, 0);
    SSL_CTX_set_min_proto_version(ctx_, o.min_version);
    SSL_CTX_set_max_proto_version(ctx_, o.max_version);
    SSL_CTX_set_cipher_list(ctx_,
                            o.tls12_ciphers.empty() ? "ALL:@SECLEVEL=0" : o.tls12_ciphers.c_str());
    if (!o.alpn.empty())
      SSL_CTX_set_alpn_protos(ctx_, reinterpret_cast<const unsigned char*>(o.alpn.data()),
                              static_cast<unsigned>(o.alpn.size()));
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    handshake_ok_ = SSL_connect(ssl_) == 1;
    ERR_clear_error();
  }
  ~TlsClient() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  bool handshake_ok() const { return handshake_ok_; }
  std::string alpn() const {
    const unsigned char* p = nullptr;
    unsigned n = 0;
    SSL_get0_alpn_selected(ssl_, &p, &n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  std::string protocol() const { return SSL_get_version(ssl_); }
  std::string cipher() const { return SSL_get_cipher_name(ssl_); }
  // The peer certificate's first subjectAltName DNS entry.
  std::string cert_name() const {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (!cert) return {};
    std::string out;
    auto* sans =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (sans && sk_GENERAL_NAME_num(sans) > 0 && sk_GENERAL_NAME_value(sans, 0)->type == GEN_DNS) {
      const ASN1_STRING* s = sk_GENERAL_NAME_value(sans, 0)->d.dNSName;
      out.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                 static_cast<std::size_t>(ASN1_STRING_length(s)));
    }
    GENERAL_NAMES_free(sans);
    X509_free(cert);
    return out;
  }
  // Sends a GET and returns the status line + headers + body of one Content-Length response.
  std::optional<std::string> get(std::string_view path) {
    std::string req = "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n\r\n";
    if (SSL_write(ssl_, req.data(), static_cast<int>(req.size())) <= 0) return std::nullopt;
    std::string buf;
    char tmp[4096];
    for (;;) {
      auto end = buf.find("\r\n\r\n");
      if (end != std::string::npos) {
        auto cl = buf.find("Content-Length: ");
        std::size_t len = cl == std::string::npos ? 0 : std::stoul(buf.substr(cl + 16));
        if (buf.size() >= end + 4 + len) return buf.substr(0, end + 4 + len);
      }
      int n = SSL_read(ssl_, tmp, sizeof tmp);
      if (n <= 0) return std::nullopt;
      buf.append(tmp, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool handshake_ok_ = false;
};

// Plain TCP: sends bytes, returns everything until the server closes (or 5 s).
std::string plain_exchange(uint16_t port, std::string_view data) {
  int fd = connect_loopback(port);
  std::string out;
  if (fd >= 0 &&
      ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size())) {
    char tmp[4096];
    ssize_t n;
    while ((n = ::recv(fd, tmp, sizeof tmp, 0)) > 0) out.append(tmp, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

class TlsServer : public TlsFiles {
 protected:
  void start(ServerOptions o = {}) {
    pair_ = make_cert(dir_, "server", "DNS:one.example,IP:127.0.0.1");
    cert_ = (dir_ / "live.crt").string();
    key_ = (dir_ / "live.key").string();
    fs::copy_file(pair_.cert, cert_);
    fs::copy_file(pair_.key, key_);
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.tls_cert = cert_;
    o.tls_key = key_;
    router_.add(Method::GET, "/healthz", [](Request&) -> Task<Response> {
      co_return Response::json(200, "{\"status\":\"ok\"}");
    });
    server_.emplace(std::move(o), router_, metrics_);
    port_ = server_->start();
    thread_ = std::thread([this] { server_->run(); });
  }
  void install(const CertFiles& f) {
    fs::copy_file(f.cert, cert_, fs::copy_options::overwrite_existing);
    fs::copy_file(f.key, key_, fs::copy_options::overwrite_existing);
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    TlsFiles::TearDown();
  }
  Router router_;
  obs::Metrics metrics_;
  std::optional<Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
  CertFiles pair_;
  std::string cert_, key_;
};

bool is_200(const std::optional<std::string>& r) {
  return r && r->rfind("HTTP/1.1 200 ", 0) == 0;
}

TEST_F(TlsServer, ServesHttpsOnlyWithModernProtocolsAndSuites) {
  start();
  {
    TlsClient c(port_, {.alpn = wire({"h2", "http/1.1"})});
    ASSERT_TRUE(c.handshake_ok());
    EXPECT_EQ(c.protocol(), "TLSv1.3");
    EXPECT_EQ(c.alpn(), "http/1.1");
    EXPECT_TRUE(is_200(c.get("/healthz")));
    EXPECT_TRUE(is_200(c.get("/healthz")));  // keep-alive over TLS
  }
  {
    TlsClient c(port_, {.max_version = TLS1_2_VERSION});
    ASSERT_TRUE(c.handshake_ok());
    EXPECT_EQ(c.protocol(), "TLSv1.2");
    EXPECT_EQ(c.cipher().rfind("ECDHE-", 0), 0u) << c.cipher();
    EXPECT_TRUE(is_200(c.get("/healthz")));
  }
  // Below TLS 1.2: refused.
  EXPECT_FALSE(
      TlsClient(port_, {.min_version = TLS1_VERSION, .max_version = TLS1_VERSION}).handshake_ok());
  EXPECT_FALSE(TlsClient(port_, {.min_version = TLS1_1_VERSION, .max_version = TLS1_1_VERSION})
                   .handshake_ok());
  // TLS 1.2 without forward secrecy, or without an AEAD: refused.
  for (const char* suite : {"AES128-GCM-SHA256", "AES256-SHA", "ECDHE-RSA-AES128-SHA",
                            "ECDHE-ECDSA-AES128-SHA256", "DES-CBC3-SHA", "ECDHE-ECDSA-RC4-SHA"})
    EXPECT_FALSE(
        TlsClient(port_, {.max_version = TLS1_2_VERSION, .tls12_ciphers = suite}).handshake_ok())
        << suite;
  // ALPN offered without http/1.1: refused rather than spoken to in the wrong protocol.
  EXPECT_FALSE(TlsClient(port_, {.alpn = wire({"h2"})}).handshake_ok());
  // Still serving.
  EXPECT_TRUE(is_200(TlsClient(port_).get("/healthz")));
}

TEST_F(TlsServer, PlainHttpToTheTlsPortGetsAReadableRefusal) {
  start();
  std::string r = plain_exchange(port_, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << r;
  EXPECT_NE(r.find("https://"), std::string::npos) << r;
  EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
  EXPECT_TRUE(is_200(TlsClient(port_).get("/healthz")));
}

TEST_F(TlsServer, ReloadKeepsLiveConnectionsAndServesTheNewPair) {
  start();
  TlsClient live(port_);
  ASSERT_TRUE(is_200(live.get("/healthz")));
  EXPECT_EQ(live.cert_name(), "one.example");

  install(make_cert(dir_, "two", "DNS:two.example,IP:127.0.0.1"));
  ASSERT_TRUE(server_->reload_tls());
  EXPECT_TRUE(is_200(live.get("/healthz")));  // the open connection was not dropped
  TlsClient fresh(port_);
  ASSERT_TRUE(is_200(fresh.get("/healthz")));
  EXPECT_EQ(fresh.cert_name(), "two.example");

  // A broken pair (key of another certificate; then garbage): refused, the last good one stays.
  CertFiles three = make_cert(dir_, "three", "DNS:three.example");
  fs::copy_file(three.cert, cert_, fs::copy_options::overwrite_existing);
  EXPECT_FALSE(server_->reload_tls());
  {
    std::FILE* f = std::fopen(cert_.c_str(), "w");
    std::fputs("-----BEGIN CERTIFICATE-----\nnot base64\n", f);
    std::fclose(f);
  }
  EXPECT_FALSE(server_->reload_tls());
  TlsClient after(port_);
  ASSERT_TRUE(is_200(after.get("/healthz")));
  EXPECT_EQ(after.cert_name(), "two.example");
  EXPECT_TRUE(is_200(live.get("/healthz")));
  EXPECT_TRUE(is_200(fresh.get("/healthz")));
}

TEST_F(TlsServer, RedirectListenerAnswers308ToTheHttpsOrigin) {
  start({.redirect_host = "127.0.0.1", .redirect_port = 0});
  const uint16_t rp = server_->redirect_port();
  ASSERT_NE(rp, 0);
  std::string r = plain_exchange(rp, "GET /personal/me?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 308 ", 0), 0u) << r;
  EXPECT_NE(r.find("Location: https://127.0.0.1:" + std::to_string(port_) + "/personal/me?x=1\r\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
  // An attacker's Host is not reflected.
  r = plain_exchange(rp,
                     "POST /auth/signin HTTP/1.1\r\nHost: evil.example\r\n"
                     "Content-Length: 2\r\n\r\n{}");
  EXPECT_NE(r.find("Location: https://one.example:" + std::to_string(port_) + "/auth/signin\r\n"),
            std::string::npos)
      << r;
  EXPECT_EQ(r.find("evil"), std::string::npos) << r;
  // The same limits as the server: an oversized header is 431, garbage 400.
  r = plain_exchange(rp,
                     "GET / HTTP/1.1\r\nHost: t\r\nX: " + std::string(17 * 1024, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 431 ", 0), 0u) << r.substr(0, 40);
  r = plain_exchange(rp, "GET http://evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << r;
  // Only redirects: no route of the server answers there.
  r = plain_exchange(rp, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 308 ", 0), 0u) << r;
}

TEST_F(TlsFiles, StartFailsClearlyOnABrokenPair) {
  CertFiles a = make_cert(dir_, "a", "DNS:a.example");
  CertFiles b = make_cert(dir_, "b", "DNS:b.example");
  Router r;
  obs::Metrics m;
  Server s({.host = "127.0.0.1", .port = 0, .tls_cert = a.cert, .tls_key = b.key}, r, m);
  try {
    s.start();
    FAIL() << "start() accepted a key of another certificate";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
  }
  Server plain({.host = "127.0.0.1", .port = 0, .redirect_host = "127.0.0.1"}, r, m);
  EXPECT_THROW(plain.start(), std::runtime_error);  // a redirect needs TLS to redirect to
}

}  // namespace
}  // namespace sr::http
