// Typed errors. Services throw ApiError; the HTTP layer maps it to the SPEC error body in exactly
// one place (http/errors.cpp). Messages are for humans and must never carry secrets or internals.
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sr {

enum class ErrorCode {
  validation_failed,
  invalid_json,
  unsupported_media_type,
  payload_too_large,
  invalid_credentials,
  unauthorized,
  token_expired,
  token_revoked,
  token_reused,
  csrf_failed,
  forbidden,
  vault_locked,
  vault_not_initialized,
  invalid_vault_password,
  invalid_code,  // a wrong, replayed or spent second-factor code (SPEC 13)
  not_found,
  method_not_allowed,
  conflict,
  rate_limited,
  unavailable,
  internal,
  header_too_large,  // 431 Request Header Fields Too Large; code string "payload_too_large"
};

// The machine code string of SPEC section 2.
const char* code_name(ErrorCode c) noexcept;
// The HTTP status of SPEC section 2.
int code_status(ErrorCode c) noexcept;

using FieldErrors = std::vector<std::pair<std::string, std::string>>;

class ApiError : public std::runtime_error {
 public:
  ApiError(ErrorCode code, std::string message, FieldErrors fields = {})
      : std::runtime_error(message), code_(code), fields_(std::move(fields)) {}
  ErrorCode code() const noexcept { return code_; }
  const FieldErrors& fields() const noexcept { return fields_; }
  // Seconds for Retry-After (429, 503).
  std::optional<long> retry_after;
  // Extra response headers (e.g. RateLimit-*), added by whoever raised the error.
  std::vector<std::pair<std::string, std::string>> headers;

 private:
  ErrorCode code_;
  FieldErrors fields_;
};

// A single field error: throws ApiError(validation_failed) naming the field.
[[noreturn]] void fail_field(std::string field, std::string message);

// Raised by storage when the database cannot be reached or times out: maps to 503 `unavailable`.
class UnavailableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Raised by storage on a uniqueness violation (e.g. username or email taken).
class ConflictError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sr
