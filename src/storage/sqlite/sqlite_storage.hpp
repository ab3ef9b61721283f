#pragma once
#include <memory>
#include <string>

#include "storage/repository.hpp"

namespace sr::storage::sqlite {

// Opens (creating if needed) the database file at `path`: missing directories are created 0700,
// the file and its -wal/-shm 0600. Throws std::runtime_error when it cannot.
std::unique_ptr<Storage> open(const std::string& path, const StorageOptions& opts);

}  // namespace sr::storage::sqlite
