#include "services/passwords.hpp"

#include "util/error.hpp"

namespace sr::services {

Passwords::Passwords(auth::HashPool& pool, auth::Argon2Params argon2, auth::PolicyOptions policy)
    : pool_(pool),
      argon2_(argon2),
      policy_(policy),
      dummy_(auth::hash_password(SecretString::random(32), argon2)) {}

std::optional<std::string> Passwords::problem(std::string_view pw,
                                              std::string_view username) const {
  return auth::check_password_policy(pw, username, policy_);
}

void Passwords::check_new(std::string_view field, std::string_view pw,
                          std::string_view username) const {
  if (auto msg = problem(pw, username)) fail_field(std::string(field), *msg);
}

Task<auth::VerifyResult> Passwords::verify(const SecretString& pw, const std::string& stored) {
  auth::VerifyResult r;
  co_await pool_.run([&] { r = auth::verify_password(pw, stored, argon2_); });
  co_return r;
}

Task<std::string> Passwords::hash(const SecretString& pw) {
  std::string h;
  co_await pool_.run([&] { h = auth::hash_password(pw, argon2_); });
  co_return h;
}

}  // namespace sr::services
