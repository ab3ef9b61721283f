// The vault's cryptography (libsodium only):
//  - envelope: a random 256-bit data key per user, wrapped with XChaCha20-Poly1305 under a key
//    derived from the vault password with Argon2id (16-byte random salt; cost stored beside the
//    wrapped key); associated data = format version + user id. A wrong password = failed unwrap.
//  - entries: XChaCha20-Poly1305 under the data key, associated data = version + user id + entry
//  id.
//  - list index chunks: the same under the data key, associated data = context + version + user
//    id + chunk number.
//  - vault session tokens: sealed (XChaCha20-Poly1305 under vault_session_key), base64url, carrying
//    user id, auth session id, the data key, unlock time, expiry, key generation and session epoch.
// Blob formats are versioned (first byte) so they can evolve.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "auth/password.hpp"
#include "util/secret.hpp"

namespace sr::vault {

struct Wrapped {
  std::string salt;  // 16 bytes
  int64_t mem_kib = 0, passes = 0;
  std::string blob;  // version || nonce(24) || ciphertext+tag
};

SecretBytes new_data_key();  // 32 random bytes
// Slow (Argon2id): run on the HashPool.
Wrapped wrap_data_key(const SecretBytes& data_key, const SecretString& vault_password,
                      int64_t user_id, const auth::Argon2Params& p);
// nullopt when the password is wrong or anything was tampered with. Slow: run on the HashPool.
std::optional<SecretBytes> unwrap_data_key(const Wrapped& w, const SecretString& vault_password,
                                           int64_t user_id);

// A sealed entry is its plaintext and this many bytes (version, nonce, tag): the vault size
// bound (SPEC 14) counts plaintexts from the stored rows' lengths.
inline constexpr int64_t kEntryOverhead = 1 + 24 + 16;
std::string seal_entry(const SecretBytes& data_key, int64_t user_id, int64_t entry_id,
                       std::string_view plaintext);
// nullopt on any tampering or wrong binding. The plaintext is returned in a self-wiping buffer.
std::optional<SecretBytes> open_entry(const SecretBytes& data_key, int64_t user_id,
                                      int64_t entry_id, std::string_view blob);

// List index chunks (vault/index.hpp): XChaCha20-Poly1305 under the data key, associated data =
// "strongroom-vault-index" + version + user id + chunk number, so a chunk cannot be read back as
// another user's, as another chunk, or as an entry (and an entry not as a chunk).
std::string seal_index_chunk(const SecretBytes& data_key, int64_t user_id, int64_t chunk,
                             std::string_view plaintext);
std::optional<SecretBytes> open_index_chunk(const SecretBytes& data_key, int64_t user_id,
                                            int64_t chunk, std::string_view blob);
// For a list that opens chunks straight into its response: the plaintext size of a chunk blob
// (nullopt: not a chunk blob), and open_index_chunk writing to out, which has room for it.
// When the blob is not authentic, out holds no plaintext (libsodium checks the tag first).
std::optional<std::size_t> index_chunk_plaintext_size(std::string_view blob);
bool open_index_chunk_into(const SecretBytes& data_key, int64_t user_id, int64_t chunk,
                           std::string_view blob, char* out);

struct VaultSession {
  int64_t user_id = 0;
  std::string sid;
  SecretBytes data_key;
  int64_t unlocked_at = 0;  // absolute cap = unlocked_at + max ttl
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  int64_t key_generation = 0;  // vault_keys.generation at unlock
  int64_t epoch = 0;           // sessions.vault_epoch at unlock
};
std::string seal_session(const VaultSession& s, const SecretBytes& server_key);
// nullopt when malformed, tampered or sealed under another key (expiry is the caller's check).
std::optional<VaultSession> open_session(std::string_view token, const SecretBytes& server_key);

}  // namespace sr::vault
