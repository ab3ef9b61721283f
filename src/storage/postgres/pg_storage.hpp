#pragma once
#include <memory>
#include <string>

#include "storage/repository.hpp"

namespace sr::storage::postgres {

// A pool of opts.pool_size worker threads, each owning one connection (opened lazily, reopened
// after a failure). Does not connect here: a database that is down at open time makes run()
// throw UnavailableError until it is back.
std::unique_ptr<Storage> open(const std::string& conninfo, const StorageOptions& opts);

}  // namespace sr::storage::postgres
