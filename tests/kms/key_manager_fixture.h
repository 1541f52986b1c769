// A KeyManager on a real SoftHSM token and a RocksDB directory in the token's
// temp dir, with a pinned clock. Reopen() simulates a restart.
#ifndef STRONGROOM_TESTS_KMS_KEY_MANAGER_FIXTURE_H_
#define STRONGROOM_TESTS_KMS_KEY_MANAGER_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/status_macros.h"
#include "base/testing/status_matchers.h"
#include "hsm-sim/testing/softhsm_token.h"
#include "kms/key_manager.h"

namespace strongroom::kms {

inline const Caller kAdmin{"spiffe://strongroom/admin", Role::kAdmin};
inline const Caller kAdmin2{"spiffe://strongroom/admin2", Role::kAdmin};
inline const Caller kOwner{"spiffe://strongroom/owner1", Role::kOwner};
inline const Caller kOwner2{"spiffe://strongroom/owner2", Role::kOwner};
inline const Caller kAuditor{"spiffe://strongroom/auditor", Role::kAuditor};
inline const Caller kWorkload{"spiffe://strongroom/worker", Role::kWorkload};

class KeyManagerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(token_, hsm_sim::SoftHsmToken::Create("kms-test"));
    pkcs11::HsmOptions options{hsm_sim::SoftHsmToken::SoftHsmModulePath(), token_->label(),
                               {.file = token_->pin_file()}, 8};
    ASSERT_OK_AND_ASSIGN(hsm_, pkcs11::Hsm::Create(options));
    Reopen();
  }
  void TearDown() override {
    km_.reset();
    db_.reset();
    hsm_.reset();
    token_.reset();
  }
  void Reopen() {
    km_.reset();
    db_.reset();
    ASSERT_OK_AND_ASSIGN(db_, storage::Database::Open(db_path(), db_env_));
    KmsOptions options;
    options.default_destroy_wait = absl::Hours(24);
    options.approval_window = absl::Hours(1);
    options.before_commit_for_testing = [this] {
      if (before_commit_) before_commit_();
      if (fail_commits_) return absl::UnavailableError("injected commit failure");
      if (commits_before_one_failure_ >= 0 && commits_before_one_failure_-- == 0) {
        return absl::UnavailableError("injected commit failure");
      }
      return absl::OkStatus();
    };
    options.check_owner = check_owner_;
    options.defer_hsm_intents = defer_hsm_intents_;
    options.system_change_requested = [this](absl::string_view principal, absl::string_view action,
                                             absl::string_view resource) -> absl::Status {
      if (fail_system_requests_) return absl::UnavailableError("injected: audit log unavailable");
      system_changes_.push_back(absl::StrCat("requested ", principal, " ", action, " ", resource));
      return absl::OkStatus();
    };
    options.system_change_applied = [this](absl::string_view principal, absl::string_view action,
                                           absl::string_view resource, absl::string_view detail) {
      system_changes_.push_back(absl::StrCat(principal, " ", action, " ", resource, ": ", detail));
    };
    options.before_compaction_for_testing = [this] {
      return fail_compactions_ ? absl::UnavailableError("injected compaction failure")
                               : absl::OkStatus();
    };
    options.before_seal_for_testing = [this] {
      if (before_seal_) before_seal_();
    };
    ASSERT_OK_AND_ASSIGN(km_, KeyManager::Create(*hsm_, *db_, clock_, options));
  }
  std::string db_path() const { return token_->dir() + "/db"; }
  size_t CountRecords(absl::string_view prefix) {
    size_t n = 0;
    EXPECT_OK(db_->Scan(prefix, "", [&n](absl::string_view, absl::string_view) {
      ++n;
      return true;
    }));
    return n;
  }

  // Creates keys/{id} owned by kOwner.
  v1::Key MakeKey(const std::string& id, bool hsm = false, bool dual = false,
                  int64_t destroy_wait = -1) {
    v1::CreateKeyRequest r;
    r.set_key_id(id);
    r.set_owner(kOwner.principal);
    r.set_protection(hsm ? v1::PROTECTION_HSM : v1::PROTECTION_SOFTWARE);
    r.set_dual_control(dual);
    if (destroy_wait >= 0) r.set_destroy_wait_seconds(destroy_wait);
    auto key = km_->CreateKey(kAdmin, r);
    EXPECT_OK(key.status());
    return key.ok() ? *key : v1::Key();
  }

  absl::StatusOr<v1::EncryptResponse> Encrypt(const std::string& id, const std::string& pt,
                                              const Caller& c = kOwner) {
    v1::EncryptRequest r;
    r.set_name("keys/" + id);
    r.set_plaintext(pt);
    (*r.mutable_encryption_context())["dataset"] = "d1";
    return km_->Encrypt(c, r);
  }
  absl::StatusOr<v1::DecryptResponse> Decrypt(const std::string& ct, const Caller& c = kOwner,
                                              const std::string& dataset = "d1") {
    v1::DecryptRequest r;
    r.set_ciphertext(ct);
    (*r.mutable_encryption_context())["dataset"] = dataset;
    return km_->Decrypt(c, r);
  }
  absl::StatusOr<v1::KeyVersion> SetState(const std::string& name, v1::KeyVersionState s) {
    v1::SetKeyVersionStateRequest r;
    r.set_name(name);
    r.set_state(s);
    ASSIGN_OR_RETURN(v1::ChangeResult result, km_->SetKeyVersionState(kAdmin, r));
    if (!result.has_version()) return absl::FailedPreconditionError("proposed, not applied");
    return result.version();
  }
  absl::StatusOr<v1::KeyVersion> Version(const std::string& name) {
    v1::GetKeyVersionRequest r;
    r.set_name(name);
    return km_->GetKeyVersion(kAdmin, r);
  }

  FakeClock clock_{absl::FromUnixSeconds(1'790'000'000)};
  std::unique_ptr<hsm_sim::SoftHsmToken> token_;
  std::unique_ptr<pkcs11::Hsm> hsm_;
  bool fail_commits_ = false;  // key commits fail (as a failed database write)
  // When >= 0: that many key commits succeed, then one fails (once).
  int commits_before_one_failure_ = -1;
  std::function<absl::Status(absl::string_view)> check_owner_;  // KmsOptions::check_owner
  // KmsOptions::system_change_requested / _applied, as one line each.
  std::vector<std::string> system_changes_;
  bool fail_system_requests_ = false;
  bool defer_hsm_intents_ = false;                              // KmsOptions::defer_hsm_intents
  bool fail_compactions_ = false;                               // crypto-shred compactions fail
  std::function<void()> before_seal_;  // KmsOptions::before_seal_for_testing
  std::function<void()> before_commit_;  // first in KmsOptions::before_commit_for_testing
  std::unique_ptr<storage::Database> db_;
  rocksdb::Env* db_env_ = nullptr;  // set before SetUp for fault injection
  std::unique_ptr<KeyManager> km_;
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_TESTS_KMS_KEY_MANAGER_FIXTURE_H_
