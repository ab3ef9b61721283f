// The answer of the plain-HTTP redirect listener (SPEC 15, `listen_redirect`): 308 to the same
// target on the HTTPS origin. The host of that origin is never simply the client's Host header
// (an open redirect, and a poisoned 308 in any cache in between): it is the Host only when the
// server's certificate is valid for it, else the certificate's first plain name.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sr::http {

// "https://<host>[:<port>]<target>" (the port left out when it is 443), or empty when there is no
// safe answer: the target is not origin-form ("/..."), or the Host is not covered by
// `cert_names` and the certificate has no name without a wildcard. `cert_names` are lower-case DNS
// names ("*.example.com" covers exactly one more label) and IP addresses (TlsIdentity::names).
std::string https_redirect_location(std::string_view host_header, std::string_view target,
                                    const std::vector<std::string>& cert_names,
                                    uint16_t https_port);

}  // namespace sr::http
