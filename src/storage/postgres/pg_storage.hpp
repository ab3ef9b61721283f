#pragma once
#include <memory>
#include <string>

#include "storage/repository.hpp"

namespace sr::storage::postgres {

// run(): the job runs on a fiber of the calling network thread (pg_loop.hpp); run_sync(): on the
// calling thread. Connections are opened lazily and reopened after a failure: a database that is
// down at open time makes run() throw UnavailableError until it is back.
std::unique_ptr<Storage> open(const std::string& conninfo, const StorageOptions& opts);

}  // namespace sr::storage::postgres
