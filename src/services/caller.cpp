#include "services/caller.hpp"

#include "util/error.hpp"

namespace sr::services {

Task<storage::User> caller_user(storage::Storage& db, const Caller& who) {
  const int64_t uid = who.user_id;
  std::optional<storage::User> u;
  co_await db.run(storage::Access::read, [&](storage::Repository& r) { u = r.find_user(uid); });
  if (!u) throw ApiError(ErrorCode::token_revoked, "Session has been revoked");
  co_return std::move(*u);
}

}  // namespace sr::services
