// AttestationService: the gRPC face of kms::AttestationAdmin (reference
// values, policies, dry runs). Thread-safe.
#ifndef STRONGROOM_SERVER_ATTESTATION_SERVICE_H_
#define STRONGROOM_SERVER_ATTESTATION_SERVICE_H_

#include <map>
#include <string>
#include <utility>

#include "kms/broker/admin_audit.h"
#include "kms/broker/attestation_admin.h"
#include "strongroom/v1/attestation.grpc.pb.h"

namespace strongroom::server {

class AttestationService final : public strongroom::v1::Attestation::Service {
 public:
  // The four changes (reference values and policies put or deleted) go
  // through `audit`: the request recorded before the change, a refusal after
  // it; the admin's change observer records what an applied change changed
  // (kms/broker/admin_audit.h).
  AttestationService(kms::AttestationAdmin& admin,
                     const std::map<std::string, kms::Role>& principals, kms::AdminAudit audit = {})
      : admin_(admin), principals_(principals), audit_(std::move(audit)) {}

#define SR_RPC(Name, Request, Response)                                     \
  grpc::Status Name(grpc::ServerContext* context,                           \
                    const strongroom::v1::Request* request,                 \
                    strongroom::v1::Response* response) override;
  SR_RPC(PutReferenceValues, PutReferenceValuesRequest, ReferenceValueSet)
  SR_RPC(GetReferenceValues, GetReferenceValuesRequest, ReferenceValueSet)
  SR_RPC(ListReferenceValues, ListReferenceValuesRequest, ListReferenceValuesResponse)
  SR_RPC(DeleteReferenceValues, DeleteReferenceValuesRequest, DeleteReferenceValuesResponse)
  SR_RPC(PutPolicy, PutPolicyRequest, AttestationPolicy)
  SR_RPC(GetPolicy, GetPolicyRequest, AttestationPolicy)
  SR_RPC(ListPolicies, ListPoliciesRequest, ListPoliciesResponse)
  SR_RPC(DeletePolicy, DeletePolicyRequest, DeletePolicyResponse)
  SR_RPC(DryRunPolicy, DryRunPolicyRequest, DryRunPolicyResponse)
#undef SR_RPC

 private:
  kms::AttestationAdmin& admin_;
  const std::map<std::string, kms::Role>& principals_;
  kms::AdminAudit audit_;
};

}  // namespace strongroom::server

#endif  // STRONGROOM_SERVER_ATTESTATION_SERVICE_H_
