// DatasetTokenTest: a KeyBroker with dataset tokens over an in-memory
// DatasetDirectory (FakeDirectory) holding real sealed headers whose data
// keys the real KMS wrapped (the owner's way), datasets "ds", "other" and
// "nopolicy" under the key "dk", and helpers for tokens and object keys.
#ifndef STRONGROOM_TESTS_KMS_BROKER_DATASET_TOKEN_FIXTURE_H_
#define STRONGROOM_TESTS_KMS_BROKER_DATASET_TOKEN_FIXTURE_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include "absl/strings/str_split.h"
#include "kms/broker/key_broker.h"
#include "storage/sealed/sealed_header.h"
#include "storage/sealed/segment_stream.h"
#include "tests/kms/broker/broker_fixture.h"

namespace strongroom::kms {

class FakeDirectory final : public DatasetDirectory {
 public:
  absl::StatusOr<v1::Dataset> LookupDataset(absl::string_view id) override {
    if (!fail_lookups.ok()) return fail_lookups;
    auto it = datasets.find(std::string(id));
    if (it == datasets.end()) return absl::NotFoundError(absl::StrCat("dataset ", id));
    return it->second;
  }
  absl::StatusOr<StoredObject> LookupObject(absl::string_view dataset_id, absl::string_view name,
                                            uint64_t version) override {
    auto it = objects.find(absl::StrCat(dataset_id, "/", name, "@", version));
    if (it == objects.end()) return absl::NotFoundError("object");
    return it->second;
  }
  absl::StatusOr<PendingUpload> LookupUpload(absl::string_view upload_id) override {
    auto it = uploads.find(std::string(upload_id));
    if (it == uploads.end()) return absl::NotFoundError("upload");
    return it->second;
  }
  std::map<std::string, v1::Dataset> datasets;
  std::map<std::string, StoredObject> objects;  // "ds/name@v"
  std::map<std::string, PendingUpload> uploads;
  absl::Status fail_lookups;  // not OK: what LookupDataset answers
};

inline Bytes Info(absl::string_view label, absl::string_view ds, absl::string_view name, uint64_t v,
                  absl::string_view key_version, absl::string_view token_id) {
  std::string s(label);
  for (std::string part : {std::string("datasets/") + std::string(ds), std::string(name),
                           std::to_string(v), std::string(key_version), std::string(token_id)}) {
    s.push_back('\0');
    s += part;
  }
  return Bytes(s.begin(), s.end());
}

class DatasetTokenTest : public BrokerFixture {
 protected:
  void SetUp() override {
    BrokerFixture::SetUp();
    // Policy "p" and reference values "approved" (the key "k" itself is
    // not used: datasets have their own key "dk", without a release policy).
    MakeReleasableKey();
    MakeKey("dk", /*hsm=*/false, /*dual=*/false, /*destroy_wait=*/0);
    AddDataset("ds", "policies/p");
    AddDataset("other", "policies/p");
    AddDataset("nopolicy", "");
    broker_->SetDatasetDirectory(&dir_);
  }
  void TearDown() override {
    broker_->SetDatasetDirectory(nullptr);
    BrokerFixture::TearDown();
  }

  void AddDataset(const std::string& id, const std::string& policy,
                  const std::string& key = "keys/dk") {
    v1::Dataset d;
    d.set_name("datasets/" + id);
    d.set_owner(kOwner.principal);
    d.set_key(key);
    d.set_release_policy(policy);
    dir_.datasets[id] = d;
  }

  // An object as an owner's client stores it: a data key from the KMS with
  // the object's context, in a sealed header. Returns the data key.
  std::string AddObject(const std::string& ds, const std::string& name, uint64_t version,
                        const std::string& key = "keys/dk") {
    v1::GenerateDataKeyRequest g;
    g.set_name(key);
    for (const auto& [k, v] : storage::sealed::DataKeyContext(ds, name, version)) {
      (*g.mutable_encryption_context())[k] = v;
    }
    auto dk = km_->GenerateDataKey(kOwner, g);
    EXPECT_OK(dk.status());
    storage::sealed::SealedHeader h;
    h.params.hkdf_hash = storage::HkdfHash::kSha256;
    h.params.derived_key_size = 32;
    h.params.ciphertext_segment_size = 1 << 16;
    h.params.ciphertext_offset = 0;
    h.key_name = key;
    auto ref = storage::sealed::ParseWrappedKeyReference(AsBytes(dk->ciphertext()), "wrapped");
    EXPECT_OK(ref.status());
    h.key_version = ref->version;
    h.wrapped_key.assign(dk->ciphertext().begin(), dk->ciphertext().end());
    h.dataset = ds;
    h.name = name;
    h.version = version;
    auto sh = storage::sealed::NewStreamHeader(h.params);
    EXPECT_OK(sh.status());
    h.stream_header = *sh;
    EXPECT_OK(h.Validate());
    DatasetDirectory::StoredObject o;
    o.info.set_dataset("datasets/" + ds);
    o.info.set_name(name);
    o.info.set_version(version);
    const Bytes encoded = h.Encode();
    o.header.assign(encoded.begin(), encoded.end());
    dir_.objects[absl::StrCat(ds, "/", name, "@", version)] = o;
    dir_.objects[absl::StrCat(ds, "/", name, "@0")] = o;
    return dk->plaintext();
  }

  absl::StatusOr<std::string> DatasetToken(const Caller& c, const Workload& w,
                                           const std::string& ds,
                                           const Bytes& measurement = kGoodMeasurement) {
    ASSIGN_OR_RETURN(std::string nonce, Challenge(c, "datasets/" + ds));
    ASSIGN_OR_RETURN(v1::EvidenceItem item, Evidence(w, nonce, measurement));
    ASSIGN_OR_RETURN(auto resp, AttestWith(c, w, nonce, item, "datasets/" + ds));
    return resp.token();
  }

  absl::StatusOr<v1::GetObjectKeyResponse> ObjectKey(const Caller& c, const std::string& token,
                                                     const hpke::PublicKey& pk,
                                                     const std::string& ds, const std::string& name,
                                                     uint64_t version = 0) {
    v1::GetObjectKeyRequest r;
    r.set_token(token);
    r.set_dataset(ds);
    r.set_name(name);
    r.set_version(version);
    r.set_public_key(std::string(AsStringView(pk.Serialize())));
    return broker_->GetObjectKey(c, r);
  }

  static nlohmann::json Claims(const std::string& token) {
    std::vector<std::string> parts = absl::StrSplit(token, '.');
    auto payload = Base64UrlDecode(parts.at(1));
    return nlohmann::json::parse(payload->begin(), payload->end());
  }

  std::string AuditJsonl() {
    std::ostringstream out;
    EXPECT_OK(audit_->Export(1, out));
    return out.str();
  }

  FakeDirectory dir_;
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_TESTS_KMS_BROKER_DATASET_TOKEN_FIXTURE_H_
