// fuzz_pg_record: src/storage/postgres/pg_conn.cpp's Records::parse (a binary record of the joined
// read, as PostgreSQL's record_send writes it) on arbitrary bytes, the way a compromised or
// impersonated database server could answer. It must never crash or read outside the value, and
// must accept exactly what a reference walk, written here with unsigned offsets, accepts, with
// the same fields.
//
// Input: byte 0 is the number of fields expected (0-63), the rest the record value.
#include <cstring>
#include <stdexcept>
#include <vector>

#include "fuzz_common.hpp"
#include "storage/postgres/pg_conn.hpp"

namespace {

using Field = sr::storage::postgres::Records::Field;

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// The reference: false when the value is not a record of `fields` fields filling it exactly.
bool reference(const uint8_t* v, size_t n, int fields, std::vector<Field>& out) {
  if (n < 4 || be32(v) != static_cast<uint32_t>(fields)) return false;
  size_t at = 4;
  for (int c = 0; c < fields; ++c) {
    if (n - at < 8) return false;
    const uint32_t len = be32(v + at + 4);
    at += 8;
    if (len == 0xFFFFFFFFu) {
      out.push_back({nullptr, -1});
      continue;
    }
    if (len > 0x7FFFFFFFu || len > n - at) return false;
    out.push_back({reinterpret_cast<const char*>(v + at), static_cast<int>(len)});
    at += len;
  }
  return at == n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (1u << 20)) return 0;
  const int fields = data[0] & 63;
  // A copy of exactly the value's length, so that ASan sees any read past its end.
  std::vector<uint8_t> value(data + 1, data + size);
  const uint8_t* v = value.empty() ? nullptr : value.data();
  std::vector<Field> got(static_cast<size_t>(fields), Field{nullptr, -2});
  bool ok = true;
  try {
    sr::storage::postgres::Records::parse(reinterpret_cast<const char*>(v),
                                          static_cast<int>(value.size()), fields, got.data());
  } catch (const std::runtime_error&) {
    ok = false;
  }
  std::vector<Field> want;
  const bool ref = reference(v, value.size(), fields, want);
  FUZZ_CHECK(ok == ref);
  if (!ok) return 0;
  for (int c = 0; c < fields; ++c) {
    FUZZ_CHECK(got[c].len == want[c].len);
    if (got[c].len < 0) continue;
    FUZZ_CHECK(got[c].p == want[c].p);
    FUZZ_CHECK(got[c].p >= reinterpret_cast<const char*>(v) &&
               got[c].p + got[c].len <= reinterpret_cast<const char*>(v) + value.size());
  }
  // NULL (-1) is the only negative length a field can come back with.
  for (int c = 0; c < fields; ++c) FUZZ_CHECK(got[c].len >= -1);
  return 0;
}
