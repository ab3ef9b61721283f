// The two-step sign-in's part of PgRepository (SPEC 13, migration 4). The single-use rules are
// conditional UPDATEs: under READ COMMITTED the second of two concurrent updates of one row waits
// for the first, re-checks its WHERE on the new row version and updates nothing, so of two
// instances spending one code, attempt or challenge at most one succeeds.
//
// Lock order, the same in every transaction here, so that none can deadlock another:
// mfa_challenges, then user_totp, then recovery_codes, then sessions.
#include "storage/postgres/pg_repository.hpp"

namespace sr::storage::postgres {

namespace {

#define CHALLENGE_COLS \
  "token_hash, user_id, password_binding, created_at, expires_at, attempts, spent_at"

constexpr char kBeginTx[] = "BEGIN";
// The two ways of spending a factor (use_second_factor, finish_mfa).
constexpr char kUseStep[] =
    "UPDATE user_totp SET last_step = $1, updated_at = $2 "
    "WHERE user_id = $3 AND secret = $4 AND last_step < $1";
constexpr char kUseCode[] =
    "UPDATE recovery_codes SET used_at = $1 "
    "WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL";

MfaChallenge read_challenge(const Result& r, int i) {
  return MfaChallenge{r.bytes(i, 0), r.i64(i, 1), r.bytes(i, 2),  r.i64(i, 3),
                      r.i64(i, 4),   r.i64(i, 5), r.opt_i64(i, 6)};
}

bool well_formed(const SecondFactor& f) {
  return f.totp_step || !f.recovery_hash.empty();
}

// Adds the statement that spends f to b.
void add_factor(Batch& b, int64_t user_id, const SecondFactor& f, int64_t now) {
  if (f.totp_step)
    b.add(kUseStep).i(*f.totp_step).i(now).i(user_id).b(f.sealed_secret);
  else
    b.add(kUseCode).i(now).i(user_id).b(f.recovery_hash);
}

}  // namespace

std::optional<TotpState> PgRepository::get_totp(int64_t user_id) {
  auto r = l_.exec(
      "SELECT secret, pending, last_step, enabled_at, "
      "(SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL) "
      "FROM user_totp WHERE user_id = $1",
      Params().i(user_id));
  if (r.rows() == 0) return std::nullopt;
  return TotpState{r.opt_bytes(0, 0), r.opt_bytes(0, 1), r.i64(0, 2), r.opt_i64(0, 3), r.i64(0, 4)};
}

bool PgRepository::set_totp_pending(int64_t user_id, const std::string& sealed, int64_t now) {
  return l_.exec(
               "INSERT INTO user_totp (user_id, pending, updated_at) VALUES ($1, $2, $3) "
               "ON CONFLICT (user_id) DO UPDATE SET pending = excluded.pending, "
               "updated_at = excluded.updated_at WHERE user_totp.secret IS NULL",
               Params().i(user_id).b(sealed).i(now))
             .affected() == 1;
}

void PgRepository::put_recovery_codes(int64_t user_id, const std::vector<std::string>& code_hashes,
                                      int64_t now) {
  Batch b;  // inside the caller's transaction: one round trip for the whole set
  b.add("DELETE FROM recovery_codes WHERE user_id = $1").i(user_id);
  for (const auto& h : code_hashes) {
    b.add("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
        .i(user_id)
        .b(h)
        .i(now);
  }
  tx_conn().pipeline(b);
}

std::optional<int64_t> PgRepository::enable_totp(int64_t user_id, const std::string& pending,
                                                 int64_t step,
                                                 const std::vector<std::string>& code_hashes,
                                                 const std::string& keep_sid, int64_t now) {
  Conn& c = tx_conn();
  Tx tx(c);
  if (c.exec("UPDATE user_totp SET secret = pending, pending = NULL, last_step = $1, "
             "enabled_at = $2, updated_at = $2 "
             "WHERE user_id = $3 AND secret IS NULL AND pending = $4",
             Params().i(step).i(now).i(user_id).b(pending))
          .affected() != 1) {
    return std::nullopt;  // rolled back by tx
  }
  put_recovery_codes(user_id, code_hashes, now);
  const int64_t revoked = revoke_user_sessions(user_id, keep_sid, now);
  tx.commit();
  return revoked;
}

bool PgRepository::disable_totp(int64_t user_id) {
  Conn& c = tx_conn();
  Tx tx(c, Tx::adopt);
  Batch b;
  b.add(kBeginTx);
  b.add("DELETE FROM mfa_challenges WHERE user_id = $1").i(user_id);
  b.add("DELETE FROM user_totp WHERE user_id = $1 AND secret IS NOT NULL").i(user_id);
  b.add("DELETE FROM recovery_codes WHERE user_id = $1").i(user_id);
  auto r = c.pipeline(b);
  if (r[2].affected() != 1) return false;  // 2FA was off: rolled back by tx
  tx.commit();
  return true;
}

bool PgRepository::use_second_factor(int64_t user_id, const SecondFactor& f, int64_t now) {
  if (!well_formed(f)) return false;
  Batch b;
  add_factor(b, user_id, f, now);
  return l_.pipeline(b)[0].affected() == 1;
}

bool PgRepository::replace_recovery_codes(int64_t user_id,
                                          const std::vector<std::string>& code_hashes,
                                          int64_t now) {
  Conn& c = tx_conn();
  Tx tx(c);
  // FOR SHARE: a concurrent disable waits for the new set, then deletes it with the secret.
  if (c.exec("SELECT 1 FROM user_totp WHERE user_id = $1 AND secret IS NOT NULL FOR SHARE",
             Params().i(user_id))
          .rows() == 0) {
    return false;
  }
  put_recovery_codes(user_id, code_hashes, now);
  tx.commit();
  return true;
}

void PgRepository::create_mfa_challenge(const MfaChallenge& c) {
  l_.exec("INSERT INTO mfa_challenges (" CHALLENGE_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7)",
          Params()
              .b(c.token_hash)
              .i(c.user_id)
              .b(c.password_binding)
              .i(c.created_at)
              .i(c.expires_at)
              .i(c.attempts)
              .oi(c.spent_at));
}

std::optional<MfaChallenge> PgRepository::claim_mfa_attempt(const std::string& token_hash,
                                                            int64_t now, int64_t max_attempts) {
  auto r = l_.exec(
      "UPDATE mfa_challenges SET attempts = attempts + 1 "
      "WHERE token_hash = $1 AND spent_at IS NULL AND expires_at > $2 AND attempts < $3 "
      "RETURNING " CHALLENGE_COLS,
      Params().b(token_hash).i(now).i(max_attempts));
  if (r.rows() == 0) return std::nullopt;
  return read_challenge(r, 0);
}

MfaFinish PgRepository::finish_mfa(const std::string& token_hash, int64_t user_id,
                                   const SecondFactor& f, int64_t now) {
  if (!well_formed(f)) return MfaFinish::code_rejected;
  // One round trip for both conditional updates, then COMMIT only when both took effect.
  Conn& c = tx_conn();
  Tx tx(c, Tx::adopt);
  Batch b;
  b.add(kBeginTx);
  b.add(
       "UPDATE mfa_challenges SET spent_at = $1 "
       "WHERE token_hash = $2 AND user_id = $3 AND spent_at IS NULL AND expires_at > $1")
      .i(now)
      .b(token_hash)
      .i(user_id);
  add_factor(b, user_id, f, now);
  auto r = c.pipeline(b);
  if (r[1].affected() != 1) return MfaFinish::challenge_gone;  // rolled back by tx
  if (r[2].affected() != 1) return MfaFinish::code_rejected;
  tx.commit();
  return MfaFinish::ok;
}

}  // namespace sr::storage::postgres
