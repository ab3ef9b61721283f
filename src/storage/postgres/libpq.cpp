#include "storage/postgres/libpq.hpp"

#include <dlfcn.h>

#include <stdexcept>

namespace sr::storage::postgres {

namespace {

[[noreturn]] void cannot_load(const char* file, const std::string& why) {
  throw std::runtime_error(std::string("postgresql: cannot load ") + file + " (" + why +
                           "); a PostgreSQL database_url needs libpq 14 or later installed "
                           "(Debian: apt-get install libpq5)");
}

}  // namespace

Libpq load_libpq(const char* file) {
  // RTLD_NOW: a missing symbol of libpq's own dependencies shows here, not in the middle of a
  // request. RTLD_LOCAL: its symbols are not offered to anything loaded later.
  void* h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    cannot_load(file, e ? e : "dlopen failed");
  }
  Libpq api;
#define SR_LIBPQ_LOAD(name)                               \
  if (void* sym = dlsym(h, #name)) {                      \
    api.name = reinterpret_cast<decltype(api.name)>(sym); \
  } else {                                                \
    dlclose(h);                                           \
    cannot_load(file, "it has no " #name);                \
  }
  SR_LIBPQ_FUNCTIONS(SR_LIBPQ_LOAD)
#undef SR_LIBPQ_LOAD
  return api;  // h is never closed: the function pointers point into it
}

std::atomic<const Libpq*> loaded_libpq{nullptr};

const Libpq& load_default_libpq() {
  static const Libpq api = load_libpq(kLibpqName);  // thread-safe; a throw leaves it for a retry
  loaded_libpq.store(&api, std::memory_order_release);
  return api;
}

}  // namespace sr::storage::postgres
