// The web interface (SPEC 17): HTML, CSS, ES modules and icons from src/ui/web/, embedded into the
// binary at build time (cmake/embed_ui.cmake), served at GET / and under /ui/ by the same process.
#pragma once
#include <span>
#include <string_view>

#include "http/router.hpp"
#include "http/types.hpp"

namespace sr::ui {

struct Asset {
  std::string_view path;          // "/ui/" + the file's path under src/ui/web/
  std::string_view content_type;  // from the file's extension
  std::string_view etag;          // "\"<first 20 hex digits of the content's SHA-256>\""
  std::string_view body;
};

// Every embedded file, sorted by path (generated at build time).
std::span<const Asset> assets() noexcept;

// The interface's documents allow our own scripts, styles, images and API calls, nothing inline and
// nothing from another origin.
inline constexpr std::string_view kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
// The files hold no user data and change only with the binary: the browser may keep them but asks
// again each time (a 304 when its ETag still matches). docs/ui.md, docs/SECURITY.md.
inline constexpr std::string_view kCacheControl = "no-cache";

// GET/HEAD of `/`, `/ui` or a path under `/ui/`: the asset at that path; the page shell
// (/ui/index.html) for every other path, since the interface routes its pages itself; 404
// not_found for an unknown path under /ui/assets/. 304 when If-None-Match names the ETag.
http::Response serve(const http::Request& req);

// Registers GET `/`, `/ui` and the prefix `/ui/`.
void add_ui_routes(http::Router& r);

}  // namespace sr::ui
