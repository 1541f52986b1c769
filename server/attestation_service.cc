#include "server/attestation_service.h"

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

SR_FORWARD(PutReferenceValues, PutReferenceValuesRequest, ReferenceValueSet)
SR_FORWARD(GetReferenceValues, GetReferenceValuesRequest, ReferenceValueSet)
SR_FORWARD(ListReferenceValues, ListReferenceValuesRequest, ListReferenceValuesResponse)
SR_FORWARD(DeleteReferenceValues, DeleteReferenceValuesRequest, DeleteReferenceValuesResponse)
SR_FORWARD(PutPolicy, PutPolicyRequest, AttestationPolicy)
SR_FORWARD(GetPolicy, GetPolicyRequest, AttestationPolicy)
SR_FORWARD(ListPolicies, ListPoliciesRequest, ListPoliciesResponse)
SR_FORWARD(DeletePolicy, DeletePolicyRequest, DeletePolicyResponse)
SR_FORWARD(DryRunPolicy, DryRunPolicyRequest, DryRunPolicyResponse)
#undef SR_FORWARD

}  // namespace strongroom::server
