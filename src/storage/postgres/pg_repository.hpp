#pragma once
#include "storage/postgres/pg_conn.hpp"
#include "storage/repository.hpp"

namespace sr::storage::postgres {

// Statements go through `link`: the job's own connection, or (a read job on a network thread) its
// share of the thread's pipelined read connection. Methods that hold a transaction across round
// trips need a connection of their own (`own`): without one (Access::read on a network thread)
// they throw std::logic_error -- as every write does there, since that connection is read-only.
class PgRepository final : public Repository {
 public:
  explicit PgRepository(Conn& conn) : l_(conn), own_(&conn) {}
  PgRepository(Link& link, Conn* own) : l_(link), own_(own) {}
  Conn& conn() { return tx_conn(); }  // the job's own connection (run_sync, write jobs)
  Link& link() { return l_; }

  // All the queries of the batch in one pipeline (one round trip).
  void read_batch(ReadBatch& b) override;
  // read_batch's two halves, for a read sent without a job (PgStorage::read): the statements for
  // w into q (q points into w's strings: w must outlive the pipeline), and what take_read needs
  // to know of them (0: nothing to read); then their results, in order, into b.
  static unsigned plan_read(const ReadBatch::Want& w, Batch& q);
  static void take_read(ReadBatch& b, unsigned plan, const std::vector<Result>& results);

  void ping() override;
  int64_t create_user(const std::string& username, const std::string& username_norm,
                      const std::string& email, const std::string& password_hash,
                      int64_t now) override;
  std::optional<User> find_user_by_login(const std::string& login_lower) override;
  std::optional<User> find_user(int64_t id) override;
  bool update_password_hash(int64_t user_id, const std::string& expected_hash,
                            const std::string& hash) override;
  int64_t change_password(int64_t user_id, const std::string& hash, const std::string& keep_sid,
                          int64_t now) override;
  bool delete_user(int64_t user_id) override;

  bool create_session(const Session& s, const std::string* verified_hash = nullptr) override;
  std::optional<Session> find_session(const std::string& id) override;
  bool rotate_refresh(const std::string& sid, const std::string& old_jti,
                      const std::string& new_jti, int64_t new_expires_at, int64_t now) override;
  void touch_session(const std::string& sid, int64_t now) override;
  bool revoke_session(const std::string& sid, int64_t now) override;
  int64_t revoke_user_sessions(int64_t user_id, const std::string& except_sid,
                               int64_t now) override;
  std::vector<Session> list_active_sessions(int64_t user_id, int64_t now) override;
  int64_t bump_vault_epoch(const std::string& sid) override;

  void block_token(const std::string& jti, const std::string& sid, int64_t user_id,
                   int64_t expires_at) override;
  bool is_token_blocked(const std::string& jti) override;
  int64_t purge_expired(int64_t now) override;

  std::optional<Handbook> get_handbook(int64_t user_id) override;
  Handbook put_handbook(int64_t user_id, const Handbook& h) override;

  std::vector<SocialLink> list_links(int64_t user_id) override;
  std::optional<SocialLink> add_link(int64_t user_id, const std::string& platform,
                                     const std::string& url, int64_t now, int64_t cap) override;
  std::optional<SocialLink> update_link(int64_t user_id, int64_t id, const std::string& platform,
                                        const std::string& url) override;
  bool delete_link(int64_t user_id, int64_t id) override;

  std::optional<VaultKey> get_vault_key(int64_t user_id) override;
  bool create_vault_key(const VaultKey& k) override;
  bool update_vault_key(const VaultKey& k, int64_t expected_generation) override;

  std::optional<VaultEntry> add_vault_entry(int64_t user_id, int64_t now, int64_t cap,
                                            const std::function<std::string(int64_t id)>& seal,
                                            VaultIndexer* index = nullptr,
                                            const VaultBytes& bytes = {}) override;
  std::vector<VaultEntry> list_vault_entries(int64_t user_id) override;
  std::vector<VaultEntry> list_vault_entries_after(int64_t user_id, int64_t after,
                                                   int64_t limit) override;
  std::optional<VaultEntry> get_vault_entry(int64_t user_id, int64_t id) override;
  std::optional<VaultEntry> update_vault_entry(int64_t user_id, int64_t id,
                                               const std::string& ciphertext, int64_t now,
                                               VaultIndexer* index = nullptr,
                                               const VaultBytes& bytes = {}) override;
  bool delete_vault_entry(int64_t user_id, int64_t id, VaultIndexer* index = nullptr) override;

  std::vector<VaultIndexChunk> list_vault_index(int64_t user_id, int64_t after_chunk,
                                                int64_t limit) override;
  std::optional<std::vector<VaultIndexChunk>> rebuild_vault_index(int64_t user_id,
                                                                  VaultIndexer& index) override;

  std::optional<TotpState> get_totp(int64_t user_id) override;
  bool set_totp_pending(int64_t user_id, const std::string& sealed, int64_t now) override;
  std::optional<int64_t> enable_totp(int64_t user_id, const std::string& pending, int64_t step,
                                     const std::vector<std::string>& code_hashes,
                                     const std::string& keep_sid, int64_t now) override;
  bool disable_totp(int64_t user_id) override;
  bool use_second_factor(int64_t user_id, const SecondFactor& f, int64_t now) override;
  bool replace_recovery_codes(int64_t user_id, const std::vector<std::string>& code_hashes,
                              int64_t now) override;
  void create_mfa_challenge(const MfaChallenge& c) override;
  std::optional<MfaChallenge> claim_mfa_attempt(const std::string& token_hash, int64_t now,
                                                int64_t max_attempts) override;
  MfaFinish finish_mfa(const std::string& token_hash, int64_t user_id, const SecondFactor& f,
                       int64_t now) override;

 private:
  // The second round trip of an update or delete, inside its transaction: the edited chunk (or
  // its deletion, or dropping the index) and COMMIT. lock is kLockIndex's result, chunk
  // kChunkOfEntry's.
  void finish_index_edit(
      int64_t user_id, const Result& lock, const VaultIndexer* index, const Result& chunk,
      const std::function<std::optional<std::string>(const VaultIndexChunk&)>& edit);
  // Inside the caller's transaction: the user's recovery codes become code_hashes.
  void put_recovery_codes(int64_t user_id, const std::vector<std::string>& code_hashes,
                          int64_t now);
  Conn& tx_conn();
  Link& l_;
  Conn* own_;
};

}  // namespace sr::storage::postgres
