// Versioned schema migrations, compiled into the binary, one list per dialect. A migration is
// never edited once released: a change to the schema is a new entry with the next version.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace sr::storage::migrations {

struct Migration {
  int version;
  const char* description;
  const char* sql;  // constant text, possibly several statements; never built from data
};

std::span<const Migration> sqlite();
std::span<const Migration> postgresql();

// What migrate() applies, in order: every migration of `all` whose version `applied` (what
// schema_migrations records) lacks -- not only those above the highest, so that a database
// migrated by a build that had a later version but not an earlier one (4 before 3) gets the
// earlier one too. Throws std::runtime_error ("... newer than this binary supports ...") when
// `applied` holds a version above the last of `all`.
std::vector<const Migration*> pending(std::span<const Migration> all,
                                      const std::vector<int64_t>& applied);

}  // namespace sr::storage::migrations
