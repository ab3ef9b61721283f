// libpq is loaded with dlopen() when a PostgreSQL URL is first used, not linked: a strongroom that
// runs on SQLite never maps it. libpq.so.5 brings some twenty libraries with it (OpenLDAP, GnuTLS,
// p11-kit, Kerberos, SASL, ...) whose pages and start-up constructors cost an idle server about
// 3 MiB of resident memory (docs/benchmarks.md, "Idle memory").
//
// The code of src/storage calls libpq only through libpq().PQ...(): the table has one member per
// function, with the type of libpq-fe.h's declaration, so every call is still type-checked; a
// function not in the list cannot be called by mistake (the binary does not link libpq, so the
// link would fail).
#pragma once
#include <libpq-fe.h>

#include <atomic>
#include <string>

namespace sr::storage::postgres {

// clang-format off
#define SR_LIBPQ_FUNCTIONS(X)                                                                     \
  X(PQclear) X(PQcmdTuples) X(PQconnectPoll) X(PQconnectStartParams) X(PQconninfoFree)            \
  X(PQconninfoParse) X(PQconsumeInput) X(PQenterPipelineMode) X(PQerrorMessage)                   \
  X(PQexitPipelineMode) X(PQfinish) X(PQflush) X(PQfreemem) X(PQgetResult) X(PQgetisnull)         \
  X(PQgetlength) X(PQgetvalue) X(PQisBusy) X(PQntuples) X(PQpipelineSync) X(PQresultErrorField)   \
  X(PQresultStatus) X(PQsendPrepare) X(PQsendQuery) X(PQsendQueryPrepared)                        \
  X(PQsetNoticeProcessor) X(PQsetnonblocking) X(PQsocket) X(PQstatus) X(PQtransactionStatus)
// clang-format on

struct Libpq {
#define SR_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
  SR_LIBPQ_FUNCTIONS(SR_LIBPQ_MEMBER)
#undef SR_LIBPQ_MEMBER
};

// The library's SONAME: the name Debian's libpq5 package installs and the dynamic linker would have
// looked up had the binary been linked against it (same search path, LD_LIBRARY_PATH included).
inline constexpr const char* kLibpqName = "libpq.so.5";

// libpq's functions, loaded on the first call (thread-safe; a failed load is tried again by the
// next call). Throws std::runtime_error("postgresql: cannot load libpq.so.5 (<dlerror>) ...") if
// the library is missing or lacks one of the functions (a libpq older than 14 has no pipeline
// mode). The library stays loaded until the process exits. Inline: a PostgreSQL read makes some
// twenty calls through it, and out of line each paid a call and a stack check (≈ 340 instructions
// per /personal/me, callgrind).
Libpq load_libpq(const char* file);  // the same for a given file name, loaded afresh (tests)
extern std::atomic<const Libpq*> loaded_libpq;  // set once the table is complete
const Libpq& load_default_libpq();
inline const Libpq& libpq() {
  if (const Libpq* l = loaded_libpq.load(std::memory_order_acquire)) return *l;
  return load_default_libpq();
}

}  // namespace sr::storage::postgres
