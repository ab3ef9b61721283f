// fuzz_vault_token: src/vault/crypto.cpp on arbitrary bytes -- open_session(), open_entry(),
// unwrap_data_key() (tiny Argon2id cost only, and only when the blob has the right shape, to stay
// fast), open_index_chunk() -- and src/vault/index.cpp's parse_index_chunk() must never crash;
// what is sealed opens again, and a sealed value with one flipped bit, another key or another
// binding never opens; a chunk plaintext that parses encodes back to the same bytes.
//
// Input: byte 0 selects the mode.
#include <sodium.h>

#include <cstring>

#include "fuzz_common.hpp"
#include "util/encoding.hpp"
#include "vault/crypto.hpp"
#include "vault/index.hpp"

namespace {

using sr::SecretBytes;

const SecretBytes& server_key() {
  static const SecretBytes k = SecretBytes::from_view(std::string(32, 'S'));
  return k;
}
const SecretBytes& other_key() {
  static const SecretBytes k = SecretBytes::from_view(std::string(32, 'T'));
  return k;
}
const SecretBytes& data_key() {
  static const SecretBytes k = SecretBytes::from_view(std::string(32, 'D'));
  return k;
}
constexpr int64_t kUser = 42, kEntry = 7;
constexpr char kVaultPassword[] = "vault password for fuzzing";

// A data key wrapped at the smallest Argon2id cost libsodium allows (8 KiB, 1 pass).
const sr::vault::Wrapped& tiny_wrapped() {
  static const sr::vault::Wrapped w = sr::vault::wrap_data_key(
      data_key(), SecretBytes::from_view(kVaultPassword), kUser, sr::auth::Argon2Params{8, 1});
  return w;
}

bool same(const sr::vault::VaultSession& a, const sr::vault::VaultSession& b) {
  return a.user_id == b.user_id && a.sid == b.sid && a.data_key.equals(b.data_key) &&
         a.unlocked_at == b.unlocked_at && a.issued_at == b.issued_at &&
         a.expires_at == b.expires_at && a.key_generation == b.key_generation && a.epoch == b.epoch;
}

void check_opened(const sr::vault::VaultSession& s) {
  FUZZ_CHECK(s.data_key.size() == 32);
  FUZZ_CHECK(s.sid.size() <= 256);
}

void run_open_session(std::string_view token) {
  auto s = sr::vault::open_session(token, server_key());
  if (s) {
    check_opened(*s);
    // What opened re-seals and opens to the same value.
    auto again = sr::vault::open_session(sr::vault::seal_session(*s, server_key()), server_key());
    FUZZ_CHECK(again && same(*s, *again));
  }
  FUZZ_CHECK(!sr::vault::open_session(token, other_key()).has_value() || !s);
}

void run_session_roundtrip(FuzzedDataProvider& fdp) {
  sr::vault::VaultSession s;
  s.user_id = fdp.ConsumeIntegral<int64_t>();
  s.sid = fdp.ConsumeRandomLengthString(256);
  s.unlocked_at = fdp.ConsumeIntegral<int64_t>();
  s.issued_at = fdp.ConsumeIntegral<int64_t>();
  s.expires_at = fdp.ConsumeIntegral<int64_t>();
  s.key_generation = fdp.ConsumeIntegral<int64_t>();
  s.epoch = fdp.ConsumeIntegral<int64_t>();
  s.data_key = data_key();
  const size_t pos = fdp.ConsumeIntegral<size_t>();
  const uint8_t bit = 1u << fdp.ConsumeIntegralInRange<int>(0, 7);

  const std::string token = sr::vault::seal_session(s, server_key());
  auto opened = sr::vault::open_session(token, server_key());
  FUZZ_CHECK(opened && same(s, *opened));
  FUZZ_CHECK(!sr::vault::open_session(token, other_key()));

  // One flipped bit of the sealed bytes (re-encoded, so it reaches the AEAD): never opens.
  auto raw = sr::base64url_decode(token);
  FUZZ_CHECK(raw.has_value());
  std::string bad = *raw;
  bad[pos % bad.size()] = static_cast<char>(bad[pos % bad.size()] ^ bit);
  FUZZ_CHECK(!sr::vault::open_session(sr::base64url_encode(bad), server_key()));
  // One changed character of the token text: never opens.
  std::string bad_text = token;
  bad_text[pos % bad_text.size()] = static_cast<char>(bad_text[pos % bad_text.size()] ^ bit);
  FUZZ_CHECK(!sr::vault::open_session(bad_text, server_key()));
  // Truncated by one byte: never opens.
  std::string shorter = raw->substr(0, raw->size() - 1);
  FUZZ_CHECK(!sr::vault::open_session(sr::base64url_encode(shorter), server_key()));
}

void run_open_entry(std::string_view blob) {
  auto p = sr::vault::open_entry(data_key(), kUser, kEntry, blob);
  if (p) {
    // Only a genuine blob (from the corpus) can open; it must not open under another binding.
    FUZZ_CHECK(!sr::vault::open_entry(data_key(), kUser, kEntry + 1, blob));
    FUZZ_CHECK(!sr::vault::open_entry(data_key(), kUser + 1, kEntry, blob));
    FUZZ_CHECK(p->size() + 1 + 24 + 16 == blob.size());
  }
}

void run_entry_roundtrip(FuzzedDataProvider& fdp) {
  const int64_t user = fdp.ConsumeIntegral<int64_t>();
  const int64_t entry = fdp.ConsumeIntegral<int64_t>();
  const size_t pos = fdp.ConsumeIntegral<size_t>();
  const uint8_t bit = 1u << fdp.ConsumeIntegralInRange<int>(0, 7);
  const std::string plain = fdp.ConsumeRemainingBytesAsString();
  const std::string blob = sr::vault::seal_entry(data_key(), user, entry, plain);
  auto opened = sr::vault::open_entry(data_key(), user, entry, blob);
  FUZZ_CHECK(opened && opened->view() == plain);
  FUZZ_CHECK(!sr::vault::open_entry(data_key(), user, entry ^ 1, blob));
  FUZZ_CHECK(!sr::vault::open_entry(data_key(), user ^ 1, entry, blob));
  std::string bad = blob;
  bad[pos % bad.size()] = static_cast<char>(bad[pos % bad.size()] ^ bit);
  FUZZ_CHECK(!sr::vault::open_entry(data_key(), user, entry, bad));
  FUZZ_CHECK(!sr::vault::open_entry(data_key(), user, entry, blob.substr(0, blob.size() - 1)));
}

void run_unwrap(FuzzedDataProvider& fdp) {
  sr::vault::Wrapped w = tiny_wrapped();
  const int what = fdp.ConsumeIntegralInRange<int>(0, 3);
  std::string password = kVaultPassword;
  bool genuine = true;
  switch (what) {
    case 0:  // fuzzed password
      password = fdp.ConsumeRandomLengthString(64);
      genuine = password == kVaultPassword;
      break;
    case 1: {  // one flipped bit in the blob or the salt
      const size_t pos = fdp.ConsumeIntegral<size_t>();
      const uint8_t bit = 1u << fdp.ConsumeIntegralInRange<int>(0, 7);
      std::string& target = fdp.ConsumeBool() ? w.blob : w.salt;
      target[pos % target.size()] = static_cast<char>(target[pos % target.size()] ^ bit);
      genuine = false;
      break;
    }
    case 2:  // arbitrary blob / salt; cost stays tiny
      w.blob = fdp.ConsumeRandomLengthString(100);
      w.salt = fdp.ConsumeRandomLengthString(20);
      genuine = w.blob == tiny_wrapped().blob && w.salt == tiny_wrapped().salt;
      break;
    case 3: {  // arbitrary cost: only the cheap ones are computed, the rest must be refused
      w.mem_kib = fdp.ConsumeIntegral<int64_t>();
      w.passes = fdp.ConsumeIntegral<int64_t>();
      if (w.mem_kib >= 8 && w.mem_kib <= 64 && w.passes >= 1 && w.passes <= 2) {
        genuine = w.mem_kib == 8 && w.passes == 1;
      } else if (w.mem_kib < 8 || w.passes < 1 || w.mem_kib > (int64_t{1} << 20) || w.passes > 64) {
        // Out of the bounds of crypto.cpp: refused without any work.
        FUZZ_CHECK(!sr::vault::unwrap_data_key(w, SecretBytes::from_view(password), kUser));
        return;
      } else {
        return;  // valid but expensive: not computed here
      }
      break;
    }
  }
  // Shape prefilter: anything but version || nonce || 32-byte key + tag fails before Argon2id.
  auto r = sr::vault::unwrap_data_key(w, SecretBytes::from_view(password), kUser);
  FUZZ_CHECK(r.has_value() == genuine);
  if (r) FUZZ_CHECK(r->equals(data_key()));
}

void run_parse_chunk(std::string_view plain) {
  auto v = sr::vault::parse_index_chunk(plain);
  if (!v) return;
  // Every item lies inside the region, ids ascend, and the encoding is canonical.
  int64_t prev = 0;
  for (const auto& it : v->items) {
    FUZZ_CHECK(it.id > prev && !it.json.empty());
    FUZZ_CHECK(it.json.data() >= v->region.data() &&
               it.json.data() + it.json.size() <= v->region.data() + v->region.size());
    prev = it.id;
  }
  FUZZ_CHECK(sr::vault::encode_index_chunk(v->items).view() == plain);
}

void run_chunk_roundtrip(FuzzedDataProvider& fdp) {
  const int64_t user = fdp.ConsumeIntegral<int64_t>();
  const int64_t chunk = fdp.ConsumeIntegral<int64_t>();
  const size_t pos = fdp.ConsumeIntegral<size_t>();
  const uint8_t bit = 1u << fdp.ConsumeIntegralInRange<int>(0, 7);
  const std::string plain = fdp.ConsumeRemainingBytesAsString();
  const std::string blob = sr::vault::seal_index_chunk(data_key(), user, chunk, plain);
  auto opened = sr::vault::open_index_chunk(data_key(), user, chunk, blob);
  FUZZ_CHECK(opened && opened->view() == plain);
  FUZZ_CHECK(sr::vault::index_chunk_plaintext_size(blob) == plain.size());
  FUZZ_CHECK(!sr::vault::open_index_chunk(data_key(), user, chunk ^ 1, blob));
  FUZZ_CHECK(!sr::vault::open_index_chunk(data_key(), user ^ 1, chunk, blob));
  FUZZ_CHECK(!sr::vault::open_entry(data_key(), user, chunk, blob));  // not an entry
  std::string bad = blob;
  bad[pos % bad.size()] = static_cast<char>(bad[pos % bad.size()] ^ bit);
  FUZZ_CHECK(!sr::vault::open_index_chunk(data_key(), user, chunk, bad));
  // Opened in place: a forged blob leaves no plaintext behind (the buffer starts as the
  // plaintext's complement, so it equals the plaintext only if plaintext was written).
  std::string out(plain.size(), '\0');
  for (size_t i = 0; i < plain.size(); ++i) out[i] = static_cast<char>(~plain[i]);
  FUZZ_CHECK(!sr::vault::open_index_chunk_into(data_key(), user, chunk, bad, out.data()));
  FUZZ_CHECK(plain.empty() || plain.find_first_not_of('\0') == std::string::npos || out != plain);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (sodium_init() < 0) std::abort();
  (void)tiny_wrapped();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 8192) return 0;
  std::string_view rest = sr::fuzz::as_view(data + 1, size - 1);
  FuzzedDataProvider fdp(data + 1, size - 1);
  switch (data[0] % 7) {
    case 0:
      run_open_session(rest);
      break;
    case 1:
      run_session_roundtrip(fdp);
      break;
    case 2:
      run_open_entry(rest);
      break;
    case 3:
      run_entry_roundtrip(fdp);
      break;
    case 4:
      run_unwrap(fdp);
      break;
    case 5:
      run_parse_chunk(rest);
      break;
    case 6:
      run_chunk_roundtrip(fdp);
      break;
  }
  return 0;
}
