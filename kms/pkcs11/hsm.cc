// Session pool, login and recovery of Hsm. The key operations live in
// hsm_keys.cc, hsm_aes_gcm.cc, hsm_key_wrap.cc and hsm_ec.cc.
#include "kms/pkcs11/hsm.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/pkcs11/errors.h"

namespace strongroom::kms::pkcs11 {

const char* KeyKindName(KeyKind kind) {
  switch (kind) {
    case KeyKind::kAes: return "aes";
    case KeyKind::kGenericSecret: return "generic-secret";
    case KeyKind::kEcPrivate: return "ec-private";
    case KeyKind::kEcPublic: return "ec-public";
  }
  return "unknown";
}

const char* EcCurveName(EcCurve curve) {
  return curve == EcCurve::kP256 ? "P-256" : "P-384";
}

absl::StatusOr<std::unique_ptr<Hsm>> Hsm::Create(const HsmOptions& options) {
  if (options.module_path.empty()) {
    return absl::InvalidArgumentError("hsm.module: the PKCS#11 module path is empty");
  }
  if (options.token_label.empty()) {
    return absl::InvalidArgumentError("hsm.token_label: the token label is empty");
  }
  if (options.max_sessions < 1 || options.max_sessions > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hsm.max_sessions: ", options.max_sessions, " is outside [1, 1024]"));
  }
  ASSIGN_OR_RETURN(SecretBytes pin, options.pin.Load());
  ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11Module> module,
                   Pkcs11Module::Create(options.module_path));
  std::unique_ptr<Hsm> hsm(new Hsm(options, std::move(module), std::move(pin)));
  {
    std::unique_lock<std::shared_mutex> lock(hsm->reload_mu_);
    hsm->generation_ = 1;
    RETURN_IF_ERROR(hsm->Connect());
  }
  LogInfo("hsm.connected", {{"module", options.module_path},
                            {"token", options.token_label},
                            {"slot", static_cast<int64_t>(hsm->slot_)}});
  return hsm;
}

Hsm::~Hsm() {
  std::unique_lock<std::shared_mutex> lock(reload_mu_);
  std::lock_guard<std::mutex> pool_lock(pool_mu_);
  for (const Session& s : idle_) {
    if (s.generation == generation_) module_->functions()->C_CloseSession(s.handle);
  }
  idle_.clear();
  if (owner_session_ != CK_INVALID_HANDLE) {
    module_->functions()->C_CloseSession(owner_session_);
    owner_session_ = CK_INVALID_HANDLE;
    ++owner_epoch_;
  }
  std::lock_guard<std::mutex> owner_lock(owner_mu_);
  CloseRetiredOwnerSessions();
}

absl::Status Hsm::Connect() {
  // Whatever happens below, nothing of the earlier connection is used again:
  // its session handles are meaningless after a re-initialization (the
  // module may hand the same numbers to new sessions), and until a slot is
  // found again OpenSession answers CKR_TOKEN_NOT_PRESENT, which sends the
  // next call through another reload rather than to the old slot.
  connected_ = false;
  {
    std::lock_guard<std::mutex> pool_lock(pool_mu_);
    idle_.clear();
  }
  std::lock_guard<std::mutex> owner_lock(owner_mu_);
  owner_session_ = CK_INVALID_HANDLE;
  retired_owner_sessions_.clear();
  ++owner_epoch_;
  ASSIGN_OR_RETURN(slot_, module_->FindSlotByTokenLabel(options_.token_label));
  connected_ = true;
  ASSIGN_OR_RETURN(owner_session_, OpenSession());
  return absl::OkStatus();
}

absl::Status Hsm::Login(CK_SESSION_HANDLE session) {
  CK_RV rv = module_->functions()->C_Login(
      session, CKU_USER, const_cast<CK_UTF8CHAR*>(pin_.Reveal().data()), pin_.size());
  if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) return absl::OkStatus();
  return RvToStatus("C_Login", rv, absl::StrCat("token '", options_.token_label, "'"));
}

absl::StatusOr<CK_SESSION_HANDLE> Hsm::OpenSession() {
  if (!connected_) {
    return RvToStatus("C_OpenSession", CKR_TOKEN_NOT_PRESENT,
                      absl::StrCat("token '", options_.token_label,
                                   "' was not found when the module was last initialized"));
  }
  CK_FUNCTION_LIST* fn = module_->functions();
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  CK_RV rv = fn->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                               nullptr, &session);
  if (rv != CKR_OK) return RvToStatus("C_OpenSession", rv);
  CK_SESSION_INFO info;
  rv = fn->C_GetSessionInfo(session, &info);
  absl::Status status = RvToStatus("C_GetSessionInfo", rv);
  if (status.ok() && info.state != CKS_RW_USER_FUNCTIONS) status = Login(session);
  if (!status.ok()) {
    fn->C_CloseSession(session);
    return status;
  }
  LogDebug("pkcs11.session_opened", {{"session", static_cast<int64_t>(session)}});
  return session;
}

