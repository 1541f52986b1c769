// Connection: a mutual-TLS gRPC channel to strongroomd, and typed calls on it.
// This file and connection.cc are the client SDK's only contact with grpc; the
// rest of client/ and the CLI see protos and absl::Status only.
//
// Thread-safe: one Connection may serve many threads.
#ifndef STRONGROOM_CLIENT_CONNECTION_H_
#define STRONGROOM_CLIENT_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strongroom/v1/system.pb.h"

namespace strongroom::client {

struct ConnectionOptions {
  std::string address;      // host:port
  std::string ca_file;      // CA that signed the server certificate
  std::string cert_file;    // this client's certificate
  std::string key_file;     // and its private key
  // The name the server certificate must carry (SAN). Default: the host part
  // of `address`.
  std::string server_name;
  absl::Duration timeout = absl::Seconds(30);
};

class Connection {
 public:
  // NotFound / InvalidArgument naming the file when TLS material is missing.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const ConnectionOptions& options);
  ~Connection();

  absl::StatusOr<strongroom::v1::GetStatusResponse> GetStatus();
  absl::StatusOr<strongroom::v1::CheckHsmResponse> CheckHsm(uint32_t payload_bytes);

 private:
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strongroom::client

#endif  // STRONGROOM_CLIENT_CONNECTION_H_
