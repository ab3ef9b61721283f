// The profile (SPEC 5: /personal/me, the handbook) and social links (SPEC 6). The reads of a GET
// arrive as rows that the request gate read together with the caller's session (one trip); the
// functions that take them apply the rules to what was read.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "services/caller.hpp"
#include "storage/repository.hpp"

namespace sr::services {

struct Me {
  storage::User user;
  std::optional<storage::Handbook> handbook;
};

struct Link {
  std::string platform, url;  // validated (SPEC 6)
};

class ProfileService {
 public:
  explicit ProfileService(storage::Storage& db) : db_(db) {}

  // From rows holding the user and the handbook. token_revoked when the user is gone.
  Me me(storage::ReadBatch& rows) const;
  // From rows holding the handbook; not_found when it was never set.
  storage::Handbook handbook(storage::ReadBatch& rows) const;
  // Replaces the caller's handbook (absent fields are cleared); what is stored now.
  Task<storage::Handbook> put_handbook(Caller& who, storage::Handbook h);

  // At most kMaxLinks per user (conflict beyond).
  static constexpr int64_t kMaxLinks = 50;
  Task<storage::SocialLink> add_link(Caller& who, const Link& in);
  // not_found unless the link is the caller's.
  Task<storage::SocialLink> update_link(Caller& who, int64_t id, const Link& in);
  Task<void> remove_link(Caller& who, int64_t id);

 private:
  storage::Storage& db_;
};

}  // namespace sr::services
