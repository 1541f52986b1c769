#include "client/connection.h"

#include <fstream>
#include <sstream>

#include <grpcpp/grpcpp.h>
#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "strongroom/v1/system.grpc.pb.h"

namespace strongroom::client {
namespace {

namespace v1 = ::strongroom::v1;

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view what) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": no file given"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(what, ": file '", path, "' cannot be read"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status FromGrpc(const grpc::Status& s, absl::string_view rpc) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(rpc, ": ", s.error_message()));
}

}  // namespace

struct Connection::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::System::Stub> system;
  absl::Duration timeout;

  void Prepare(grpc::ClientContext& ctx) const {
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const ConnectionOptions& o) {
  if (o.address.empty()) return absl::InvalidArgumentError("--server: no address given");
  ASSIGN_OR_RETURN(std::string ca, ReadPem(o.ca_file, "--ca"));
  ASSIGN_OR_RETURN(std::string cert, ReadPem(o.cert_file, "--cert"));
  ASSIGN_OR_RETURN(std::string key, ReadPem(o.key_file, "--key"));
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ca;
  tls.pem_cert_chain = cert;
  tls.pem_private_key = key;
  auto creds = grpc::SslCredentials(tls);
  OPENSSL_cleanse(key.data(), key.size());
  OPENSSL_cleanse(tls.pem_private_key.data(), tls.pem_private_key.size());
  grpc::ChannelArguments args;
  std::string server_name = o.server_name;
  if (server_name.empty()) server_name = o.address.substr(0, o.address.rfind(':'));
  args.SetSslTargetNameOverride(server_name);
  auto impl = std::make_unique<Impl>();
  impl->channel = grpc::CreateCustomChannel(o.address, creds, args);
  impl->system = v1::System::NewStub(impl->channel);
  impl->timeout = o.timeout;
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

absl::StatusOr<v1::GetStatusResponse> Connection::GetStatus() {
  grpc::ClientContext ctx;
  impl_->Prepare(ctx);
  v1::GetStatusResponse response;
  RETURN_IF_ERROR(FromGrpc(impl_->system->GetStatus(&ctx, {}, &response), "GetStatus"));
  return response;
}

absl::StatusOr<v1::CheckHsmResponse> Connection::CheckHsm(uint32_t payload_bytes) {
  grpc::ClientContext ctx;
  impl_->Prepare(ctx);
  v1::CheckHsmRequest request;
  request.set_payload_bytes(payload_bytes);
  v1::CheckHsmResponse response;
  RETURN_IF_ERROR(FromGrpc(impl_->system->CheckHsm(&ctx, request, &response), "CheckHsm"));
  return response;
}

}  // namespace strongroom::client
