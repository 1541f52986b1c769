// The sealed-store client (client/sealed_object.h) against servers that
// misbehave in front of the real one: a reservation or rekey job answered for
// another object, a staged upload whose answer is lost, an upload given up
// before its stream. The client refuses, or discards what it began.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "strongroom/v1/key_management.grpc.pb.h"
#include "tests/storage/sealed/sealed_store_server_fixture.h"

namespace strongroom::server {
namespace {

// A SealedStore in front of the real one (as the same owner) that answers
// BeginUpload, BeginRekey and GetObject for another object than the one
// asked for, as a faulty or hostile server might. Nothing else is served.
class MisnamingStoreProxy final : public v1::SealedStore::Service {
 public:
  explicit MisnamingStoreProxy(const std::shared_ptr<grpc::Channel>& upstream)
      : upstream_(v1::SealedStore::NewStub(upstream)) {}
  grpc::Status BeginUpload(grpc::ServerContext*, const v1::BeginUploadRequest* r,
                           v1::Upload* out) override {
    v1::BeginUploadRequest other = *r;
    other.set_name(r->name() + "-other");
    grpc::ClientContext c;
    return upstream_->BeginUpload(&c, other, out);
  }
  grpc::Status BeginRekey(grpc::ServerContext*, const v1::BeginRekeyRequest* r,
                          v1::StoreJob* out) override {
    v1::BeginRekeyRequest other = *r;
    other.set_name(r->name() + "-other");
    grpc::ClientContext c;
    return upstream_->BeginRekey(&c, other, out);
  }
  grpc::Status GetObject(grpc::ServerContext*, const v1::GetObjectRequest* r,
                         grpc::ServerWriter<v1::GetObjectResponse>* out) override {
    v1::GetObjectRequest other = *r;
    other.set_name(r->name() + "-other");
    grpc::ClientContext c;
    std::unique_ptr<grpc::ClientReader<v1::GetObjectResponse>> in = upstream_->GetObject(&c, other);
    for (v1::GetObjectResponse m; in->Read(&m);) {
      if (!out->Write(m)) break;
    }
    return in->Finish();
  }

 private:
  std::unique_ptr<v1::SealedStore::Stub> upstream_;
};

// The client checks that the server's upload reservation, rekey job and
// read are for the object it asked for, before any key is made, segment
// sent or byte written.
TEST_F(SealedStoreServerTest, TheClientRefusesAReservationOrJobForAnotherObject) {
  ASSERT_OK(Put("r", Pattern(5000, 7)).status());
  ASSERT_OK(Put("r-other", Pattern(5000, 8)).status());
  MisnamingStoreProxy proxy(local_->UpstreamChannel("owner"));
  client::ConnectionOptions via_proxy;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<grpc::Server> server,
                       local_->ServeProxy(&proxy, "owner", &via_proxy));
  ASSERT_OK_AND_ASSIGN(auto conn, client::Connection::Open(via_proxy));

  client::PutObjectOptions put;
  put.dataset = "ds";
  put.name = "r";
  put.segment_size = 64 << 10;
  storage::StringSource source(Pattern(5000, 9));
  EXPECT_THAT(client::PutSealedObject(*conn, put, source),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("BeginUpload: the server reserved datasets/ds/r-other@2")));
  client::RekeyOptions rekey{"ds", "r", 0, nullptr};
  EXPECT_THAT(client::RekeySealedObject(*conn, rekey),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("is for datasets/ds/r-other@1")));
  // A read answered with another object of the same owner (which would
  // decrypt: its header and segments agree) is refused on its header.
  client::GetObjectOptions get;
  get.dataset = "ds";
  get.name = "r";
  storage::StringSink sink;
  EXPECT_THAT(client::GetSealedObject(*conn, get, sink),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("GetObject: asked for ds/r, the server sent ds/r-other@1")));
  EXPECT_TRUE(sink.Release().empty());
  conn.reset();
  server->Shutdown();
  // Neither object changed.
  EXPECT_EQ(Get("r").value_or("FAILED"), Pattern(5000, 7));
  EXPECT_EQ(Get("r-other").value_or("FAILED"), Pattern(5000, 8));
}

