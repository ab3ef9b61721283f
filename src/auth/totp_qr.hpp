// The QR code of an otpauth:// URI as an SVG document, rendered here (libqrencode for the
// symbol, our own writer for the SVG) so no third party ever sees the TOTP secret it carries.
// The SVG is built from numbers only: the URI reaches it as the symbol's modules, never as text.
#pragma once
#include <string>
#include <string_view>

namespace sr::auth::totp {

// Error correction level M, 8-bit mode, the smallest version that holds the text, a quiet zone
// of 4 modules, one <path> of the dark modules over a white square, crisp edges. Throws
// std::runtime_error when libqrencode cannot encode the text (empty, or over 2331 bytes at
// level M). The result carries the secret: treat it like one (never log it).
std::string qr_svg(std::string_view text);

}  // namespace sr::auth::totp
