#include "server/system_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/log.h"
#include "kms/hsm_self_check.h"
#include "server/grpc_status.h"
#include "server/peer_identity.h"

namespace strongroom::server {

namespace v1 = ::strongroom::v1;

namespace {

bool SeesOperations(kms::Role role) {
  return role == kms::Role::kAdmin || role == kms::Role::kAuditor || role == kms::Role::kOwner;
}

}  // namespace

grpc::Status SystemService::GetStatus(grpc::ServerContext* context,
                                      const v1::GetStatusRequest*,
                                      v1::GetStatusResponse* response) {
  auto peer = IdentifyPeer(*context, config_.principals);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  response->set_version(STRONGROOM_VERSION);
  response->set_uptime_seconds(absl::ToInt64Seconds(absl::Now() - started_));
  response->set_principal(peer->principal);
  response->set_role(RoleName(peer->role));
  // Who the caller is, for anyone the CA vouches for (it tells an unlisted
  // certificate why everything else is refused); the HSM token and the
  // database only for the configured people (admins, auditors, owners), not
  // for workloads or unlisted principals.
  if (!SeesOperations(peer->role)) return grpc::Status::OK;
  auto token = hsm_.GetTokenStatus();
  if (!token.ok()) return ToGrpcStatus(token.status());
  v1::HsmStatus* hsm = response->mutable_hsm();
  hsm->set_module(token->module_path);
  hsm->set_token_label(token->label);
  hsm->set_manufacturer(token->manufacturer);
  hsm->set_model(token->model);
  hsm->set_serial(token->serial);
  hsm->set_generation(token->generation);
  hsm->set_open_sessions(token->pool_sessions);
  hsm->set_recoveries(token->recoveries);
  response->mutable_storage()->set_path(db_.path());
  response->mutable_storage()->set_estimated_keys(db_.EstimatedKeys());
  return grpc::Status::OK;
}

grpc::Status SystemService::CheckHsm(grpc::ServerContext* context,
                                     const v1::CheckHsmRequest* request,
                                     v1::CheckHsmResponse* response) {
  auto peer = IdentifyPeer(*context, config_.principals);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  // A round of HSM operations per call: for the people who run the
  // service, not for every certificate the CA signed.
  if (peer->role != kms::Role::kAdmin && peer->role != kms::Role::kAuditor) {
    LogWarning("system.hsm_check_refused",
               {{"principal", peer->principal}, {"role", RoleName(peer->role)}});
    return ToGrpcStatus(absl::PermissionDeniedError(absl::StrCat("CheckHsm: '", peer->principal,
                                                                 "' (role ", RoleName(peer->role),
                                                                 ") is not an admin or auditor")));
  }
  size_t payload = request->payload_bytes() == 0 ? 4096 : request->payload_bytes();
  auto report = kms::RunHsmSelfCheck(hsm_, payload);
  if (!report.ok()) return ToGrpcStatus(report.status());
  response->set_ok(report->ok);
  for (const kms::SelfCheckStep& s : report->steps) {
    v1::HsmCheckStep* step = response->add_steps();
    step->set_name(s.name);
    step->set_ok(s.ok);
    step->set_detail(s.detail);
    step->set_micros(s.micros);
  }
  LogInfo("system.hsm_check", {{"principal", peer->principal}, {"ok", report->ok}});
  return grpc::Status::OK;
}

}  // namespace strongroom::server
