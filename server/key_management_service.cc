#include "server/key_management_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/grpc_status.h"
#include "server/peer_identity.h"

namespace strongroom::server {

namespace v1 = ::strongroom::v1;

namespace {

// Identifies the caller, runs `call` with it and copies the result out.
template <typename Response, typename Fn>
grpc::Status Serve(const grpc::ServerContext& context,
                   const std::map<std::string, kms::Role>& principals, Response* response,
                   Fn call) {
  absl::StatusOr<PeerIdentity> peer = IdentifyPeer(context, principals);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  auto result = call(kms::Caller{peer->principal, peer->role});
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

// "CreateKey" -> "create_key": audit actions are lowercase snake case.
std::string SnakeCase(absl::string_view name) {
  std::string out;
  for (char ch : name) {
    if (ch >= 'A' && ch <= 'Z') {
      if (!out.empty()) out.push_back('_');
      out.push_back(static_cast<char>(ch - 'A' + 'a'));
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

}  // namespace

grpc::Status KeyManagementService::Ping(grpc::ServerContext* context, const v1::PingRequest*,
                                        v1::PingResponse*) {
  return ToGrpcStatus(IdentifyPeer(*context, principals_).status());
}

namespace {

// What an UpdateKey changed: the fields named, and for a
// binding the policy version and the reference-value sets it pinned; or the
// proposal that awaits a second admin.
std::string ChangeDetail(const v1::UpdateKeyRequest& r, const v1::ChangeResult& result) {
  std::string out;
  if (r.update_mask_size() > 0) {
    absl::StrAppend(&out, "fields ", absl::StrJoin(r.update_mask(), ","));
  }
  if (result.has_pending()) {
    absl::StrAppend(&out, out.empty() ? "" : "; ", "proposed ", result.pending().id(), " (",
                    result.pending().action(), ")");
    return out;
  }
  if (result.has_key()) {
    const v1::Key& k = result.key();
    const bool binding = std::find(r.update_mask().begin(), r.update_mask().end(),
                                   "release_policy") != r.update_mask().end();
    if (binding) {
      absl::StrAppend(&out, out.empty() ? "" : "; ", "release_policy ",
                      k.release_policy().empty()
                          ? std::string("(none)")
                          : absl::StrCat(k.release_policy(), "@", k.release_policy_version()));
      if (k.release_reference_sets_size() > 0) {
        absl::StrAppend(&out, " pins ", absl::StrJoin(k.release_reference_sets(), ","));
      }
    }
  }
  return out;
}

// What an approval carried out: the proposal (its id, what it spelled
// out, who proposed it) and the state it left.
std::string ApprovalDetail(const v1::ChangeResult& result) {
  const v1::ChangeProposal& p = result.approved();
  std::string out =
      absl::StrCat("approved ", p.id(), " (", p.action(), ") proposed by ", p.proposer());
  if (result.has_version()) {
    absl::StrAppend(&out, "; state ", v1::KeyVersionState_Name(result.version().state()));
  }
  return out;
}

}  // namespace

#define SR_FORWARD(Name, Request, Response)                                              \
  grpc::Status KeyManagementService::Name(grpc::ServerContext* context,                  \
                                          const v1::Request* request,                    \
                                          v1::Response* response) {                      \
    return Serve(*context, principals_, response,                                        \
                 [&](const kms::Caller& caller) { return km_.Name(caller, *request); }); \
  }

// Changes are audited around the call (kms/broker/admin_audit.h): the
// request under `requested`, then the outcome; `resource` and `detail` name
// what an applied change changed (in them `response` is the result).
#define SR_CHANGE(Name, Request, Response, requested, resource, detail)                         \
  grpc::Status KeyManagementService::Name(grpc::ServerContext* context,                         \
                                          const v1::Request* request, v1::Response* response) { \
    return Serve(*context, principals_, response, [&](const kms::Caller& c) {                   \
      return kms::RunAudited<v1::Response>(                                                     \
          audit_, c, SnakeCase(#Name), requested, [&] { return km_.Name(c, *request); },        \
          [&](const v1::Response& result) {                                                     \
            const v1::Response* response = &result;                                             \
            return std::make_pair(std::string(resource), std::string(detail));                  \
          });                                                                                   \
    });                                                                                         \
  }

SR_CHANGE(CreateKey, CreateKeyRequest, Key, absl::StrCat("keys/", request->key_id()),
          response->name(),
          absl::StrCat("owner ", response->owner(),
                       response->dual_control() ? " dual_control" : ""))
SR_FORWARD(GetKey, GetKeyRequest, Key)
SR_FORWARD(ListKeys, ListKeysRequest, ListKeysResponse)
SR_CHANGE(UpdateKey, UpdateKeyRequest, ChangeResult, request->name(), request->name(),
          ChangeDetail(*request, *response))
SR_CHANGE(RotateKey, RotateKeyRequest, KeyVersion, request->name(), response->name(), "")
SR_FORWARD(GetKeyVersion, GetKeyVersionRequest, KeyVersion)
SR_FORWARD(ListKeyVersions, ListKeyVersionsRequest, ListKeyVersionsResponse)
SR_CHANGE(SetKeyVersionState, SetKeyVersionStateRequest, ChangeResult, request->name(),
          request->name(),
          response->has_pending()
              ? absl::StrCat("proposed ", response->pending().id())
              : absl::StrCat("state ", v1::KeyVersionState_Name(response->version().state())))
SR_CHANGE(DestroyKeyVersion, DestroyKeyVersionRequest, ChangeResult, request->name(),
          request->name(),
          response->has_pending()
              ? absl::StrCat("proposed ", response->pending().id())
              : absl::StrCat("state ", v1::KeyVersionState_Name(response->version().state())))
SR_CHANGE(RestoreKeyVersion, RestoreKeyVersionRequest, ChangeResult, request->name(),
          request->name(),
          response->has_pending() ? absl::StrCat("proposed ", response->pending().id()) : "")
SR_CHANGE(ApproveChange, ApproveChangeRequest, ChangeResult,
          absl::StrCat("changes/", request->id()),
          response->has_key() ? response->key().name() : response->version().name(),
          ApprovalDetail(*response))
#undef SR_CHANGE
SR_FORWARD(ListChanges, ListChangesRequest, ListChangesResponse)
SR_FORWARD(Encrypt, EncryptRequest, EncryptResponse)
SR_FORWARD(Decrypt, DecryptRequest, DecryptResponse)
SR_FORWARD(GenerateDataKey, GenerateDataKeyRequest, GenerateDataKeyResponse)
SR_FORWARD(ReEncrypt, ReEncryptRequest, ReEncryptResponse)
#undef SR_FORWARD

grpc::Status KeyManagementService::RotateRootKey(grpc::ServerContext* context,
                                                 const v1::RotateRootKeyRequest*,
                                                 v1::RootKeyStatus* response) {
  return Serve(*context, principals_, response, [&](const kms::Caller& caller) {
    return kms::RunAudited<v1::RootKeyStatus>(
        audit_, caller, "rotate_root_key", "root", [&] { return km_.RotateRootKey(caller); },
        [](const v1::RootKeyStatus&) {
          return std::make_pair(std::string("root"), std::string());
        });
  });
}

grpc::Status KeyManagementService::GetRootKeyStatus(grpc::ServerContext* context,
                                                    const v1::GetRootKeyStatusRequest*,
                                                    v1::RootKeyStatus* response) {
  return Serve(*context, principals_, response,
               [&](const kms::Caller& caller) { return km_.GetRootKeyStatus(caller); });
}

}  // namespace strongroom::server
