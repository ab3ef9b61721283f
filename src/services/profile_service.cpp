#include "services/profile_service.hpp"

#include "util/clock.hpp"
#include "util/error.hpp"

namespace sr::services {

using storage::Access;
using storage::Repository;

Me ProfileService::me(storage::ReadBatch& rows) const {
  if (!rows.user) throw ApiError(ErrorCode::token_revoked, "Session has been revoked");
  return Me{std::move(*rows.user), std::move(rows.handbook)};
}

storage::Handbook ProfileService::handbook(storage::ReadBatch& rows) const {
  if (!rows.handbook) throw ApiError(ErrorCode::not_found, "No handbook yet");
  return std::move(*rows.handbook);
}

Task<storage::Handbook> ProfileService::put_handbook(Caller& who, storage::Handbook h) {
  h.updated_at = now_unix();
  const int64_t uid = who.user_id;
  storage::Handbook stored;
  co_await db_.run(Access::write, [&](Repository& r) { stored = r.put_handbook(uid, h); });
  co_return stored;
}

Task<storage::SocialLink> ProfileService::add_link(Caller& who, const Link& in) {
  const int64_t uid = who.user_id;
  std::optional<storage::SocialLink> l;
  co_await db_.run(Access::write, [&](Repository& r) {
    l = r.add_link(uid, in.platform, in.url, now_unix(), kMaxLinks);
  });
  if (!l) throw ApiError(ErrorCode::conflict, "At most 50 links per user");
  co_return std::move(*l);
}

Task<storage::SocialLink> ProfileService::update_link(Caller& who, int64_t id, const Link& in) {
  const int64_t uid = who.user_id;
  std::optional<storage::SocialLink> l;
  co_await db_.run(Access::write,
                   [&](Repository& r) { l = r.update_link(uid, id, in.platform, in.url); });
  if (!l) throw ApiError(ErrorCode::not_found, "Link not found");
  co_return std::move(*l);
}

Task<void> ProfileService::remove_link(Caller& who, int64_t id) {
  const int64_t uid = who.user_id;
  bool done = false;
  co_await db_.run(Access::write, [&](Repository& r) { done = r.delete_link(uid, id); });
  if (!done) throw ApiError(ErrorCode::not_found, "Link not found");
}

}  // namespace sr::services
