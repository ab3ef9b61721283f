// The two-step sign-in's part of SqliteRepository (SPEC 13, migration 4). Every write runs on
// the one writer connection, so a conditional UPDATE (or BEGIN IMMEDIATE ... COMMIT) is all
// the atomicity the single-use rules need.
#include "storage/sqlite/sqlite_repository.hpp"

namespace sr::storage::sqlite {

namespace {

#define CHALLENGE_COLS \
  "token_hash, user_id, password_binding, created_at, expires_at, attempts, spent_at"

MfaChallenge read_challenge(const Query& q) {
  return MfaChallenge{q.blob(0), q.i64(1), q.blob(2), q.i64(3), q.i64(4), q.i64(5), q.opt_i64(6)};
}

std::optional<std::string> opt_blob(const Query& q, int col) {
  if (q.is_null(col)) return std::nullopt;
  return q.blob(col);
}

}  // namespace

std::optional<TotpState> SqliteRepository::get_totp(int64_t user_id) {
  Query q(db_,
          "SELECT secret, pending, last_step, enabled_at, "
          "(SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL) "
          "FROM user_totp WHERE user_id = ?1");
  q.bind(user_id);
  if (!q.step()) return std::nullopt;
  return TotpState{opt_blob(q, 0), opt_blob(q, 1), q.i64(2), q.opt_i64(3), q.i64(4)};
}

bool SqliteRepository::set_totp_pending(int64_t user_id, const std::string& sealed, int64_t now) {
  Query q(db_,
          "INSERT INTO user_totp (user_id, pending, updated_at) VALUES (?, ?, ?) "
          "ON CONFLICT (user_id) DO UPDATE SET pending = excluded.pending, "
          "updated_at = excluded.updated_at WHERE user_totp.secret IS NULL");
  q.bind(user_id).bind_blob(sealed).bind(now).run();
  return q.changes() == 1;
}

void SqliteRepository::put_recovery_codes(int64_t user_id,
                                          const std::vector<std::string>& code_hashes,
                                          int64_t now) {
  Query(db_, "DELETE FROM recovery_codes WHERE user_id = ?").bind(user_id).run();
  for (const auto& h : code_hashes) {
    Query(db_, "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)")
        .bind(user_id)
        .bind_blob(h)
        .bind(now)
        .run();
  }
}

std::optional<int64_t> SqliteRepository::enable_totp(int64_t user_id, const std::string& pending,
                                                     int64_t step,
                                                     const std::vector<std::string>& code_hashes,
                                                     const std::string& keep_sid, int64_t now) {
  Tx tx(db_);
  {
    Query q(db_,
            "UPDATE user_totp SET secret = pending, pending = NULL, last_step = ?, "
            "enabled_at = ?, updated_at = ? "
            "WHERE user_id = ? AND secret IS NULL AND pending = ?");
    q.bind(step).bind(now).bind(now).bind(user_id).bind_blob(pending).run();
    if (q.changes() != 1) return std::nullopt;
  }
  put_recovery_codes(user_id, code_hashes, now);
  const int64_t revoked = revoke_user_sessions(user_id, keep_sid, now);
  tx.commit();
  return revoked;
}

bool SqliteRepository::disable_totp(int64_t user_id) {
  Tx tx(db_);
  {
    Query q(db_, "DELETE FROM user_totp WHERE user_id = ? AND secret IS NOT NULL");
    q.bind(user_id).run();
    if (q.changes() != 1) return false;
  }
  Query(db_, "DELETE FROM recovery_codes WHERE user_id = ?").bind(user_id).run();
  Query(db_, "DELETE FROM mfa_challenges WHERE user_id = ?").bind(user_id).run();
  tx.commit();
  return true;
}

bool SqliteRepository::use_second_factor(int64_t user_id, const SecondFactor& f, int64_t now) {
  if (f.totp_step) {
    Query q(db_,
            "UPDATE user_totp SET last_step = ?, updated_at = ? "
            "WHERE user_id = ? AND secret = ? AND last_step < ?");
    q.bind(*f.totp_step).bind(now).bind(user_id).bind_blob(f.sealed_secret).bind(*f.totp_step);
    q.run();
    return q.changes() == 1;
  }
  if (f.recovery_hash.empty()) return false;
  Query q(db_,
          "UPDATE recovery_codes SET used_at = ? "
          "WHERE user_id = ? AND code_hash = ? AND used_at IS NULL");
  q.bind(now).bind(user_id).bind_blob(f.recovery_hash).run();
  return q.changes() == 1;
}

bool SqliteRepository::replace_recovery_codes(int64_t user_id,
                                              const std::vector<std::string>& code_hashes,
                                              int64_t now) {
  Tx tx(db_);
  {
    Query q(db_, "SELECT 1 FROM user_totp WHERE user_id = ? AND secret IS NOT NULL");
    if (!q.bind(user_id).step()) return false;
  }
  put_recovery_codes(user_id, code_hashes, now);
  tx.commit();
  return true;
}

void SqliteRepository::create_mfa_challenge(const MfaChallenge& c) {
  Query(db_, "INSERT INTO mfa_challenges (" CHALLENGE_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?)")
      .bind_blob(c.token_hash)
      .bind(c.user_id)
      .bind_blob(c.password_binding)
      .bind(c.created_at)
      .bind(c.expires_at)
      .bind(c.attempts)
      .bind(c.spent_at)
      .run();
}

std::optional<MfaChallenge> SqliteRepository::claim_mfa_attempt(const std::string& token_hash,
                                                                int64_t now, int64_t max_attempts) {
  Query q(db_,
          "UPDATE mfa_challenges SET attempts = attempts + 1 "
          "WHERE token_hash = ? AND spent_at IS NULL AND expires_at > ? AND attempts < ? "
          "RETURNING " CHALLENGE_COLS);
  q.bind_blob(token_hash).bind(now).bind(max_attempts);
  if (!q.step()) return std::nullopt;
  auto out = read_challenge(q);
  q.run();
  return out;
}

MfaFinish SqliteRepository::finish_mfa(const std::string& token_hash, int64_t user_id,
                                       const SecondFactor& f, int64_t now) {
  Tx tx(db_);
  {
    Query q(db_,
            "UPDATE mfa_challenges SET spent_at = ? "
            "WHERE token_hash = ? AND user_id = ? AND spent_at IS NULL AND expires_at > ?");
    q.bind(now).bind_blob(token_hash).bind(user_id).bind(now).run();
    if (q.changes() != 1) return MfaFinish::challenge_gone;
  }
  if (!use_second_factor(user_id, f, now)) return MfaFinish::code_rejected;  // rolled back
  tx.commit();
  return MfaFinish::ok;
}

}  // namespace sr::storage::sqlite
