// Hsm: Strongroom's interface to one token of a PKCS#11 module.
//
// Create() dlopen()s the module, finds the token by label, reads the user PIN
// from its PinSource and logs in. All key operations go through a pool of
// PKCS#11 sessions, so any number of threads may call any method concurrently
// (the pool holds at most `max_sessions` sessions; callers beyond that wait).
//
// Failure and recovery: every failing CK_RV comes back as a Status naming the
// PKCS#11 call and the code. A session that saw any error is closed and never
// reused (it may hold a half-finished operation). After
// CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED or CKR_USER_NOT_LOGGED_IN the
// Hsm opens a fresh session and logs in again; after CKR_DEVICE_REMOVED,
// CKR_TOKEN_NOT_PRESENT or CKR_CRYPTOKI_NOT_INITIALIZED it re-initializes the
// module and finds the token again. Then it retries the call once.
//
// Key objects: persistent keys are found again by CKA_ID after a module
// re-initialization; session keys are owned by one long-lived session of this
// Hsm and are lost when the module is re-initialized (FailedPrecondition).
//
// Secrets: the PIN and every plaintext key live in SecretBytes; nothing this
// class logs or returns in a Status contains key material or the PIN.
#ifndef STRONGROOM_KMS_PKCS11_HSM_H_
#define STRONGROOM_KMS_PKCS11_HSM_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "kms/pkcs11/cryptoki.h"
#include "kms/pkcs11/key_handle.h"
#include "kms/pkcs11/module.h"
#include "kms/pkcs11/pin_source.h"

namespace strongroom::kms::pkcs11 {

struct HsmOptions {
  std::string module_path;
  std::string token_label;
  PinSource pin;
  size_t max_sessions = 16;
};

struct TokenStatus {
  std::string module_path;
  std::string label;
  std::string manufacturer;
  std::string model;
  std::string serial;
  uint64_t generation = 0;        // times the module was (re)initialized
  size_t pool_sessions = 0;       // sessions this Hsm holds open (all kinds)
  uint64_t recoveries = 0;        // session re-opens, re-logins and reloads
};

// One open PKCS#11 session, valid for a module generation. Passed to the
// callbacks of Hsm::Run; never outlives the call.
struct Session {
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  CK_FUNCTION_LIST* fn = nullptr;
  uint64_t generation = 0;
  uint64_t owner_epoch = 0;  // Hsm's owner-session epoch when lent
};

class Hsm {
 public:
  static absl::StatusOr<std::unique_ptr<Hsm>> Create(const HsmOptions& options);
  ~Hsm();
  Hsm(const Hsm&) = delete;
  Hsm& operator=(const Hsm&) = delete;

  // --- Keys -----------------------------------------------------------------
  // A non-extractable AES key of 16, 24 or 32 bytes generated inside the HSM.
  absl::StatusOr<KeyHandle> GenerateAesKey(size_t key_bytes, const KeyOptions& options);
  // Imports known AES key bytes (BYOK and known-answer tests).
  absl::StatusOr<KeyHandle> ImportAesKey(const SecretBytes& key, const KeyOptions& options);
  // Finds a persistent key by CKA_LABEL (NotFound, or FailedPrecondition when
  // more than one object carries the label).
  absl::StatusOr<KeyHandle> FindKey(KeyKind kind, absl::string_view label);
  absl::Status DestroyKey(const KeyHandle& key);
  // OK when the persistent key is in the token (looked up afresh, not from
  // the handle cache), NotFound when it is not.
  absl::Status CheckKeyExists(const KeyHandle& key);
  // A session-object copy of a persistent key (C_CopyObject with CKA_TOKEN
  // false; every other attribute, sensitivity and usage included, is the
  // original's): the same key inside the module, used without the module
  // going back to the token's storage for it (SoftHSM re-reads a token
  // object's file on every use). Lives like other session keys (see
  // KeyOptions::persistent): once the module is re-initialized, operations
  // on it fail with FailedPrecondition and a new copy is needed.
  absl::StatusOr<KeyHandle> CopyToSession(const KeyHandle& key);

  absl::StatusOr<EcKeyPair> GenerateEcKeyPair(EcCurve curve, const KeyOptions& options);
  // The uncompressed point of an EC public key object.
  absl::StatusOr<Bytes> GetEcPublicPoint(const KeyHandle& public_key);
  // A session public-key object for verification.
  absl::StatusOr<KeyHandle> ImportEcPublicKey(EcCurve curve, std::span<const uint8_t> point);