absl::StatusOr<Session> Hsm::Acquire() {
  std::unique_lock<std::mutex> lock(pool_mu_);
  for (;;) {
    pool_cv_.wait(lock, [&] {
      return !idle_.empty() || in_use_ + idle_.size() < options_.max_sessions;
    });
    if (idle_.empty()) break;
    Session s = idle_.back();
    idle_.pop_back();
    if (s.generation == generation_) {
      ++in_use_;
      return s;
    }
  }
  ++in_use_;
  lock.unlock();
  absl::StatusOr<CK_SESSION_HANDLE> handle = OpenSession();
  if (!handle.ok()) {
    lock.lock();
    --in_use_;
    pool_cv_.notify_one();
    return handle.status();
  }
  return Session{*handle, module_->functions(), generation_};
}

void Hsm::ReleaseToPool(Session session) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  --in_use_;
  if (session.generation == generation_) idle_.push_back(session);
  pool_cv_.notify_one();
}

void Hsm::Discard(Session session) {
  if (session.generation == generation_) {
    CK_RV rv = session.fn->C_CloseSession(session.handle);
    LogDebug("pkcs11.session_discarded", {{"session", static_cast<int64_t>(session.handle)},
                                          {"close_rv", RvName(rv)}});
  }
  std::lock_guard<std::mutex> lock(pool_mu_);
  --in_use_;
  pool_cv_.notify_one();
}

absl::Status Hsm::Recover(CK_RV rv, uint64_t failed_generation) {
  std::unique_lock<std::shared_mutex> lock(reload_mu_);
  if (generation_ != failed_generation) return absl::OkStatus();  // already done
  {
    std::lock_guard<std::mutex> pool_lock(pool_mu_);
    ++recoveries_;
  }
  LogWarning("pkcs11.recovering", {{"after", RvName(rv)},
                                   {"token", options_.token_label},
                                   {"generation", static_cast<int64_t>(generation_)}});
  if (NeedsModuleReload(rv)) {
    RETURN_IF_ERROR(module_->Reinitialize());
    ++generation_;
    return Connect();
  }
  // A session went away (or the login did): every idle session is suspect.
  std::vector<Session> idle;
  {
    std::lock_guard<std::mutex> pool_lock(pool_mu_);
    idle.swap(idle_);
  }
  for (const Session& s : idle) s.fn->C_CloseSession(s.handle);
  std::lock_guard<std::mutex> owner_lock(owner_mu_);
  if (owner_session_ == CK_INVALID_HANDLE) {
    ASSIGN_OR_RETURN(owner_session_, OpenSession());
    CloseRetiredOwnerSessions();
    return absl::OkStatus();
  }
  return Login(owner_session_);
}

absl::Status Hsm::RunWithRecovery(absl::string_view call, bool owner_session,
                                  const std::function<absl::Status(Session&)>& fn) {
  for (int attempt = 0;; ++attempt) {
    uint64_t generation;
    absl::Status status;
    bool stuck_owner = false;
    {
      std::shared_lock<std::shared_mutex> lock(reload_mu_);
      generation = generation_;
      if (owner_session) {
        std::lock_guard<std::mutex> owner_lock(owner_mu_);
        if (owner_session_ == CK_INVALID_HANDLE) {
          absl::StatusOr<CK_SESSION_HANDLE> opened = OpenSession();
          if (opened.ok()) {
            owner_session_ = *opened;
            CloseRetiredOwnerSessions();
          }
          status = opened.status();
        }
        if (status.ok()) {
          Session session{owner_session_, module_->functions(), generation, owner_epoch_.load()};
          status = fn(session);
          std::optional<CK_RV> rv = RvOf(status);
          if (rv && (*rv == CKR_SESSION_HANDLE_INVALID || *rv == CKR_SESSION_CLOSED)) {
            // Closed too once its successor is open, in case the module was
            // wrong and it lives on (closing a handle that is gone is
            // harmless).
            retired_owner_sessions_.push_back(owner_session_);
            owner_session_ = CK_INVALID_HANDLE;
            ++owner_epoch_;
          } else if (rv && *rv == CKR_OPERATION_ACTIVE) {
            // An earlier failure left an operation (a search whose
            // C_FindObjectsFinal failed) active in the owner session, and
            // PKCS#11 2.40 has no call to cancel it: replace the session
            // (its session objects go with it) and try once more.
            retired_owner_sessions_.push_back(owner_session_);
            owner_session_ = CK_INVALID_HANDLE;
            ++owner_epoch_;
            stuck_owner = true;
          }
        }
      } else {
        absl::StatusOr<Session> session = Acquire();
        if (!session.ok()) {
          status = session.status();
        } else {
          session->owner_epoch = owner_epoch_.load();
          status = fn(*session);
          // A PKCS#11 failure may leave an operation active in the session:
          // never hand such a session to the next caller.
          if (status.ok() || !RvOf(status).has_value()) {
            ReleaseToPool(*session);
          } else {
            Discard(*session);
          }
        }
      }
    }
    if (status.ok()) return status;
    std::optional<CK_RV> rv = RvOf(status);
    if (attempt == 0 && stuck_owner) {
      LogWarning("pkcs11.owner_session_replaced",
                 {{"call", std::string(call)}, {"after", RvName(*rv)}});
      continue;
    }
    if (attempt > 0 || !rv.has_value() || !IsRecoverable(*rv)) return status;
    absl::Status recovered = Recover(*rv, generation);
    if (!recovered.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat(call, ": ", status.message(),
                                       "; recovery failed: ", recovered.message()));
    }
    LogInfo("pkcs11.retrying", {{"call", std::string(call)}, {"after", RvName(*rv)}});
  }
}

