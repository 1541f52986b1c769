// WorkloadClient: sealed store reads and writes with a dataset token
// (docs/sealed-store.md, "Workload reads and writes").
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"
#include "client/workload.h"
#include "client/workload_internal.h"
#include "kms/hpke/hpke.h"
#include "kms/hpke/suite.h"

namespace strongroom::client {
namespace {

namespace v1 = ::strongroom::v1;
namespace hpke = ::strongroom::kms::hpke;

absl::Status Corrupt(absl::string_view field, absl::string_view why) {
  return absl::DataLossError(absl::StrCat("sealed object key: ", field, ": ", why));
}

std::string DatasetId(absl::string_view dataset) {
  absl::ConsumePrefix(&dataset, "datasets/");
  return std::string(dataset);
}

// Remember whether anything moved: a retry with a fresh token is only safe
// before the first byte was read from the input or written to the output.
class CountingSource final : public storage::ByteSource {
 public:
  explicit CountingSource(storage::ByteSource& in) : in_(in) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> out) override {
    touched_ = true;
    return in_.Read(out);
  }
  bool touched() const { return touched_; }

 private:
  storage::ByteSource& in_;
  bool touched_ = false;
};

class CountingSink final : public storage::ByteSink {
 public:
  explicit CountingSink(storage::ByteSink& out) : out_(out) {}
  absl::Status Append(std::span<const uint8_t> data) override {
    touched_ = true;
    return out_.Append(data);
  }
  absl::StatusOr<std::span<uint8_t>> Lend(size_t n) override {
    touched_ = true;
    return out_.Lend(n);
  }
  absl::Status Commit(size_t n) override { return out_.Commit(n); }
  bool touched() const { return touched_; }

 private:
  storage::ByteSink& out_;
  bool touched_ = false;
};

}  // namespace

Bytes ObjectKeyInfo(absl::string_view label, absl::string_view dataset_id, absl::string_view name,
                    uint64_t version, absl::string_view key_version, absl::string_view token_id) {
  const std::string s =
      absl::StrCat(label, absl::string_view("\0", 1), "datasets/", dataset_id,
                   absl::string_view("\0", 1), name, absl::string_view("\0", 1), version,
                   absl::string_view("\0", 1), key_version, absl::string_view("\0", 1), token_id);
  return Bytes(s.begin(), s.end());
}

absl::StatusOr<SecretBytes> OpenSealedObjectKey(
    const hpke::PrivateKey& private_key, const v1::SealedKey& sealed, absl::string_view label,
    absl::string_view dataset_id, absl::string_view name, uint64_t version,
    absl::string_view key_name, absl::string_view token_id) {
  const hpke::Kem kem = private_key.kem();
  const v1::HpkeKem want_kem = kem == hpke::Kem::kDhkemX25519HkdfSha256 ? v1::HPKE_KEM_X25519_SHA256
                                                                        : v1::HPKE_KEM_P256_SHA256;
  const v1::HpkeKem got_kem =
      sealed.kem() == v1::HPKE_KEM_UNSPECIFIED ? v1::HPKE_KEM_P256_SHA256 : sealed.kem();
  if (got_kem != want_kem) {
    return Corrupt("kem", absl::StrCat(v1::HpkeKem_Name(sealed.kem()), " is not ",
                                       v1::HpkeKem_Name(want_kem)));
  }
  if (token_id.empty() || sealed.token_id() != token_id) {
    return Corrupt("token_id",
                   absl::StrCat("'", sealed.token_id(), "' is not the token's '", token_id, "'"));
  }
  const std::string prefix = absl::StrCat(key_name, "/versions/");
  uint32_t key_version = 0;
  if (!absl::StartsWith(sealed.key_version(), prefix) ||
      !internal::ParseCanonicalVersion(
          absl::string_view(sealed.key_version()).substr(prefix.size()), &key_version)) {
    return Corrupt("key_version",
                   absl::StrCat("'", sealed.key_version(),
                                "' is not a version of the object's key ", key_name));
  }
  const Bytes info =
      ObjectKeyInfo(label, dataset_id, name, version, sealed.key_version(), sealed.token_id());
  if (AsStringView(info) != sealed.info()) {
    return Corrupt("info", absl::StrCat("is not \"", label,
                                        "\" 0 dataset 0 name 0 version 0 key_version 0 token_id "
                                        "of the object asked for"));
  }
  ASSIGN_OR_RETURN(hpke::Suite suite,
                   hpke::Suite::Create(kem, hpke::Kdf::kHkdfSha256, hpke::Aead::kAes256Gcm));
  absl::StatusOr<SecretBytes> opened = hpke::Open(suite, private_key, AsBytes(sealed.enc()), info,
                                                  info, AsBytes(sealed.ciphertext()));
  if (!opened.ok()) return Corrupt("ciphertext", opened.status().message());
  if (opened->size() != 32) {
    return Corrupt("ciphertext", absl::StrCat(opened->size(), "-byte data key, expected 32"));
  }
  return opened;
}

