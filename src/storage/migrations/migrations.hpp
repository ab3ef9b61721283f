// Versioned schema migrations, compiled into the binary, one list per dialect. A migration is
// never edited once released: a change to the schema is a new entry with the next version.
#pragma once
#include <span>

namespace sr::storage::migrations {

struct Migration {
  int version;
  const char* description;
  const char* sql;  // constant text, possibly several statements; never built from data
};

std::span<const Migration> sqlite();
std::span<const Migration> postgresql();

}  // namespace sr::storage::migrations