  // --- AES-GCM (96-bit IV chosen by the caller, 128-bit tag, output ct||tag) --
  absl::StatusOr<Bytes> AesGcmEncrypt(const KeyHandle& key, std::span<const uint8_t> iv,
                                      std::span<const uint8_t> aad,
                                      std::span<const uint8_t> plaintext);
  absl::StatusOr<SecretBytes> AesGcmDecrypt(const KeyHandle& key, std::span<const uint8_t> iv,
                                            std::span<const uint8_t> aad,
                                            std::span<const uint8_t> ciphertext_and_tag);

  // --- Key wrap --------------------------------------------------------------
  absl::StatusOr<Bytes> WrapKey(const KeyHandle& wrapping_key, const KeyHandle& key,
                                WrapMechanism mechanism);
  // Unwraps into a new AES key object described by `options`.
  absl::StatusOr<KeyHandle> UnwrapKey(const KeyHandle& wrapping_key,
                                      std::span<const uint8_t> wrapped,
                                      WrapMechanism mechanism, const KeyOptions& options);
  // Wraps caller-held key bytes (e.g. a fresh data key) without them ever
  // being stored in the token: a temporary session object is wrapped and destroyed.
  absl::StatusOr<Bytes> WrapSecret(const KeyHandle& wrapping_key, const SecretBytes& secret,
                                   WrapMechanism mechanism);
  // Unwraps to plaintext bytes in protected memory (data keys for envelope
  // encryption); the temporary object is destroyed before returning.
  absl::StatusOr<SecretBytes> UnwrapSecret(const KeyHandle& wrapping_key,
                                           std::span<const uint8_t> wrapped,
                                           WrapMechanism mechanism);

  // --- ECDSA / ECDH ------------------------------------------------------------
  // Hashes `message` in software, signs the digest with CKM_ECDSA, returns DER.
  absl::StatusOr<Bytes> EcdsaSign(const KeyHandle& private_key, HashAlg hash,
                                  std::span<const uint8_t> message);
  // OK when `der_signature` is a valid strict-DER signature of `message`;
  // InvalidArgument naming the defect otherwise.
  absl::Status EcdsaVerify(const KeyHandle& public_key, HashAlg hash,
                           std::span<const uint8_t> message,
                           std::span<const uint8_t> der_signature);
  // Raw ECDH shared secret (x coordinate) with the peer's uncompressed point.
  absl::StatusOr<SecretBytes> EcdhDerive(const KeyHandle& private_key,
                                         std::span<const uint8_t> peer_point);

  absl::StatusOr<SecretBytes> GenerateRandom(size_t bytes);

  // --- Data objects -------------------------------------------------------------
  // Private token data objects of this application (CKO_DATA, CKA_PRIVATE,
  // CKA_APPLICATION "strongroom", found by CKA_LABEL): state that must live
  // outside the host's disks, such as the audit log's high-water mark
  // (kms/audit/hsm_audit_anchor.h). Not secret from whoever holds the PIN;
  // out of reach of whoever does not (objects of other applications, or
  // public ones, under the same label are neither read nor destroyed).
  // The CKA_VALUE of every such data object labelled `label`, in no
  // particular order (empty: none).
  absl::StatusOr<std::vector<Bytes>> ReadDataObjects(absl::string_view label);
  // Stores `value` (1 to 4,096 bytes) as a new data object labelled `label`,
  // then destroys the others of this application so labelled. Tokens need not let a data
  // object's value change (SoftHSM does not), so the value is replaced by a
  // new object rather than updated, and never by none: a failure after the
  // creation leaves the new object beside the old ones, which a reader
  // must tell apart by their contents. Serialized within this Hsm.
  absl::Status ReplaceDataObjects(absl::string_view label, std::span<const uint8_t> value);

  // --- Introspection and control ------------------------------------------------
  absl::StatusOr<TokenStatus> GetTokenStatus();
  // Finalizes and re-initializes the module (as after a device removal).
  absl::Status Reload();
  // Sessions this Hsm holds open right now (pool, in use, and the key owner).
  size_t OpenSessionCount() const;

  // Runs `fn` on a pooled session with the recovery policy described above.
  // `call` names the operation in errors.
  absl::Status Run(absl::string_view call, const std::function<absl::Status(Session&)>& fn);
  // Like Run, on the long-lived session that owns session key objects.
  absl::Status RunOnOwnerSession(absl::string_view call,
                                 const std::function<absl::Status(Session&)>& fn);
  // The object handle of `key` valid in `session`'s generation. A persistent
  // key given only by kind and CKA_ID (handle CK_INVALID_HANDLE) is looked up.
  absl::StatusOr<CK_OBJECT_HANDLE> Resolve(Session& session, const KeyHandle& key);
  // Drops the cached handles of `key`'s CKA_ID (every module generation, and
  // the other half of a key pair).
  void ForgetHandle(const KeyHandle& key);

