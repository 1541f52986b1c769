// The sealed store end to end in one process: strongroomd's server object on
// 127.0.0.1 port 0 over mutual TLS with a real SoftHSM token and RocksDB,
// driven through the client SDK (client/sealed_object.h) as owners, admins,
// auditors and workloads. Covers round trips and ranges, tampering, wrong
// keys, truncated uploads, KMS rotation with header re-wrap, destruction of
// a key version, rekey, and authorization (the client against misbehaving
// servers: sealed_store_client_test.cc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/testing/status_matchers.h"
#include "client/connection.h"
#include "client/sealed_object.h"
#include "server/sealed_store_service.h"
#include "server/server.h"
#include "storage/sealed/object_db.h"
#include "storage/sealed/sealed_header.h"
#include "storage/sealed/segment_stream.h"
#include "storage/streaming/streaming_aead_params.h"
#include "tests/client/loopback_server.h"
#include "tests/storage/sealed/sealed_store_server_fixture.h"

namespace strongroom::server {
namespace {

TEST_F(SealedStoreServerTest, PutGetRoundTripsAndRanges) {
  const std::string data = Pattern(3 * 1000 * 1000 + 17);
  ASSERT_OK_AND_ASSIGN(v1::ObjectInfo info, Put("models/m.bin", data));
  EXPECT_EQ(info.version(), 1u);
  EXPECT_EQ(info.size(), data.size());
  EXPECT_EQ(info.key(), "keys/k1");
  EXPECT_EQ(info.key_version(), 1u);
  EXPECT_EQ(Get("models/m.bin").value_or("FAILED"), data);
  for (auto [a, b] : {std::pair<uint64_t, uint64_t>{0, 1},
                      {65479, 65481},
                      {1000000, 2000000},
                      {data.size() - 1, data.size()},
                      {0, data.size()}}) {
    EXPECT_EQ(Get("models/m.bin", 0, a, b).value_or("FAILED"), data.substr(a, b - a))
        << a << "-" << b;
  }
  // An empty object, and one that fills its segments exactly.
  ASSERT_OK(Put("empty", "").status());
  EXPECT_EQ(Get("empty").value_or("FAILED"), "");
  const std::string exact = Pattern(65536 - 40 - 16 + 2 * (65536 - 16), 3);
  ASSERT_OK_AND_ASSIGN(v1::ObjectInfo e, Put("exact", exact));
  EXPECT_EQ(e.segment_count(), 3u);
  EXPECT_EQ(Get("exact").value_or("FAILED"), exact);
  // The raw export is header + segments: what the store holds, undecrypted.
  ASSERT_OK_AND_ASSIGN(std::string raw, Get("exact", 0, 0, {}, "owner", true));
  EXPECT_EQ(raw.size(), e.stored_bytes());
  EXPECT_EQ(raw.substr(0, 4), "SRSO");
  EXPECT_EQ(raw.find(exact.substr(1000, 64)), std::string::npos);
  ExpectConsistent();
}

// The client encrypts each segment straight into its message, reading one
// segment ahead to know which is the last: whatever the sizes of the
// source's reads, an object at or beside a segment boundary gets exactly
// the writer's segment count and reads back.
TEST_F(SealedStoreServerTest, PutCutsSegmentsExactlyWhateverTheSourceReads) {
  // Hands out 1..997 bytes per Read(), never a whole segment at once.
  struct DribbleSource : storage::ByteSource {
    explicit DribbleSource(std::string d) : data(std::move(d)) {}
    absl::StatusOr<size_t> Read(std::span<uint8_t> out) override {
      const size_t n = std::min({out.size(), data.size() - pos, 1 + (pos * 7919) % 997});
      std::memcpy(out.data(), data.data() + pos, n);
      pos += n;
      return n;
    }
    std::string data;
    size_t pos = 0;
  };
  constexpr uint32_t kSegment = 16 << 10;
  storage::StreamingAeadParams params;
  params.hkdf_hash = storage::HkdfHash::kSha256;
  params.derived_key_size = 32;
  params.ciphertext_segment_size = kSegment;
  const size_t first = params.first_plaintext_segment_size();
  const size_t full = params.plaintext_segment_size();
  int n = 0;
  for (size_t size : {size_t{0}, size_t{1}, first - 1, first, first + 1, first + full,
                      first + full + 1, first + 3 * full}) {
    SCOPED_TRACE(size);
    const std::string data = Pattern(size, n);
    client::PutObjectOptions o;
    o.dataset = "ds";
    o.name = absl::StrCat("dribble-", n++);
    o.segment_size = kSegment;
    DribbleSource source(data);
    ASSERT_OK_AND_ASSIGN(v1::ObjectInfo info, client::PutSealedObject(As("owner"), o, source));
    EXPECT_EQ(info.size(), size);
    EXPECT_EQ(info.segment_count(), params.SegmentCount(size));
    ASSERT_OK_AND_ASSIGN(uint64_t stream_bytes, params.CiphertextSize(size));
    EXPECT_EQ(info.stored_bytes(), info.header_bytes() + stream_bytes - params.header_size());
    EXPECT_EQ(Get(o.name).value_or("FAILED"), data);
  }
  ExpectConsistent();
}

// The server stores segments on a writer thread of the upload's own; a
// segment it refuses mid-stream (here: over the quota) still fails the
// upload with the store's status and leaves nothing behind.
TEST_F(SealedStoreServerTest, SegmentRefusedMidStreamFailsTheUploadAndLeavesNothing) {
  v1::CreateDatasetRequest d;
  d.set_dataset_id("small");
  d.set_owner(absl::StrCat(kP, "owner"));
  d.set_key("k1");
  d.set_quota_bytes(200000);
  ASSERT_OK(As("admin").CreateDataset(d).status());
  client::PutObjectOptions o;
  o.dataset = "small";
  o.name = "big";
  o.segment_size = 16 << 10;
  storage::StringSource source(Pattern(1000000));
  EXPECT_THAT(client::PutSealedObject(As("owner"), o, source),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("quota of 200000 bytes")));
  v1::StatObjectRequest s;
  s.set_dataset("small");
  s.set_name("big");
  EXPECT_THAT(As("owner").StatObject(s), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(v1::StoreCheck c, Store().Check());
  EXPECT_EQ(c.segments(), 0u);
  EXPECT_EQ(c.open_uploads(), 0u);
  EXPECT_TRUE(c.ok());
  // The quota is free again: an object that fits goes in.
  o.name = "fits";
  storage::StringSource fits(Pattern(150000));
  ASSERT_OK(client::PutSealedObject(As("owner"), o, fits).status());
  ExpectConsistent();
}

TEST_F(SealedStoreServerTest, TamperedSegmentIsDetectedAndTheStoreIsUnchanged) {
  const std::string data = Pattern(300000);
  ASSERT_OK(Put("t", data).status());
  ASSERT_OK_AND_ASSIGN(std::string before, Get("t", 0, 0, {}, "owner", true));
  // Flip one bit of segment 2 on disk, behind the server's back.
  std::string space;
  ASSERT_OK(Store().db().Scan("o/", "", [&](absl::string_view, absl::string_view v) {
    v1::SealedObjectRecord r;
    EXPECT_TRUE(r.ParseFromArray(v.data(), static_cast<int>(v.size())));
    space = r.space();
    return false;
  }));
  const std::string key = storage::sealed::keys::Segment(space, 2);
  ASSERT_OK_AND_ASSIGN(std::string segment, Store().db().Get(key));
  std::string flipped = segment;
  flipped[100] ^= 0x04;
  rocksdb::WriteOptions w;
  ASSERT_TRUE(Store().db().raw()->Put(w, key, flipped).ok());
  EXPECT_THAT(Get("t"), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("segment 2: ciphertext does not authenticate")));
  // Ranges that do not touch segment 2 still read.
  EXPECT_EQ(Get("t", 0, 0, 1000).value_or("FAILED"), data.substr(0, 1000));
  // The failed read changed nothing: the stored bytes are exactly what we put.
  ASSERT_OK_AND_ASSIGN(std::string after, Get("t", 0, 0, {}, "owner", true));
  EXPECT_EQ(after.size(), before.size());
  EXPECT_NE(after, before);  // only our own flip
  ASSERT_TRUE(Store().db().raw()->Put(w, key, segment).ok());
  ASSERT_OK_AND_ASSIGN(after, Get("t", 0, 0, {}, "owner", true));
  EXPECT_EQ(after, before);
  EXPECT_EQ(Get("t").value_or("FAILED"), data);
}

TEST_F(SealedStoreServerTest, WrongKeyAndWrongObjectAreRefused) {
  ASSERT_OK(Put("a", Pattern(1000)).status());
  ASSERT_OK(Put("b", Pattern(1000, 1)).status());
  client::GetObjectOptions o;
  o.dataset = "ds";
  o.name = "a";
  o.open_key = [](const storage::sealed::SealedHeader&) -> absl::StatusOr<SecretBytes> {
    return SecretBytes::Random(32);
  };
  storage::StringSink sink;
  EXPECT_THAT(client::GetSealedObject(As("owner"), o, sink),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not authenticate")));
  // --key naming another key than the dataset's is refused before upload.
  client::PutObjectOptions p;
  p.dataset = "ds";
  p.name = "c";
  p.expected_key = "k2";
  storage::StringSource source("x");
  EXPECT_THAT(client::PutSealedObject(As("owner"), p, source),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--key")));
  // Another owner's key is no use for this dataset, and the KMS refuses it.
  v1::CreateKeyRequest k;
  k.set_key_id("k2");
  k.set_owner(absl::StrCat(kP, "owner2"));
  ASSERT_OK(As("admin").CreateKey(k).status());
  v1::CreateDatasetRequest d;
  d.set_dataset_id("ds2");
  d.set_key("k2");
  EXPECT_THAT(As("owner").CreateDataset(d), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(SealedStoreServerTest, InterruptedUploadLeavesNothing) {
  v1::BeginUploadRequest b;
  b.set_dataset("ds");
  b.set_name("partial");
  ASSERT_OK_AND_ASSIGN(v1::Upload up, As("owner").BeginUpload(b));
  {
    auto stream = As("owner").PutObject();
    v1::PutObjectRequest m;
    m.mutable_start()->set_upload_id(up.upload_id());
    m.mutable_start()->set_header("SRSO-garbage");
    stream->Write(m);
    EXPECT_THAT(stream->Finish(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("start.header")));
  }
  // A well-formed upload cut off after some segments (the client dies).
  struct CutSource : storage::ByteSource {
    absl::StatusOr<size_t> Read(std::span<uint8_t> out) override {
      if (sent >= 600000) return absl::AbortedError("client killed");
      std::fill(out.begin(), out.end(), 7);
      sent += out.size();
      return out.size();
    }
    size_t sent = 0;
  } cut;
  client::PutObjectOptions p;
  p.dataset = "ds";
  p.name = "partial";
  p.segment_size = 64 << 10;
  EXPECT_THAT(client::PutSealedObject(As("owner"), p, cut),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("client killed")));
  v1::StatObjectRequest s;
  s.set_dataset("ds");
  s.set_name("partial");
  EXPECT_THAT(As("owner").StatObject(s), StatusIs(absl::StatusCode::kNotFound));
  // The server discards the upload when the stream is cancelled.
  for (int i = 0; i < 500; ++i) {  // up to 10 s on a loaded machine
    absl::StatusOr<v1::StoreCheck> c = Store().Check();
    if (c.ok() && c->segments() == 0) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_OK_AND_ASSIGN(v1::StoreCheck c, Store().Check());
  EXPECT_EQ(c.segments(), 0u);
  EXPECT_TRUE(c.ok());
}

TEST_F(SealedStoreServerTest, RotationRewrapAndDestructionOfAKeyVersion) {
  const std::string a = Pattern(200000, 1), b = Pattern(100000, 2);
  ASSERT_OK(Put("a", a).status());
  ASSERT_OK_AND_ASSIGN(std::string raw_before, Get("a", 0, 0, {}, "owner", true));
  v1::RotateKeyRequest rotate;
  rotate.set_name("keys/k1");
  ASSERT_OK(As("admin").RotateKey(rotate).status());
  ASSERT_OK_AND_ASSIGN(v1::ObjectInfo binfo, Put("b", b));
  EXPECT_EQ(binfo.key_version(), 2u);
  // What destroying version 1 would affect, before it is scheduled.
  v1::ListObjectsRequest affected;
  affected.set_key("k1");
  affected.set_key_version(1);
  ASSERT_OK_AND_ASSIGN(auto on_v1, As("owner").ListObjects(affected));
  ASSERT_EQ(on_v1.objects_size(), 1);
  EXPECT_EQ(on_v1.objects(0).name(), "a");
  // Re-wrap: headers move to version 2, segments stay byte for byte.
  v1::StartRewrapRequest rw;
  rw.set_dataset("ds");
  ASSERT_OK_AND_ASSIGN(v1::StoreJob job, As("admin").StartRewrap(rw));
  job = WaitForJob(job.id());
  EXPECT_EQ(job.state(), v1::DONE);
  EXPECT_EQ(job.done(), 1u);
  EXPECT_EQ(job.skipped(), 1u);
  ASSERT_OK_AND_ASSIGN(on_v1, As("owner").ListObjects(affected));
  EXPECT_EQ(on_v1.objects_size(), 0);
  ASSERT_OK_AND_ASSIGN(std::string raw_after, Get("a", 0, 0, {}, "owner", true));
  ASSERT_OK_AND_ASSIGN(size_t header_before,
                       storage::sealed::PeekSealedHeaderSize(AsBytes(raw_before)));
  ASSERT_OK_AND_ASSIGN(size_t header_after,
                       storage::sealed::PeekSealedHeaderSize(AsBytes(raw_after)));
  EXPECT_EQ(raw_after.substr(header_after), raw_before.substr(header_before));
  EXPECT_NE(raw_after.substr(0, header_after), raw_before.substr(0, header_before));
  EXPECT_EQ(Get("a").value_or("FAILED"), a);
  // Version 1 can go now without losing anything.
  v1::DestroyKeyVersionRequest destroy;
  destroy.set_name("keys/k1/versions/1");
  ASSERT_OK(As("admin").DestroyKeyVersion(destroy).status());
  EXPECT_EQ(Get("a").value_or("FAILED"), a);
  // Destroying version 2 makes every object under it unreadable.
  ASSERT_OK(As("admin").RotateKey(rotate).status());
  affected.set_key_version(2);
  ASSERT_OK_AND_ASSIGN(auto on_v2, As("owner").ListObjects(affected));
  EXPECT_EQ(on_v2.objects_size(), 2);
  destroy.set_name("keys/k1/versions/2");
  ASSERT_OK(As("admin").DestroyKeyVersion(destroy).status());
  EXPECT_THAT(Get("a"), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("Decrypt")));
  EXPECT_THAT(Get("b"), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("Decrypt")));
  ExpectConsistent();
}

TEST_F(SealedStoreServerTest, RekeyReplacesTheDataKey) {
  const std::string data = Pattern(500000, 4);
  ASSERT_OK(Put("r", data).status());
  ASSERT_OK_AND_ASSIGN(std::string raw_before, Get("r", 0, 0, {}, "owner", true));
  client::RekeyOptions o{"ds", "r", 0, nullptr};
  ASSERT_OK_AND_ASSIGN(v1::StoreJob job, client::RekeySealedObject(As("owner"), o));
  EXPECT_EQ(job.state(), v1::DONE);
  EXPECT_EQ(job.done(), job.total());
  ASSERT_OK_AND_ASSIGN(std::string raw_after, Get("r", 0, 0, {}, "owner", true));
  EXPECT_EQ(raw_after.size(), raw_before.size());
  EXPECT_NE(raw_after.substr(raw_after.size() - 1000), raw_before.substr(raw_before.size() - 1000));
  EXPECT_EQ(Get("r").value_or("FAILED"), data);
  v1::StatObjectRequest s;
  s.set_dataset("ds");
  s.set_name("r");
  ASSERT_OK_AND_ASSIGN(v1::ObjectInfo info, As("auditor").StatObject(s));
  EXPECT_GT(info.rekey_time_unix_micros(), 0);
  ExpectConsistent();
  // The swap is in the audit chain, after its request, as BeginRekey is.
  ASSERT_OK_AND_ASSIGN(v1::ExportAuditResponse exported,
                       As("auditor").ExportAudit(v1::ExportAuditRequest()));
  const std::string& log = exported.jsonl();
  const size_t requested = log.find("\"action\":\"finish_rekey\"");
  ASSERT_NE(requested, std::string::npos);
  EXPECT_NE(log.find("the new data key is in", requested), std::string::npos);
  EXPECT_NE(log.find(absl::StrCat("jobs/", job.id())), std::string::npos);
}

// `finish: false` is refused, naming the field, rather than read as
// "finish": with every segment stored, it would otherwise swap in the new
// header.
TEST_F(SealedStoreServerTest, RekeyFinishFalseIsRefused) {
  ASSERT_OK(Put("f", Pattern(300000, 5)).status());
  v1::GetObjectRequest get;
  get.set_dataset("ds");
  get.set_name("f");
  auto read = As("owner").GetObject(get);
  v1::GetObjectResponse message_in;
  ASSERT_TRUE(read->Read(&message_in));
  ASSERT_TRUE(message_in.has_head());
  const std::string old_header = message_in.head().header();
  std::vector<v1::ObjectSegment> segments;
  while (read->Read(&message_in)) segments.push_back(message_in.segment());
  ASSERT_OK(read->Finish());
  ASSERT_GT(segments.size(), 1u);
  v1::BeginRekeyRequest begin;
  begin.set_dataset("ds");
  begin.set_name("f");
  ASSERT_OK_AND_ASSIGN(v1::StoreJob job, As("owner").BeginRekey(begin));
  ASSERT_EQ(job.total(), segments.size());
  auto upload = As("owner").PutRekeySegments();
  v1::PutRekeySegmentsRequest message;
  message.mutable_start()->set_job_id(job.id());
  // The object's header with a fresh stream header, as a client's rekey
  // sends; the server stores segments of the right sizes without reading them.
  ASSERT_OK_AND_ASSIGN(storage::sealed::SealedHeader header,
                       storage::sealed::ParseSealedHeader(AsBytes(old_header)));
  ASSERT_OK_AND_ASSIGN(header.stream_header, storage::sealed::NewStreamHeader(header.params));
  message.mutable_start()->set_header(std::string(AsStringView(header.Encode())));
  ASSERT_TRUE(upload->Write(message));
  for (const v1::ObjectSegment& segment : segments) {
    *message.mutable_segment() = segment;
    ASSERT_TRUE(upload->Write(message));
  }
  message.set_finish(false);
  upload->Write(message);
  EXPECT_THAT(upload->Finish(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("finish: must be true")));
  v1::GetJobRequest g;
  g.set_id(job.id());
  ASSERT_OK_AND_ASSIGN(v1::StoreJob after, As("owner").GetJob(g));
  EXPECT_EQ(after.state(), v1::RUNNING);
  EXPECT_EQ(after.done(), segments.size());
  EXPECT_EQ(Get("f").value_or("FAILED"), Pattern(300000, 5));  // still the old header
}

TEST_F(SealedStoreServerTest, RolesAreEnforced) {
  ASSERT_OK(Put("x", "secret data").status());
  EXPECT_THAT(Get("x", 0, 0, {}, "admin"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Get("x", 0, 0, {}, "auditor"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Get("x", 0, 0, {}, "owner2"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Get("x", 0, 0, {}, "workload"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token")));
  client::GetObjectOptions w;
  w.dataset = "ds";
  w.name = "x";
  // The server wires the key broker: a token that is no token is refused
  // by it, with a reason id and nothing about the dataset.
  w.token = "eyJ.not.atoken";
  storage::StringSink sink;
  EXPECT_THAT(client::GetSealedObject(As("workload"), w, sink),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused: token_invalid")));
  v1::StatObjectRequest s;
  s.set_dataset("ds");
  s.set_name("x");
  EXPECT_OK(As("auditor").StatObject(s).status());
  EXPECT_THAT(As("owner2").StatObject(s), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(As("auditor").CheckStore(v1::CheckStoreRequest()).status(),
              ::strongroom::testing::IsOk());
  EXPECT_THAT(As("owner").CheckStore(v1::CheckStoreRequest()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  client::PutObjectOptions p;
  p.dataset = "ds";
  p.name = "y";
  storage::StringSource source("z");
  EXPECT_THAT(client::PutSealedObject(As("owner2"), p, source),
              StatusIs(absl::StatusCode::kPermissionDenied));
  v1::DeleteObjectRequest d;
  d.set_dataset("ds");
  d.set_name("x");
  d.set_version(1);
  EXPECT_THAT(As("auditor").DeleteObject(d), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_OK(As("admin").DeleteObject(d).status());
}

}  // namespace
}  // namespace strongroom::server