// A SealedStore in front of the real one that forwards an upload whole and
// then loses the server's answer to its PutObject, as a connection that
// breaks after the server staged or committed the upload would; the data
// key it forwards too, and discards.
class LostReplyStoreProxy final : public v1::SealedStore::Service {
 public:
  explicit LostReplyStoreProxy(const std::shared_ptr<grpc::Channel>& upstream)
      : upstream_(v1::SealedStore::NewStub(upstream)) {}
  grpc::Status BeginUpload(grpc::ServerContext*, const v1::BeginUploadRequest* r,
                           v1::Upload* out) override {
    grpc::ClientContext c;
    return upstream_->BeginUpload(&c, *r, out);
  }
  grpc::Status PutObject(grpc::ServerContext*, grpc::ServerReader<v1::PutObjectRequest>* in,
                         v1::ObjectInfo*) override {
    grpc::ClientContext c;
    v1::ObjectInfo info;
    std::unique_ptr<grpc::ClientWriter<v1::PutObjectRequest>> up = upstream_->PutObject(&c, &info);
    v1::PutObjectRequest m;
    while (in->Read(&m)) {
      if (!up->Write(m)) break;
    }
    up->WritesDone();
    upstream_status = up->Finish();
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "test proxy: the answer was lost");
  }
  grpc::Status CommitUploads(grpc::ServerContext*, const v1::CommitUploadsRequest* r,
                             v1::CommitUploadsResponse* out) override {
    ++commit_calls;
    grpc::ClientContext c;
    return upstream_->CommitUploads(&c, *r, out);
  }
  grpc::Status upstream_status;
  int commit_calls = 0;

 private:
  std::unique_ptr<v1::SealedStore::Stub> upstream_;
};
class DataKeyProxy final : public v1::KeyManagement::Service {
 public:
  explicit DataKeyProxy(const std::shared_ptr<grpc::Channel>& upstream)
      : upstream_(v1::KeyManagement::NewStub(upstream)) {}
  grpc::Status GenerateDataKey(grpc::ServerContext*, const v1::GenerateDataKeyRequest* r,
                               v1::GenerateDataKeyResponse* out) override {
    grpc::ClientContext c;
    return upstream_->GenerateDataKey(&c, *r, out);
  }

 private:
  std::unique_ptr<v1::KeyManagement::Stub> upstream_;
};

// An upload the client gives up on before its stream starts (here a segment
// size the server does not take) is discarded at once, not left open for
// the idle sweep.
TEST_F(SealedStoreServerTest, AnUploadGivenUpBeforeItsStreamIsDiscardedAtOnce) {
  client::PutObjectOptions put;
  put.dataset = "ds";
  put.name = "too-big-segments";
  put.segment_size = 64 << 20;
  storage::StringSource source(Pattern(5000, 4));
  EXPECT_THAT(client::PutSealedObject(As("owner"), put, source),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("segment size")));
  ExpectConsistent();  // no upload left open
}

// A staged upload whose answer did not arrive may be staged at the server:
// the client discards it (the caller, with no StagedObject for it, could
// not), so it does not hold its bytes against the quota until the sweep.
TEST_F(SealedStoreServerTest, AStagedUploadWhoseAnswerWasLostIsDiscarded) {
  LostReplyStoreProxy store_proxy(local_->UpstreamChannel("owner"));
  DataKeyProxy kms_proxy(local_->UpstreamChannel("owner"));
  client::ConnectionOptions via_proxy;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<grpc::Server> server,
                       local_->ServeProxy({&store_proxy, &kms_proxy}, "owner", &via_proxy));
  ASSERT_OK_AND_ASSIGN(auto conn, client::Connection::Open(via_proxy));
  client::PutObjectOptions put;
  put.dataset = "ds";
  put.name = "lost";
  put.segment_size = 64 << 10;
  storage::StringSource source(Pattern(5000, 3));
  EXPECT_THAT(client::StageSealedObject(*conn, put, source),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("the answer was lost")));
  EXPECT_TRUE(store_proxy.upstream_status.ok()) << store_proxy.upstream_status.error_message();
  EXPECT_EQ(store_proxy.commit_calls, 1);  // the discard
  conn.reset();
  server->Shutdown();
  EXPECT_THAT(Get("lost"), StatusIs(absl::StatusCode::kNotFound));
  ExpectConsistent();  // no upload left open
}

}  // namespace
}  // namespace strongroom::server
