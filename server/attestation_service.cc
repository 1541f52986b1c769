#include "server/attestation_service.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"
#include "server/peer_identity.h"

namespace strongroom::server {

namespace v1 = ::strongroom::v1;

#define SR_FORWARD(Name, Request, Response)                                       \
  grpc::Status AttestationService::Name(grpc::ServerContext* context,             \
                                        const v1::Request* request,               \
                                        v1::Response* response) {                 \
    absl::StatusOr<PeerIdentity> peer = IdentifyPeer(*context, principals_);      \
    if (!peer.ok()) return ToGrpcStatus(peer.status());                           \
    auto result = admin_.Name(kms::Caller{peer->principal, peer->role}, *request); \
    if (!result.ok()) return ToGrpcStatus(result.status());                       \
    *response = *std::move(result);                                               \
    return grpc::Status::OK;                                                      \
  }

SR_FORWARD(GetReferenceValues, GetReferenceValuesRequest, ReferenceValueSet)
SR_FORWARD(ListReferenceValues, ListReferenceValuesRequest, ListReferenceValuesResponse)
SR_FORWARD(GetPolicy, GetPolicyRequest, AttestationPolicy)
SR_FORWARD(ListPolicies, ListPoliciesRequest, ListPoliciesResponse)
SR_FORWARD(DryRunPolicy, DryRunPolicyRequest, DryRunPolicyResponse)
#undef SR_FORWARD

namespace {

// "name" or "PREFIX/name" -> "PREFIX/name": the request's record names the
// resource as the applied change's record will.
std::string Resource(absl::string_view prefix, absl::string_view name) {
  return absl::StartsWith(name, prefix) ? std::string(name) : absl::StrCat(prefix, name);
}

}  // namespace

// Changes: audited around the call (the admin's observer records the
// applied change itself, once committed).
#define SR_AUDITED(Name, Request, Response, Action, Prefix)                                       \
  grpc::Status AttestationService::Name(grpc::ServerContext* context, const v1::Request* request, \
                                        v1::Response* response) {                                 \
    absl::StatusOr<PeerIdentity> peer = IdentifyPeer(*context, principals_);                      \
    if (!peer.ok()) return ToGrpcStatus(peer.status());                                           \
    const kms::Caller caller{peer->principal, peer->role};                                        \
    auto result = kms::RunAudited<v1::Response>(                                                  \
        audit_, caller, Action, Resource(Prefix, request->name()),                                \
        [&] { return admin_.Name(caller, *request); }, nullptr);                                  \
    if (!result.ok()) return ToGrpcStatus(result.status());                                       \
    *response = *std::move(result);                                                               \
    return grpc::Status::OK;                                                                      \
  }
SR_AUDITED(PutReferenceValues, PutReferenceValuesRequest, ReferenceValueSet, "put_reference_values",
           "referenceValues/")
SR_AUDITED(DeleteReferenceValues, DeleteReferenceValuesRequest, DeleteReferenceValuesResponse,
           "delete_reference_values", "referenceValues/")
SR_AUDITED(PutPolicy, PutPolicyRequest, AttestationPolicy, "put_policy", "policies/")
SR_AUDITED(DeletePolicy, DeletePolicyRequest, DeletePolicyResponse, "delete_policy", "policies/")
#undef SR_AUDITED

}  // namespace strongroom::server