absl::Status Hsm::Run(absl::string_view call,
                      const std::function<absl::Status(Session&)>& fn) {
  return RunWithRecovery(call, /*owner_session=*/false, fn);
}

absl::Status Hsm::RunOnOwnerSession(absl::string_view call,
                                    const std::function<absl::Status(Session&)>& fn) {
  return RunWithRecovery(call, /*owner_session=*/true, fn);
}

absl::StatusOr<CK_OBJECT_HANDLE> Hsm::Resolve(Session& session, const KeyHandle& key) {
  if (!key.persistent && key.handle != CK_INVALID_HANDLE && key.generation == session.generation &&
      key.owner_epoch != session.owner_epoch) {
    return absl::FailedPreconditionError(
        absl::StrCat("session key '", key.label,
                     "' no longer exists: the owner session that held it was "
                     "replaced"));
  }
  if (key.handle != CK_INVALID_HANDLE && key.generation == session.generation) {
    return key.handle;
  }
  if (!key.persistent && key.handle == CK_INVALID_HANDLE) {
    return absl::InvalidArgumentError("key handle is empty");
  }
  if (!key.persistent) {
    return absl::FailedPreconditionError(absl::StrCat(
        "session key '", key.label, "' no longer exists: the PKCS#11 module was "
        "re-initialized (generation ", key.generation, ", now ", session.generation, ")"));
  }
  CK_OBJECT_CLASS cls = key.kind == KeyKind::kEcPrivate  ? CKO_PRIVATE_KEY
                        : key.kind == KeyKind::kEcPublic ? CKO_PUBLIC_KEY
                                                         : CKO_SECRET_KEY;
  std::pair<uint64_t, std::string> cache_key(
      session.generation, absl::StrCat(cls, ":", HexEncode(key.id)));
  {
    std::lock_guard<std::mutex> lock(handle_cache_mu_);
    auto it = handle_cache_.find(cache_key);
    if (it != handle_cache_.end()) return it->second;
  }
  // Token objects only: a session copy (CopyToSession) shares the id.
  CK_BBOOL token = CK_TRUE;
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &cls, sizeof(cls)},
      {CKA_TOKEN, &token, sizeof(token)},
      {CKA_ID, const_cast<uint8_t*>(key.id.data()), key.id.size()},
  };
  CK_OBJECT_HANDLE found[2];
  ASSIGN_OR_RETURN(size_t n, FindObjects(session, tmpl, found));
  if (n == 0) {
    return EmptySearch(
        session, absl::NotFoundError(absl::StrCat("key '", key.label, "' (id ", HexEncode(key.id),
                                                  ") is no longer in the token")));
  }
  if (n > 1) {
    // Two objects under one CKA_ID (a creation retried after an ambiguous
    // failure): which one a search returns first may change, so neither is
    // used.
    return absl::DataLossError(absl::StrCat("key '", key.label, "' (id ", HexEncode(key.id),
                                            "): more than one token object has this id"));
  }
  std::lock_guard<std::mutex> lock(handle_cache_mu_);
  handle_cache_[cache_key] = found[0];
  return found[0];
}

void Hsm::CloseRetiredOwnerSessions() {
  for (CK_SESSION_HANDLE h : retired_owner_sessions_) module_->functions()->C_CloseSession(h);
  retired_owner_sessions_.clear();
}