 private:
  Hsm(HsmOptions options, std::unique_ptr<Pkcs11Module> module, SecretBytes pin)
      : options_(std::move(options)), module_(std::move(module)), pin_(std::move(pin)) {}

  absl::Status Connect();  // REQUIRES: exclusive reload_mu_
  absl::Status Login(CK_SESSION_HANDLE session);
  absl::StatusOr<CK_SESSION_HANDLE> OpenSession();
  absl::StatusOr<Session> Acquire();
  void ReleaseToPool(Session session);
  void Discard(Session session);
  absl::Status Recover(CK_RV rv, uint64_t failed_generation);
  void CloseRetiredOwnerSessions();  // REQUIRES: owner_mu_
  absl::Status RunWithRecovery(absl::string_view call, bool owner_session,
                               const std::function<absl::Status(Session&)>& fn);
  absl::StatusOr<KeyHandle> CreateObject(absl::string_view call, KeyHandle proto,
                                         std::vector<CK_ATTRIBUTE>& attrs);
  // C_FindObjectsInit / C_FindObjects (up to out.size() handles) /
  // C_FindObjectsFinal; the number found.
  absl::StatusOr<size_t> FindObjects(Session& session, std::span<CK_ATTRIBUTE> tmpl,
                                     std::span<CK_OBJECT_HANDLE> out);
  // This application's private token data objects labelled `label`
  // (FailedPrecondition past 1,024).
  absl::StatusOr<std::vector<CK_OBJECT_HANDLE>> FindDataObjects(Session& session,
                                                                absl::string_view label);
  // What a search that found nothing may conclude: `not_found` when
  // `session` is logged in, else a CKR_USER_NOT_LOGGED_IN error (private
  // objects are invisible without a login, so the empty answer proves
  // nothing; the recovery logs in and searches again).
  absl::Status EmptySearch(Session& session, absl::Status not_found);
  // Before a persistent creation is retried (the first try failed in a way
  // that may still have made the object): destroys every token object
  // carrying `id`, so the retry cannot leave two objects under one CKA_ID.
  // The ids are fresh random values, so nothing else carries them.
  absl::Status DestroyStrays(Session& session, const Bytes& id, absl::string_view label);
  // RunOnOwnerSession for a call that creates an object: when `persistent`
  // and the call is retried, DestroyStrays runs first.
  absl::Status RunCreation(absl::string_view call, bool persistent, const Bytes& id,
                           absl::string_view label,
                           const std::function<absl::Status(Session&)>& fn);
  void ForgetHandlesOfId(const Bytes& id);

  const HsmOptions options_;
  std::unique_ptr<Pkcs11Module> module_;
  const SecretBytes pin_;

  // Shared by every call into the module; exclusive while re-initializing it.
  mutable std::shared_mutex reload_mu_;
  CK_SLOT_ID slot_ = 0;             // guarded by reload_mu_
  bool connected_ = false;          // slot_ found since the last (re)initialize; reload_mu_
  uint64_t generation_ = 0;         // guarded by reload_mu_
  CK_SESSION_HANDLE owner_session_ = CK_INVALID_HANDLE;  // guarded by owner_mu_
  // Bumped whenever owner_session_ is dropped: the session objects it held
  // (CopyToSession, temporary keys) are gone with it.
  std::atomic<uint64_t> owner_epoch_{0};
  // Owner sessions given up (called invalid, or stuck with an operation),
  // closed once a successor is open: SoftHSM invalidates the handles of
  // token objects when a slot's last session closes, so there is always one
  // open while the owner session changes. Guarded by owner_mu_.
  std::vector<CK_SESSION_HANDLE> retired_owner_sessions_;
  mutable std::mutex owner_mu_;

  std::mutex data_objects_mu_;  // serializes ReplaceDataObjects

  mutable std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<Session> idle_;       // guarded by pool_mu_
  size_t in_use_ = 0;               // guarded by pool_mu_
  uint64_t recoveries_ = 0;         // guarded by pool_mu_

  // (generation, CKA_CLASS, CKA_ID) -> handle for persistent objects found again.
  std::mutex handle_cache_mu_;
  std::map<std::pair<uint64_t, std::string>, CK_OBJECT_HANDLE> handle_cache_;
};

}  // namespace strongroom::kms::pkcs11

#endif  // STRONGROOM_KMS_PKCS11_HSM_H_
