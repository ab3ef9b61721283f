#include "auth/totp_qr.hpp"

#include <qrencode.h>
#include <sodium.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace sr::auth::totp {
namespace {

constexpr int kQuietZone = 4;        // modules of white around the symbol (ISO/IEC 18004)
constexpr int kPixelsPerModule = 4;  // the default size; the viewBox lets it scale

struct Free {
  void operator()(QRcode* q) const {
    // The modules encode the secret: wipe them before they go back to the allocator.
    sodium_memzero(q->data,
                   static_cast<std::size_t>(q->width) * static_cast<std::size_t>(q->width));
    QRcode_free(q);
  }
};

}  // namespace

std::string qr_svg(std::string_view text) {
  if (text.empty() || text.find('\0') != std::string_view::npos)
    throw std::runtime_error("qr: nothing to encode");
  const std::string z(text);  // libqrencode takes a C string
  std::unique_ptr<QRcode, Free> q(QRcode_encodeString(z.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
  if (!q) throw std::runtime_error("qr: libqrencode could not encode the text");
  const int n = q->width;
  const int size = n + 2 * kQuietZone;
  const std::string s = std::to_string(size);
  const std::string px = std::to_string(size * kPixelsPerModule);
  std::string out;
  out.reserve(static_cast<std::size_t>(n) * static_cast<std::size_t>(n) * 4 + 300);
  out += R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 )" + s + " " + s + R"(" width=")" +
         px + R"(" height=")" + px +
         R"(" shape-rendering="crispEdges"><path fill="#ffffff" d="M0 0h)" + s + "v" + s +
         R"(H0z"/><path fill="#000000" d=")";
  // One closed rectangle per horizontal run of dark modules (bit 0 of each module byte).
  for (int y = 0; y < n; ++y) {
    const unsigned char* row = q->data + static_cast<std::size_t>(y) * static_cast<std::size_t>(n);
    for (int x = 0; x < n;) {
      if (!(row[x] & 1)) {
        ++x;
        continue;
      }
      int end = x;
      while (end < n && (row[end] & 1)) ++end;
      const std::string len = std::to_string(end - x);
      out += 'M' + std::to_string(x + kQuietZone) + ' ' + std::to_string(y + kQuietZone) + 'h' +
             len + "v1h-" + len + 'z';
      x = end;
    }
  }
  out += R"("/></svg>)";
  return out;
}

}  // namespace sr::auth::totp
