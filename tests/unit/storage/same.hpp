// Field-by-field comparisons of the storage structs (they have no operator==), shared by the
// storage tests.
#pragma once
#include <gtest/gtest.h>

#include <vector>

#include "storage/repository.hpp"

namespace sr::storage::test {

inline void expect_same(const Session& a, const Session& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.refresh_jti, b.refresh_jti);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.last_used_at, b.last_used_at);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.revoked_at, b.revoked_at);
  EXPECT_EQ(a.user_agent, b.user_agent);
  EXPECT_EQ(a.ip, b.ip);
  EXPECT_EQ(a.vault_epoch, b.vault_epoch);
}
inline void expect_same(const User& a, const User& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.username, b.username);
  EXPECT_EQ(a.email, b.email);
  EXPECT_EQ(a.password_hash, b.password_hash);
  EXPECT_EQ(a.created_at, b.created_at);
}
inline void expect_same(const Handbook& a, const Handbook& b) {
  EXPECT_EQ(a.full_name, b.full_name);
  EXPECT_EQ(a.age, b.age);
  EXPECT_EQ(a.phone, b.phone);
  EXPECT_EQ(a.address, b.address);
  EXPECT_EQ(a.bio, b.bio);
  EXPECT_EQ(a.updated_at, b.updated_at);
}
inline void expect_same(const SocialLink& a, const SocialLink& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.platform, b.platform);
  EXPECT_EQ(a.url, b.url);
  EXPECT_EQ(a.created_at, b.created_at);
}
inline void expect_same(const VaultKey& a, const VaultKey& b) {
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.kdf_salt, b.kdf_salt);
  EXPECT_EQ(a.kdf_mem_kib, b.kdf_mem_kib);
  EXPECT_EQ(a.kdf_passes, b.kdf_passes);
  EXPECT_EQ(a.wrapped_key, b.wrapped_key);
  EXPECT_EQ(a.generation, b.generation);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.index_version, b.index_version);
}
inline void expect_same(const VaultEntry& a, const VaultEntry& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.ciphertext, b.ciphertext);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
}
inline void expect_same(const VaultIndexChunk& a, const VaultIndexChunk& b) {
  EXPECT_EQ(a.chunk, b.chunk);
  EXPECT_EQ(a.ciphertext, b.ciphertext);
}
template <class T>
void expect_same(const std::vector<T>& a, const std::vector<T>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) expect_same(a[i], b[i]);
}

}  // namespace sr::storage::test
