// What a service knows of the request it acts for, without HTTP: who asks (for security events),
// their auth session, and the route's own rate limits. The api layer implements it per request
// (api/call.hpp); the services' unit tests implement it over a real limiter.
#pragma once
#include <cstdint>
#include <string_view>

#include "storage/repository.hpp"
#include "util/task.hpp"

namespace sr::services {

// What a route's own rate limit (SPEC 8) is keyed on.
enum class LimitKey {
  ip,       // the client address (IPv6: its /64)
  user,     // the authenticated user
  session,  // an auth session, named by the service (refresh: the token's session)
  account,  // an account, named by the service (signin: the account the login finds)
};

class Caller {
 public:
  std::string_view request_id;
  std::string_view ip;  // the client address (trusted proxies resolved)
  int64_t user_id = 0;  // the authenticated user; 0 on an anonymous route

  // The caller's auth session, fresh from the database (authenticated routes only).
  virtual const storage::Session& session() const = 0;

  // Checks the route's own limit rows keyed on `key` (declared with the route; none: nothing).
  // The service calls it where SPEC 12 puts it: once its input is valid, before the action.
  // `subject` names the session (LimitKey::session) or account (LimitKey::account; used as the
  // key as given); ip and user are the caller's own. Throws ApiError(rate_limited). A view: pass
  // a named local, never a temporary made inside the co_await expression (g++ 12).
  virtual Task<void> limit(LimitKey key, std::string_view subject = {}) = 0;

 protected:
  Caller() = default;
  ~Caller() = default;
  Caller(const Caller&) = delete;
  Caller& operator=(const Caller&) = delete;
};

// The caller's user row; token_revoked when it is gone (deleted by another session meanwhile).
Task<storage::User> caller_user(storage::Storage& db, const Caller& who);

}  // namespace sr::services
