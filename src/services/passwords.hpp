// Password work that the account and vault rules share: hashing and verifying on the bounded hash
// pool (never on a network thread), and the SPEC 4 policy for new passwords.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "auth/hash_pool.hpp"
#include "auth/password.hpp"
#include "auth/policy.hpp"
#include "util/secret.hpp"
#include "util/task.hpp"

namespace sr::services {

class Passwords {
 public:
  // Spends one hash (the dummy below): build it once, at start.
  Passwords(auth::HashPool& pool, auth::Argon2Params argon2, auth::PolicyOptions policy);

  // What is wrong with pw as a new password of username (SPEC 4), or nullopt when it is fine.
  // Never echoes the password.
  std::optional<std::string> problem(std::string_view pw, std::string_view username) const;
  // The same, thrown as validation_failed on `field`.
  void check_new(std::string_view field, std::string_view pw, std::string_view username) const;

  Task<auth::VerifyResult> verify(const SecretString& pw, const std::string& stored);
  Task<std::string> hash(const SecretString& pw);

  // The hash of a random password, checked when a signin names no account, so that it costs one
  // hash like any other (SPEC 4: timing does not tell).
  const std::string& dummy_hash() const noexcept { return dummy_; }
  auth::HashPool& pool() noexcept { return pool_; }
  const auth::Argon2Params& argon2() const noexcept { return argon2_; }

 private:
  auth::HashPool& pool_;
  auth::Argon2Params argon2_;
  auth::PolicyOptions policy_;
  std::string dummy_;
};

}  // namespace sr::services