absl::StatusOr<size_t> Hsm::FindObjects(Session& session, std::span<CK_ATTRIBUTE> tmpl,
                                        std::span<CK_OBJECT_HANDLE> out) {
  CK_RV rv = session.fn->C_FindObjectsInit(session.handle, tmpl.data(), tmpl.size());
  if (rv != CKR_OK) return RvToStatus("C_FindObjectsInit", rv);
  CK_ULONG n = 0;
  rv = session.fn->C_FindObjects(session.handle, out.data(), out.size(), &n);
  CK_RV final_rv = session.fn->C_FindObjectsFinal(session.handle);
  if (rv != CKR_OK) return RvToStatus("C_FindObjects", rv);
  if (final_rv != CKR_OK) return RvToStatus("C_FindObjectsFinal", final_rv);
  return static_cast<size_t>(n);
}

absl::Status Hsm::EmptySearch(Session& session, absl::Status not_found) {
  CK_SESSION_INFO info;
  CK_RV rv = session.fn->C_GetSessionInfo(session.handle, &info);
  if (rv != CKR_OK) return RvToStatus("C_GetSessionInfo", rv);
  if (info.state == CKS_RW_USER_FUNCTIONS || info.state == CKS_RO_USER_FUNCTIONS) {
    return not_found;
  }
  return RvToStatus("C_FindObjects", CKR_USER_NOT_LOGGED_IN,
                    "the search found nothing while the session was not logged in");
}

absl::Status Hsm::DestroyStrays(Session& session, const Bytes& id, absl::string_view label) {
  CK_BBOOL token = CK_TRUE;
  CK_ATTRIBUTE tmpl[] = {
      {CKA_TOKEN, &token, sizeof(token)},
      {CKA_ID, const_cast<uint8_t*>(id.data()), id.size()},
  };
  CK_OBJECT_HANDLE found[8];
  ASSIGN_OR_RETURN(size_t n, FindObjects(session, tmpl, found));
  if (n == 0) return EmptySearch(session, absl::OkStatus());
  for (size_t i = 0; i < n; ++i) {
    RETURN_IF_ERROR(RvToStatus("C_DestroyObject",
                               session.fn->C_DestroyObject(session.handle, found[i]),
                               absl::StrCat("stray object of key '", label, "'")));
  }
  ForgetHandlesOfId(id);
  LogWarning(
      "hsm.stray_objects_destroyed",
      {{"label", std::string(label)}, {"id", HexEncode(id)}, {"count", static_cast<int64_t>(n)}});
  return absl::OkStatus();
}

absl::Status Hsm::RunCreation(absl::string_view call, bool persistent, const Bytes& id,
                              absl::string_view label,
                              const std::function<absl::Status(Session&)>& fn) {
  int tries = 0;
  return RunOnOwnerSession(call, [&](Session& s) -> absl::Status {
    if (persistent && tries++ > 0) RETURN_IF_ERROR(DestroyStrays(s, id, label));
    return fn(s);
  });
}

void Hsm::ForgetHandle(const KeyHandle& key) { ForgetHandlesOfId(key.id); }

void Hsm::ForgetHandlesOfId(const Bytes& id) {
  const std::string suffix = absl::StrCat(":", HexEncode(id));
  std::lock_guard<std::mutex> lock(handle_cache_mu_);
  for (auto it = handle_cache_.begin(); it != handle_cache_.end();) {
    it = absl::EndsWith(it->first.second, suffix) ? handle_cache_.erase(it) : std::next(it);
  }
}

absl::StatusOr<TokenStatus> Hsm::GetTokenStatus() {
  TokenStatus status;
  std::shared_lock<std::shared_mutex> lock(reload_mu_);
  CK_TOKEN_INFO info;
  CK_RV rv = module_->functions()->C_GetTokenInfo(slot_, &info);
  if (rv != CKR_OK) return RvToStatus("C_GetTokenInfo", rv);
  status.module_path = module_->path();
  status.label = TrimPadded(info.label, sizeof(info.label));
  status.manufacturer = TrimPadded(info.manufacturerID, sizeof(info.manufacturerID));
  status.model = TrimPadded(info.model, sizeof(info.model));
  status.serial = TrimPadded(info.serialNumber, sizeof(info.serialNumber));
  status.generation = generation_;
  status.pool_sessions = OpenSessionCount();
  std::lock_guard<std::mutex> pool_lock(pool_mu_);
  status.recoveries = recoveries_;
  return status;
}

absl::Status Hsm::Reload() {
  uint64_t generation;
  {
    std::shared_lock<std::shared_mutex> lock(reload_mu_);
    generation = generation_;
  }
  return Recover(CKR_DEVICE_REMOVED, generation);
}

size_t Hsm::OpenSessionCount() const {
  size_t owner;
  {
    std::lock_guard<std::mutex> lock(owner_mu_);
    owner = owner_session_ != CK_INVALID_HANDLE ? 1 : 0;
  }
  std::lock_guard<std::mutex> lock(pool_mu_);
  return idle_.size() + in_use_ + owner;
}

}  // namespace strongroom::kms::pkcs11
