// KeyBroker: its administrative side (admin change records, token
// revocation, the JWKS, the audit export).
#include <algorithm>
#include <mutex>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/hex_text.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/broker/key_broker.h"

namespace strongroom::kms {

namespace {

// "admin.refused." + the status code in snake case ("permission_denied").
std::string RefusalReasonId(const absl::Status& why) {
  std::string code = absl::StatusCodeToString(why.code());
  for (char& ch : code) ch = absl::ascii_tolower(static_cast<unsigned char>(ch));
  return absl::StrCat("admin.refused.", code);
}

}  // namespace

absl::Status KeyBroker::AppendAdminRecord(const Caller& c, absl::string_view action,
                                          absl::string_view resource, AuditDecision decision,
                                          std::string reason_id, absl::string_view detail,
                                          absl::string_view stage) {
  AuditEntry e;
  e.principal = AuditSafeResource(c.principal);
  e.action = std::string(action);
  e.resource = AuditSafeResource(resource);
  e.decision = decision;
  e.reason_id = std::move(reason_id);
  e.reason_detail = AuditSafeDetail(detail);
  absl::StatusOr<AuditRecord> rec = audit_.Append(std::move(e));
  if (!rec.ok()) {
    LogError("audit.append_failed", {{"action", std::string(action)},
                                     {"stage", std::string(stage)},
                                     {"error", std::string(rec.status().message())}});
  }
  return rec.status();
}

absl::Status KeyBroker::AuditAdminRequest(const Caller& c, absl::string_view action,
                                          absl::string_view resource) {
  absl::Status s = AppendAdminRecord(c, action, resource, AuditDecision::kInfo, "admin.requested",
                                     "", "request");
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat(action, ": not carried out: the audit log could not record the request (",
                     s.message(), ")"));
  }
  return absl::OkStatus();
}

void KeyBroker::AuditAdminChange(const Caller& c, absl::string_view action,
                                 absl::string_view resource, absl::string_view detail) {
  // A failure is logged and the change stands (its request record is in the
  // chain): a client told "failed" would repeat a change that was made.
  AppendAdminRecord(c, action, resource, AuditDecision::kInfo, "", detail, "applied").IgnoreError();
}

void KeyBroker::AuditAdminRefused(const Caller& c, absl::string_view action,
                                  absl::string_view resource, const absl::Status& why) {
  AppendAdminRecord(c, action, resource, AuditDecision::kDeny, RefusalReasonId(why), why.message(),
                    "refused")
      .IgnoreError();
}

AdminAudit KeyBroker::admin_audit() {
  return {
      .request = [this](
                     const Caller& c, absl::string_view action,
                     absl::string_view resource) { return AuditAdminRequest(c, action, resource); },
      .applied = [this](
                     const Caller& c, absl::string_view action, absl::string_view resource,
                     absl::string_view detail) { AuditAdminChange(c, action, resource, detail); },
      .refused = [this](const Caller& c, absl::string_view action, absl::string_view resource,
                        const absl::Status& why) { AuditAdminRefused(c, action, resource, why); },
  };
}

absl::StatusOr<v1::GetJwksResponse> KeyBroker::GetJwks(const Caller& c,
                                                       const v1::GetJwksRequest&) {
  if (c.role == Role::kNone) {
    return absl::PermissionDeniedError("GetJwks: unknown principal");
  }
  v1::GetJwksResponse out;
  out.set_jwks_json(signer_.Jwks().dump());
  return out;
}

absl::StatusOr<v1::RevokeTokenResponse> KeyBroker::RevokeToken(
    const Caller& c, const v1::RevokeTokenRequest& r) {
  // A malformed id (a whole token pasted by mistake, say) enters the chain
  // only as its digest.
  const bool well_formed = r.token_id().size() == 32 && IsLowerHex(r.token_id());
  const std::string requested = well_formed ? r.token_id() : AuditDigest(AsBytes(r.token_id()));
  return RunAudited<v1::RevokeTokenResponse>(
      admin_audit(), c, "revoke_token", requested,
      [&]() -> absl::StatusOr<v1::RevokeTokenResponse> {
        if (c.role != Role::kAdmin) {
          return absl::PermissionDeniedError(
              absl::StrCat("RevokeToken: '", c.principal, "' is not an admin"));
        }
        if (!well_formed) {
          return absl::InvalidArgumentError("token_id: expected 32 lowercase hex characters");
        }
        // Tokens live at most token_ttl from an iat at most the leeway ahead
        // of now: by `until` the token has expired if the clock is right. The
        // entry is dropped only past kept_revocations entries, whatever the
        // clock did (AttestationAdmin::ActiveRevocations).
        const absl::Time until = clock_.Now() + options_.token_ttl + kTokenIatLeeway;
        RETURN_IF_ERROR(admin_.PutRevocation(r.token_id(), until));
        {
          std::lock_guard<std::mutex> lock(revoked_mu_);
          revoked_[r.token_id()] = until;
          TrimExpiredRevocations(revoked_, clock_.Now(), options_.kept_revocations);
        }
        return v1::RevokeTokenResponse();
      },
      [&](const v1::RevokeTokenResponse&) { return std::make_pair(r.token_id(), std::string()); });
}

namespace {

// An ostream buffer that hands its bytes on in pieces of a fixed size; after
// the sink fails it takes nothing more (the stream goes bad) and keeps the
// error.
class ChunkingBuf : public std::streambuf {
 public:
  ChunkingBuf(size_t chunk, const std::function<absl::Status(absl::string_view)>& sink)
      : buffer_(chunk), sink_(sink) {
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }
  absl::Status Finish() {
    Drain();
    return status_;
  }

 protected:
  int_type overflow(int_type ch) override {
    if (!Drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }

 private:
  bool Drain() {
    if (status_.ok() && pptr() != pbase()) {
      status_ = sink_(absl::string_view(pbase(), static_cast<size_t>(pptr() - pbase())));
    }
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return status_.ok();
  }
  std::vector<char> buffer_;
  const std::function<absl::Status(absl::string_view)>& sink_;
  absl::Status status_;
};

}  // namespace

absl::Status KeyBroker::ExportAudit(const Caller& c, const v1::ExportAuditRequest& r,
                                    const std::function<absl::Status(absl::string_view)>& sink) {
  if (c.role != Role::kAdmin && c.role != Role::kAuditor) {
    return absl::PermissionDeniedError(
        absl::StrCat("ExportAudit: '", c.principal, "' is not an auditor or admin"));
  }
  ChunkingBuf buf(kExportChunkBytes, sink);
  std::ostream out(&buf);
  absl::Status exported = audit_.Export(std::max<uint64_t>(1, r.from_sequence()), out);
  absl::Status sent = buf.Finish();
  // A failed sink (the caller went away) makes the stream bad: its error is
  // the one to report.
  if (!sent.ok()) return sent;
  return exported;
}

}  // namespace strongroom::kms
