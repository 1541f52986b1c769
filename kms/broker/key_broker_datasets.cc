// KeyBroker: dataset tokens (sealed store reads and writes by workloads).
#include <openssl/crypto.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "kms/broker/key_broker.h"
#include "kms/broker/key_broker_internal.h"
#include "kms/resource_names.h"
#include "storage/sealed/object_names.h"
#include "storage/sealed/sealed_header.h"

namespace strongroom::kms {
namespace {

constexpr char kObjectKeyLabel[] = "strongroom-object-key-v1";
constexpr char kUploadKeyLabel[] = "strongroom-upload-key-v1";

// label 0 "datasets/{id}" 0 name 0 decimal(version) 0 key-version 0 token-id.
// No field can hold a 0 byte (ids, object names and key names are
// restricted to printable ASCII), so the encoding is unambiguous.
Bytes ObjectKeyInfo(absl::string_view label, absl::string_view dataset_id, absl::string_view name,
                    uint64_t version, absl::string_view key_version, absl::string_view token_id) {
  const absl::string_view sep("\0", 1);
  const std::string s = absl::StrCat(label, sep, "datasets/", dataset_id, sep, name, sep, version,
                                     sep, key_version, sep, token_id);
  return Bytes(s.begin(), s.end());
}

// "policies/p v3 pinning a@2, b@1": the dual-control binding of a dataset's
// key that a dataset token names; "" for none.
std::string KeyBindingText(absl::string_view policy, int64_t version,
                           const std::vector<std::string>& pins) {
  if (policy.empty()) return std::string();
  return absl::StrCat(policy, " v", version, pins.empty() ? "" : " pinning ",
                      absl::StrJoin(pins, ", "));
}

std::string ObjectDetail(absl::string_view token_id, absl::string_view name, uint64_t version) {
  return absl::StrCat("token ", token_id, " object ", name, "@", version);
}

}  // namespace

void KeyBroker::SetDatasetDirectory(DatasetDirectory* directory) { directory_.store(directory); }

absl::StatusOr<DatasetDirectory*> KeyBroker::Directory() const {
  DatasetDirectory* d = directory_.load();
  if (d == nullptr) {
    return absl::FailedPreconditionError(
        "dataset tokens need the sealed store, which is not wired to the key broker");
  }
  return d;
}

absl::StatusOr<KeyBroker::DatasetPolicy> KeyBroker::DatasetPolicyFor(
    const Caller& c, absl::string_view dataset, absl::string_view evidence_digest,
    const AuditLog::Ticket* after) {
  ASSIGN_OR_RETURN(DatasetDirectory * directory, Directory());
  // Not found and no policy read the same to the caller: one reason id.
  absl::StatusOr<v1::Dataset> ds =
      directory->LookupDataset(dataset.substr(sizeof("datasets/") - 1));
  if (!ds.ok()) {
    if (!absl::IsNotFound(ds.status())) {
      // The nonce is spent: the refusal is recorded like any other, but
      // told as UNAVAILABLE, so that the caller tries again with a new one.
      return DenyWithCode(absl::StatusCode::kUnavailable, c, "attest", dataset, "store_unavailable",
                          ds.status().message(), evidence_digest, after);
    }
    return Deny(c, "attest", dataset, "dataset_not_releasable", ds.status().message(),
                evidence_digest, "", after);
  }
  if (ds->release_policy().empty()) {
    return Deny(c, "attest", dataset, "dataset_not_releasable",
                absl::StrCat(dataset, " has no release policy"), evidence_digest, "", after);
  }
  absl::StatusOr<int64_t> version = admin_.CurrentPolicyVersion(ds->release_policy());
  if (!version.ok()) {
    // Told like no policy at all: a caller without a token learns nothing
    // more of a dataset than that it is not released to them.
    return Deny(c, "attest", dataset, "dataset_not_releasable",
                absl::StrCat(dataset, "'s release policy ", ds->release_policy(), ": ",
                             version.status().message()),
                evidence_digest, "", after);
  }
  DatasetPolicy out{ds->release_policy(), *version, ds->key(), std::nullopt};
  absl::StatusOr<KeyManager::ReleaseBinding> binding = keys_.FindReleaseBinding(ds->key());
  if (!binding.ok()) {
    // NotFound, or a malformed key name stored with the dataset: not
    // releasable; anything else is the store's trouble.
    if (!absl::IsNotFound(binding.status()) && !absl::IsInvalidArgument(binding.status())) {
      return DenyWithCode(absl::StatusCode::kUnavailable, c, "attest", dataset, "store_unavailable",
                          binding.status().message(), evidence_digest, after);
    }
    return Deny(c, "attest", dataset, "dataset_not_releasable", binding.status().message(),
                evidence_digest, "", after);
  }
  if (binding->dual_control) {
    // One admin could otherwise widen what the dataset's policy accepts and
    // so release data keys wrapped under a key that needs two.
    if (binding->policy.empty() || binding->policy_version < 1) {
      return Deny(c, "attest", dataset, "dataset_not_releasable",
                  absl::StrCat(dataset, " is under the dual_control key ", ds->key(),
                               ", which has no approved release policy binding"),
                  evidence_digest, "", after);
    }
    out.dual_control_binding = *std::move(binding);
  }
  return out;
}

absl::Status KeyBroker::CheckDatasetUnchanged(const Caller& c, absl::string_view action,
                                              absl::string_view resource, const CheckedToken& t) {
  const std::string& policy = t.policy;
  const int64_t version = t.policy_version;
  ASSIGN_OR_RETURN(DatasetDirectory * directory, Directory());
  absl::StatusOr<v1::Dataset> ds = directory->LookupDataset(t.key.substr(sizeof("datasets/") - 1));
  if (!ds.ok() && !absl::IsNotFound(ds.status())) return ds.status();
  absl::StatusOr<int64_t> current = ds.ok() && !ds->release_policy().empty()
                                        ? admin_.CurrentPolicyVersion(ds->release_policy())
                                        : absl::StatusOr<int64_t>(absl::NotFoundError("none"));
  if (!ds.ok() || ds->release_policy() != policy || !current.ok() || *current != version) {
    return Deny(
        c, action, resource, "token_revoked_policy_changed",
        absl::StrCat("token ", t.token_id, " was issued under ", policy, " v", version, "; ", t.key,
                     " is now under ",
                     ds.ok() && !ds->release_policy().empty() ? ds->release_policy() : "no policy",
                     current.ok() ? absl::StrCat(" v", *current) : ""));
  }
  // The dataset's key: its dual-control binding now and the one the token
  // was issued under (none for a key without dual control).
  absl::StatusOr<KeyManager::ReleaseBinding> binding = keys_.FindReleaseBinding(ds->key());
  if (!binding.ok() && !absl::IsNotFound(binding.status())) return binding.status();
  const std::string now_bound =
      binding.ok() && binding->dual_control
          ? KeyBindingText(binding->policy.empty() ? "none" : binding->policy,
                           binding->policy_version, binding->pins)
          : std::string();
  const std::string issued_under =
      KeyBindingText(t.key_policy, t.key_policy_version, t.key_policy_pins);
  if (!binding.ok() || now_bound != issued_under) {
    return Deny(
        c, action, resource, "token_revoked_policy_changed",
        absl::StrCat("token ", t.token_id, " was issued under the binding '", issued_under, "' of ",
                     ds->key(), ", which is now '", binding.ok() ? now_bound : "not found", "'"));
  }
  // The policy that binding names still there: deleting it stops tokens
  // under the key at once, dataset tokens as key tokens.
  if (!t.key_policy.empty() && !admin_.CheckPolicyExists(t.key_policy, t.key_policy_version).ok()) {
    return Deny(
        c, action, resource, "token_revoked_policy_changed",
        absl::StrCat("token ", t.token_id, " was issued under ", ds->key(), "'s binding to ",
                     t.key_policy, " v", t.key_policy_version, ", which no longer exists"));
  }
  return absl::OkStatus();
}

absl::Status KeyBroker::AuthorizeWorkloadRead(const Caller& caller, absl::string_view token,
                                              absl::string_view dataset, absl::string_view object) {
  RETURN_IF_ERROR(Admit(caller));
  const std::string resource = storage::sealed::DatasetResourceName(dataset);
  ASSIGN_OR_RETURN(CheckedToken t, CheckTokenFor(caller, "read", token, resource));
  return Allow(caller, "read", resource, absl::StrCat("token ", t.token_id, "; ", object),
               t.policy_digest);
}

absl::Status KeyBroker::AuthorizeWorkloadWrite(const Caller& caller, absl::string_view token,
                                               absl::string_view dataset,
                                               absl::string_view object) {
  RETURN_IF_ERROR(Admit(caller));
  const std::string resource = storage::sealed::DatasetResourceName(dataset);
  ASSIGN_OR_RETURN(CheckedToken t, CheckTokenFor(caller, "upload", token, resource));
  return Allow(caller, "upload", resource, absl::StrCat("token ", t.token_id, "; ", object),
               t.policy_digest);
}

absl::StatusOr<v1::GetObjectKeyResponse> KeyBroker::GetObjectKey(const Caller& c,
                                                                 const v1::GetObjectKeyRequest& r) {
  RETURN_IF_ERROR(Admit(c));
  ASSIGN_OR_RETURN(std::string id, storage::sealed::ParseDatasetName(r.dataset(), "dataset"));
  RETURN_IF_ERROR(storage::sealed::ValidateObjectName(r.name(), "name"));
  RETURN_IF_ERROR(CheckTokenAndPublicKeyShape(r.token(), r.public_key()));
  if (r.stream_header().size() > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream_header: ", r.stream_header().size(), " bytes; at most 255"));
  }
  const std::string resource = storage::sealed::DatasetResourceName(id);
  constexpr absl::string_view kAction = "object_key";
  ASSIGN_OR_RETURN(CheckedToken t, CheckTokenFor(c, kAction, r.token(), resource));
  ASSIGN_OR_RETURN(hpke::PublicKey pk, TokenPublicKey(c, kAction, resource, t, r.public_key()));
  ASSIGN_OR_RETURN(DatasetDirectory * directory, Directory());
  ASSIGN_OR_RETURN(v1::Dataset ds, directory->LookupDataset(id));
  ASSIGN_OR_RETURN(DatasetDirectory::StoredObject object,
                   directory->LookupObject(id, r.name(), r.version()));
  // A workload's output is sealed to the dataset's owner: no workload, the
  // one that wrote it included, gets its data key.
  if (object.info.written_by_workload()) {
    return Deny(c, kAction, resource, "object_written_by_workload",
                absl::StrCat(ObjectDetail(t.token_id, r.name(), object.info.version()),
                             ": written by workload '", object.info.creator(),
                             "'; a workload's output is for the dataset's owner only"));
  }
  absl::StatusOr<storage::sealed::SealedHeader> header =
      storage::sealed::ParseSealedHeader(AsBytes(object.header));
  if (!header.ok()) {
    return absl::DataLossError(
        absl::StrCat("stored object ", id, "/", r.name(), ": ", header.status().message()));
  }
  if (header->dataset != id || header->name != r.name() ||
      (r.version() != 0 && header->version != r.version())) {
    return absl::DataLossError(absl::StrCat("stored object ", id, "/", r.name(), "@", r.version(),
                                            ": its header names ", header->dataset, "/",
                                            header->name, "@", header->version));
  }
  // Every writer wraps under the dataset's key; the token was checked
  // against that key's binding, so no other key unwraps here.
  if (header->key_name != ds.key()) {
    return absl::DataLossError(absl::StrCat("stored object ", id, "/", r.name(),
                                            ": its header names key ", header->key_name,
                                            ", not the dataset's ", ds.key()));
  }
  // The read this key is for began before a rekey committed: its segments
  // are under the old data key, so the new one would only fail them as
  // tampered. The reader starts over instead.
  if (!r.stream_header().empty() && r.stream_header() != AsStringView(header->stream_header)) {
    return absl::AbortedError(absl::StrCat("stream_header: ", id, "/", r.name(), "@",
                                           header->version,
                                           " was rekeyed since this read began; read it again"));
  }
  const std::string detail = ObjectDetail(t.token_id, header->name, header->version);

  // The KMS unwraps the data key on behalf of the dataset's owner, with the
  // context the owner's own reader uses (OwnerDataKeyOpener).
  v1::DecryptRequest unwrap;
  unwrap.set_ciphertext(std::string(AsStringView(header->wrapped_key)));
  unwrap.set_name(header->key_name);
  for (const auto& [k, v] :
       storage::sealed::DataKeyContext(header->dataset, header->name, header->version)) {
    (*unwrap.mutable_encryption_context())[k] = v;
  }
  absl::StatusOr<v1::DecryptResponse> plain =
      keys_.Decrypt(Caller{ds.owner(), Role::kOwner}, unwrap);
  if (!plain.ok()) {
    const absl::Status& s = plain.status();
    const std::string why = absl::StrCat(detail, ": ", s.message());
    if (absl::IsFailedPrecondition(s) || absl::IsNotFound(s)) {
      return DenyWithCode(absl::StatusCode::kFailedPrecondition, c, kAction, resource,
                          "key_version_not_usable", why);
    }
    if (absl::IsPermissionDenied(s) || absl::IsInvalidArgument(s)) {
      return Deny(c, kAction, resource, "object_key_unavailable", why);
    }
    return s;
  }
  SecretBytes data_key = SecretBytes::CopyFrom(AsBytes(plain->plaintext()));
  OPENSSL_cleanse(plain->mutable_plaintext()->data(), plain->plaintext().size());
  const Bytes info = ObjectKeyInfo(kObjectKeyLabel, id, header->name, header->version,
                                   plain->key_version(), t.token_id);
  v1::GetObjectKeyResponse out;
  ASSIGN_OR_RETURN(*out.mutable_sealed(),
                   SealTo(pk, info, data_key.Reveal(), plain->key_version(), t.token_id));
  absl::StatusOr<VersionName> version = ParseVersionName(plain->key_version(), "key_version");
  RETURN_IF_ERROR(Allow(c, kAction, resource, detail, t.policy_digest,
                        version.ok() ? version->version : 0, t.evidence_digest));
  out.set_dataset(resource);
  out.set_name(header->name);
  out.set_version(header->version);
  return out;
}

absl::StatusOr<v1::GetUploadKeyResponse> KeyBroker::GetUploadKey(const Caller& c,
                                                                 const v1::GetUploadKeyRequest& r) {
  RETURN_IF_ERROR(Admit(c));
  if (r.upload_id().size() != 32) {
    return absl::InvalidArgumentError("upload_id: not an upload id");
  }
  RETURN_IF_ERROR(CheckTokenAndPublicKeyShape(r.token(), r.public_key()));
  constexpr absl::string_view kAction = "upload_key";
  ASSIGN_OR_RETURN(DatasetDirectory * directory, Directory());
  ASSIGN_OR_RETURN(DatasetDirectory::PendingUpload upload, directory->LookupUpload(r.upload_id()));
  const std::string resource = storage::sealed::DatasetResourceName(upload.dataset_id);
  // Someone else's upload id says nothing about its dataset to this caller.
  if (upload.principal != c.principal || !upload.workload) {
    return Deny(c, kAction, "uploads", "upload_wrong_principal",
                absl::StrCat("upload ", r.upload_id(), " was begun by ", upload.principal,
                             upload.workload ? "" : " without a dataset token"));
  }
  ASSIGN_OR_RETURN(CheckedToken t, CheckTokenFor(c, kAction, r.token(), resource));
  ASSIGN_OR_RETURN(hpke::PublicKey pk, TokenPublicKey(c, kAction, resource, t, r.public_key()));
  ASSIGN_OR_RETURN(v1::Dataset ds, directory->LookupDataset(upload.dataset_id));
  const std::string detail = ObjectDetail(t.token_id, upload.name, upload.version);

  // Exactly what an owner's upload asks the KMS for (client/sealed_object.cc),
  // on behalf of the dataset's owner.
  v1::GenerateDataKeyRequest generate;
  generate.set_name(ds.key());
  generate.set_length(32);
  for (const auto& [k, v] :
       storage::sealed::DataKeyContext(upload.dataset_id, upload.name, upload.version)) {
    (*generate.mutable_encryption_context())[k] = v;
  }
  absl::StatusOr<v1::GenerateDataKeyResponse> generated =
      keys_.GenerateDataKey(Caller{ds.owner(), Role::kOwner}, generate);
  if (!generated.ok()) {
    const absl::Status& s = generated.status();
    const std::string why = absl::StrCat(detail, ": ", s.message());
    if (absl::IsFailedPrecondition(s) || absl::IsNotFound(s)) {
      return DenyWithCode(absl::StatusCode::kFailedPrecondition, c, kAction, resource,
                          "key_version_not_usable", why);
    }
    if (absl::IsPermissionDenied(s))
      return Deny(c, kAction, resource, "object_key_unavailable", why);
    return s;
  }
  SecretBytes data_key = SecretBytes::CopyFrom(AsBytes(generated->plaintext()));
  OPENSSL_cleanse(generated->mutable_plaintext()->data(), generated->plaintext().size());
  ASSIGN_OR_RETURN(VersionName version, ParseVersionName(generated->key_version(), "key_version"));
  const Bytes info = ObjectKeyInfo(kUploadKeyLabel, upload.dataset_id, upload.name, upload.version,
                                   generated->key_version(), t.token_id);
  v1::GetUploadKeyResponse out;
  ASSIGN_OR_RETURN(*out.mutable_sealed(),
                   SealTo(pk, info, data_key.Reveal(), generated->key_version(), t.token_id));
  RETURN_IF_ERROR(
      Allow(c, kAction, resource, detail, t.policy_digest, version.version, t.evidence_digest));
  out.set_wrapped(generated->ciphertext());
  out.set_dataset(resource);
  out.set_name(upload.name);
  out.set_version(upload.version);
  out.set_key(ds.key());
  out.set_key_version(version.version);
  return out;
}

}  // namespace strongroom::kms
