// SystemService: the gRPC System service (status and HSM self-check).
// Any caller with a verified client certificate may use it. Thread-safe.
#ifndef STRONGROOM_SERVER_SYSTEM_SERVICE_H_
#define STRONGROOM_SERVER_SYSTEM_SERVICE_H_

#include "absl/time/time.h"
#include "server/config.h"
#include "storage/database.h"
#include "kms/pkcs11/hsm.h"
#include "strongroom/v1/system.grpc.pb.h"

namespace strongroom::server {

class SystemService final : public strongroom::v1::System::Service {
 public:
  SystemService(const ServerConfig& config, kms::pkcs11::Hsm& hsm, storage::Database& db)
      : config_(config), hsm_(hsm), db_(db), started_(absl::Now()) {}

  grpc::Status GetStatus(grpc::ServerContext* context,
                         const strongroom::v1::GetStatusRequest* request,
                         strongroom::v1::GetStatusResponse* response) override;
  grpc::Status CheckHsm(grpc::ServerContext* context,
                        const strongroom::v1::CheckHsmRequest* request,
                        strongroom::v1::CheckHsmResponse* response) override;

 private:
  const ServerConfig& config_;
  kms::pkcs11::Hsm& hsm_;
  storage::Database& db_;
  const absl::Time started_;
};

}  // namespace strongroom::server

#endif  // STRONGROOM_SERVER_SYSTEM_SERVICE_H_
