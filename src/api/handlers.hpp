// The handlers of the route table (api/routes.cpp), one file per resource. Each runs after the
// gate (api/gate.hpp) admitted the request -- its parameter, body and rows are in the Call --
// and does parse -> service -> respond.
#pragma once
#include <string>
#include <string_view>

#include "api/call.hpp"
#include "http/types.hpp"
#include "util/task.hpp"

namespace sr::api::handlers {

// Shared by the signin handlers (auth_routes.cpp, twofa_routes.cpp): the User-Agent made safe to
// store (at most 256 code points of valid single-line UTF-8, else ""), and a signin's or a
// refresh's answer -- the session's cookies, and its tokens in the body when asked for.
std::string sane_user_agent(std::string_view ua);
http::Response signed_in(Call& call, const services::NewSession& s, std::string_view message,
                         bool with_tokens);

// /auth (auth_routes.cpp)
Task<http::Response> signup(Call& call);
Task<http::Response> signin(Call& call);
Task<http::Response> refresh(Call& call);
Task<http::Response> refresh_csrf(Call& call);
Task<http::Response> logout(Call& call);
Task<http::Response> logout_all(Call& call);
Task<http::Response> list_sessions(Call& call);
Task<http::Response> delete_session(Call& call);
Task<http::Response> change_password(Call& call);
Task<http::Response> delete_account(Call& call);

// /auth/2fa and /auth/signin/2fa (twofa_routes.cpp)
Task<http::Response> twofa_status(Call& call);
Task<http::Response> totp_setup(Call& call);
Task<http::Response> totp_confirm(Call& call);
Task<http::Response> twofa_disable(Call& call);
Task<http::Response> recovery_codes(Call& call);
Task<http::Response> signin_2fa(Call& call);

// /personal (personal_routes.cpp)
Task<http::Response> me(Call& call);
Task<http::Response> get_handbook(Call& call);
Task<http::Response> put_handbook(Call& call);

// /social (social_routes.cpp)
Task<http::Response> list_links(Call& call);
Task<http::Response> add_link(Call& call);
Task<http::Response> update_link(Call& call);
Task<http::Response> remove_link(Call& call);

// /vault (vault_routes.cpp)
Task<http::Response> vault_status(Call& call);
Task<http::Response> vault_setup(Call& call);
Task<http::Response> vault_unlock(Call& call);
Task<http::Response> vault_lock(Call& call);
Task<http::Response> vault_add(Call& call);
Task<http::Response> vault_list(Call& call);
Task<http::Response> vault_get(Call& call);
Task<http::Response> vault_update(Call& call);
Task<http::Response> vault_remove(Call& call);
Task<http::Response> vault_change_password(Call& call);

// /healthz, /readyz, /metrics (ops_routes.cpp)
Task<http::Response> healthz(Call& call);
Task<http::Response> readyz(Call& call);
Task<http::Response> metrics(Call& call);

// /openapi.json (openapi_route.cpp)
Task<http::Response> openapi(Call& call);

}  // namespace sr::api::handlers
