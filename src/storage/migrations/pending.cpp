#include <algorithm>
#include <stdexcept>
#include <string>

#include "storage/migrations/migrations.hpp"

namespace sr::storage::migrations {

std::vector<const Migration*> pending(std::span<const Migration> all,
                                      const std::vector<int64_t>& applied) {
  const int64_t latest = all.empty() ? 0 : all.back().version;
  const int64_t current = applied.empty() ? 0 : *std::max_element(applied.begin(), applied.end());
  if (current > latest)
    throw std::runtime_error("database schema version " + std::to_string(current) +
                             " is newer than this binary supports (" + std::to_string(latest) +
                             "); refusing to use it: upgrade strongroom");
  std::vector<const Migration*> out;
  for (const auto& m : all)
    if (std::find(applied.begin(), applied.end(), m.version) == applied.end()) out.push_back(&m);
  return out;
}

}  // namespace sr::storage::migrations