absl::StatusOr<v1::ObjectInfo> WorkloadClient::GetObject(GetObjectOptions options,
                                                         storage::ByteSink& out) {
  const std::string dataset_id = DatasetId(options.dataset);
  options.dataset = dataset_id;
  const std::string resource = absl::StrCat("datasets/", dataset_id);
  const std::string pk(AsStringView(key_pair_.public_key.Serialize()));
  CountingSink sink(out);
  auto get = [&](const HeldToken& held) -> absl::StatusOr<v1::ObjectInfo> {
    GetObjectOptions o = options;
    o.token = held.token;
    o.open_key = [&](const storage::sealed::SealedHeader& h) -> absl::StatusOr<SecretBytes> {
      // The key of the very version the server sent (version 0 asked for
      // the latest; the header says which one that was).
      if (options.before_key_for_testing) options.before_key_for_testing();
      v1::GetObjectKeyRequest req;
      req.set_token(held.token);
      req.set_dataset(h.dataset);
      req.set_name(h.name);
      req.set_version(h.version);
      req.set_public_key(pk);
      req.set_stream_header(std::string(AsStringView(h.stream_header)));
      ASSIGN_OR_RETURN(v1::GetObjectKeyResponse resp, connection_->GetObjectKey(req));
      if (!resp.has_sealed()) {
        return absl::DataLossError("GetObjectKey: the response carries no sealed key");
      }
      return OpenSealedObjectKey(key_pair_.private_key, resp.sealed(), kObjectKeyLabel, h.dataset,
                                 h.name, h.version, h.key_name, held.token_id);
    };
    return GetSealedObject(*connection_, o, sink);
  };
  // A rekey committed between the head and the key (ABORTED from the
  // broker, before any byte was written) is read again, from the new head.
  auto get_anew_if_rekeyed = [&](const HeldToken& held) {
    absl::StatusOr<v1::ObjectInfo> r = get(held);
    for (int again = 0;
         again < 2 && absl::IsAborted(r.status()) && !sink.touched() &&
         absl::StrContains(r.status().message(), "was rekeyed since this read began");
         ++again) {
      r = get(held);
    }
    return r;
  };
  bool attested = false;
  ASSIGN_OR_RETURN(HeldToken held, TokenFor(resource, &attested));
  absl::StatusOr<v1::ObjectInfo> result = get_anew_if_rekeyed(held);
  if (result.ok() || attested || sink.touched() || !internal::IsStaleToken(result.status())) {
    return result;
  }
  ASSIGN_OR_RETURN(held, AttestFor(resource));
  return get_anew_if_rekeyed(held);
}

