// The one place where absl::Status becomes grpc::Status (codes map 1:1; the
// message is kept, payloads are dropped). Callers never build grpc::Status by
// hand.
#ifndef STRONGROOM_SERVER_GRPC_STATUS_H_
#define STRONGROOM_SERVER_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace strongroom::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace strongroom::server

#endif  // STRONGROOM_SERVER_GRPC_STATUS_H_
