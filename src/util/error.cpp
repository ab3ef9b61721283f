#include "util/error.hpp"

namespace sr {

const char* code_name(ErrorCode c) noexcept {
  switch (c) {
    case ErrorCode::validation_failed:
      return "validation_failed";
    case ErrorCode::invalid_json:
      return "invalid_json";
    case ErrorCode::unsupported_media_type:
      return "unsupported_media_type";
    case ErrorCode::payload_too_large:
      return "payload_too_large";
    case ErrorCode::invalid_credentials:
      return "invalid_credentials";
    case ErrorCode::unauthorized:
      return "unauthorized";
    case ErrorCode::token_expired:
      return "token_expired";
    case ErrorCode::token_revoked:
      return "token_revoked";
    case ErrorCode::token_reused:
      return "token_reused";
    case ErrorCode::csrf_failed:
      return "csrf_failed";
    case ErrorCode::forbidden:
      return "forbidden";
    case ErrorCode::vault_locked:
      return "vault_locked";
    case ErrorCode::vault_not_initialized:
      return "vault_not_initialized";
    case ErrorCode::invalid_vault_password:
      return "invalid_vault_password";
    case ErrorCode::invalid_code:
      return "invalid_code";
    case ErrorCode::not_found:
      return "not_found";
    case ErrorCode::method_not_allowed:
      return "method_not_allowed";
    case ErrorCode::conflict:
      return "conflict";
    case ErrorCode::rate_limited:
      return "rate_limited";
    case ErrorCode::unavailable:
      return "unavailable";
    case ErrorCode::internal:
      return "internal";
    case ErrorCode::header_too_large:
      return "payload_too_large";  // 431 shares the code
  }
  return "internal";
}

int code_status(ErrorCode c) noexcept {
  switch (c) {
    case ErrorCode::validation_failed:
    case ErrorCode::invalid_json:
      return 400;
    case ErrorCode::unsupported_media_type:
      return 415;
    case ErrorCode::payload_too_large:
      return 413;
    case ErrorCode::invalid_credentials:
    case ErrorCode::unauthorized:
    case ErrorCode::token_expired:
    case ErrorCode::token_revoked:
    case ErrorCode::token_reused:
    case ErrorCode::invalid_vault_password:
    case ErrorCode::invalid_code:
      return 401;
    case ErrorCode::csrf_failed:
    case ErrorCode::forbidden:
    case ErrorCode::vault_locked:
      return 403;
    case ErrorCode::vault_not_initialized:
    case ErrorCode::conflict:
      return 409;
    case ErrorCode::not_found:
      return 404;
    case ErrorCode::method_not_allowed:
      return 405;
    case ErrorCode::rate_limited:
      return 429;
    case ErrorCode::unavailable:
      return 503;
    case ErrorCode::header_too_large:
      return 431;
    case ErrorCode::internal:
      return 500;
  }
  return 500;
}

void fail_field(std::string field, std::string message) {
  throw ApiError(ErrorCode::validation_failed, "Validation failed",
                 {{std::move(field), std::move(message)}});
}

}  // namespace sr