template <typename Result>
absl::StatusOr<Result> WorkloadClient::UploadWithToken(
    const PutObjectOptions& options, storage::ByteSource& input,
    const std::function<absl::StatusOr<Result>(const PutObjectOptions&, storage::ByteSource&)>&
        send) {
  const std::string dataset_id = DatasetId(options.dataset);
  const std::string resource = absl::StrCat("datasets/", dataset_id);
  const std::string pk(AsStringView(key_pair_.public_key.Serialize()));
  CountingSource source(input);
  auto put = [&](const HeldToken& held) -> absl::StatusOr<Result> {
    PutObjectOptions o = options;
    o.dataset = dataset_id;
    o.token = held.token;
    o.new_key = [&](const v1::Upload& upload) -> absl::StatusOr<NewDataKey> {
      v1::GetUploadKeyRequest req;
      req.set_token(held.token);
      req.set_upload_id(upload.upload_id());
      req.set_public_key(pk);
      ASSIGN_OR_RETURN(v1::GetUploadKeyResponse resp, connection_->GetUploadKey(req));
      // The key must be for the upload the server reserved, under the
      // dataset's key: the header is built from `upload`.
      if (resp.dataset() != upload.dataset() || resp.name() != upload.name() ||
          resp.version() != upload.version() || resp.key() != upload.key()) {
        return absl::DataLossError(absl::StrCat(
            "GetUploadKey: a key for ", resp.dataset(), "/", resp.name(), "@", resp.version(),
            " under ", resp.key(), ", but the upload is ", upload.dataset(), "/", upload.name(),
            "@", upload.version(), " under ", upload.key()));
      }
      NewDataKey dk;
      ASSIGN_OR_RETURN(dk.key, OpenSealedObjectKey(key_pair_.private_key, resp.sealed(),
                                                   kUploadKeyLabel, dataset_id, upload.name(),
                                                   upload.version(), upload.key(), held.token_id));
      dk.wrapped.assign(resp.wrapped().begin(), resp.wrapped().end());
      dk.key_version = resp.key_version();
      if (resp.sealed().key_version() !=
          absl::StrCat(upload.key(), "/versions/", resp.key_version())) {
        return absl::DataLossError(absl::StrCat("GetUploadKey: key_version ", resp.key_version(),
                                                " is not the sealed key's ",
                                                resp.sealed().key_version()));
      }
      return dk;
    };
    return send(o, source);
  };
  bool attested = false;
  ASSIGN_OR_RETURN(HeldToken held, TokenFor(resource, &attested));
  absl::StatusOr<Result> result = put(held);
  if (result.ok() || attested || source.touched() || !internal::IsStaleToken(result.status())) {
    return result;
  }
  ASSIGN_OR_RETURN(held, AttestFor(resource));
  return put(held);
}

absl::StatusOr<v1::ObjectInfo> WorkloadClient::PutObject(const PutObjectOptions& options,
                                                         storage::ByteSource& input) {
  return UploadWithToken<v1::ObjectInfo>(
      options, input, [&](const PutObjectOptions& o, storage::ByteSource& source) {
        return PutSealedObject(*connection_, o, source);
      });
}

absl::StatusOr<StagedObject> WorkloadClient::StageObject(const PutObjectOptions& options,
                                                         storage::ByteSource& input) {
  return UploadWithToken<StagedObject>(options, input,
                                       [&](const PutObjectOptions& o, storage::ByteSource& source) {
                                         return StageSealedObject(*connection_, o, source);
                                       });
}

absl::Status WorkloadClient::DiscardObjects(absl::string_view dataset,
                                            const std::vector<StagedObject>& staged) {
  bool attested = false;
  ASSIGN_OR_RETURN(HeldToken held,
                   TokenFor(absl::StrCat("datasets/", DatasetId(std::string(dataset))), &attested));
  return DiscardStagedObjects(*connection_, staged, held.token);
}

absl::StatusOr<std::vector<v1::ObjectInfo>> WorkloadClient::CommitObjects(
    absl::string_view dataset, const std::vector<StagedObject>& staged) {
  const std::string resource = absl::StrCat("datasets/", DatasetId(std::string(dataset)));
  // The uploads were begun with the held token; a fresh one (after a stale
  // one is refused) is for the same workload and dataset.
  bool attested = false;
  ASSIGN_OR_RETURN(HeldToken held, TokenFor(resource, &attested));
  absl::StatusOr<std::vector<v1::ObjectInfo>> result =
      CommitStagedObjects(*connection_, staged, held.token);
  if (result.ok() || attested || !internal::IsStaleToken(result.status())) return result;
  ASSIGN_OR_RETURN(held, AttestFor(resource));
  return CommitStagedObjects(*connection_, staged, held.token);
}

}  // namespace strongroom::client
