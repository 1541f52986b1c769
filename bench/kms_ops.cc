#include "bench/kms_ops.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace strongroom::bench {
namespace {

namespace v1 = ::strongroom::v1;

absl::Status CheckKeyVersion(absl::string_view rpc, const std::string& got, const KmsFixture& f) {
  if (got == f.key_version) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat(rpc, ": answered with key version '", got, "', expected '", f.key_version, "'"));
}

absl::Status CheckSize(absl::string_view rpc, absl::string_view what, size_t got, size_t want) {
  if (got == want) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(rpc, ": ", what, " is ", got, " bytes, expected ", want));
}

// What GenerateDataKey's ciphertext must measure: the fixture's ciphertext
// with a data key in place of the payload (same header, IV and tag).
size_t DataKeyCiphertextBytes(const KmsFixture& f) {
  return f.ciphertext.size() - f.plaintext.size() + kDataKeyBytes;
}

absl::Status CheckDecrypt(const v1::DecryptResponse& r, const KmsFixture& f) {
  if (r.plaintext() != f.plaintext) {
    return absl::DataLossError(absl::StrCat("Decrypt: returned ", r.plaintext().size(),
                                            " bytes that are not the ", f.plaintext.size(),
                                            " bytes encrypted"));
  }
  return CheckKeyVersion("Decrypt", r.key_version(), f);
}

absl::Status CheckEncrypt(const v1::EncryptResponse& r, const KmsFixture& f) {
  RETURN_IF_ERROR(CheckSize("Encrypt", "ciphertext", r.ciphertext().size(), f.ciphertext.size()));
  return CheckKeyVersion("Encrypt", r.key_version(), f);
}

// Wipes the data key: the SDK leaves that to its callers.
absl::Status CheckDataKey(v1::GenerateDataKeyResponse& r, const KmsFixture& f) {
  const size_t plaintext_bytes = r.plaintext().size();
  OPENSSL_cleanse(r.mutable_plaintext()->data(), plaintext_bytes);
  RETURN_IF_ERROR(CheckSize("GenerateDataKey", "plaintext", plaintext_bytes, kDataKeyBytes));
  RETURN_IF_ERROR(
      CheckSize("GenerateDataKey", "ciphertext", r.ciphertext().size(), DataKeyCiphertextBytes(f)));
  return CheckKeyVersion("GenerateDataKey", r.key_version(), f);
}

}  // namespace

absl::StatusOr<KmsFixture> CreateKmsFixture(client::Connection& admin, client::Connection& owner,
                                            absl::string_view key_id,
                                            absl::string_view owner_principal,
                                            v1::Protection protection, size_t payload_bytes) {
  v1::CreateKeyRequest create;
  create.set_key_id(std::string(key_id));
  create.set_owner(std::string(owner_principal));
  create.set_protection(protection);
  create.set_description("strongroom-bench kms");
  ASSIGN_OR_RETURN(v1::Key key, admin.CreateKey(create));

  KmsFixture f;
  f.key_name = key.name();
  f.plaintext.resize(payload_bytes);
  if (RAND_bytes(reinterpret_cast<uint8_t*>(f.plaintext.data()),
                 static_cast<int>(f.plaintext.size())) != 1) {
    return absl::InternalError("RAND_bytes failed for the payload");
  }
  v1::EncryptRequest encrypt;
  encrypt.set_name(f.key_name);
  encrypt.set_plaintext(f.plaintext);
  ASSIGN_OR_RETURN(v1::EncryptResponse encrypted, owner.Encrypt(encrypt));
  f.ciphertext = encrypted.ciphertext();
  f.key_version = encrypted.key_version();
  if (f.key_version != absl::StrCat(f.key_name, "/versions/", key.primary_version())) {
    return absl::DataLossError(absl::StrCat("Encrypt: used ", f.key_version, ", not the primary ",
                                            "version ", key.primary_version(), " of ", f.key_name));
  }

  v1::DecryptRequest decrypt;
  decrypt.set_ciphertext(f.ciphertext);
  ASSIGN_OR_RETURN(v1::DecryptResponse decrypted, owner.Decrypt(decrypt));
  RETURN_IF_ERROR(CheckDecrypt(decrypted, f));

  v1::GenerateDataKeyRequest generate;
  generate.set_name(f.key_name);
  ASSIGN_OR_RETURN(v1::GenerateDataKeyResponse data_key, owner.GenerateDataKey(generate));
  decrypt.set_ciphertext(data_key.ciphertext());
  ASSIGN_OR_RETURN(decrypted, owner.Decrypt(decrypt));
  const bool round_trips = decrypted.plaintext() == data_key.plaintext();
  OPENSSL_cleanse(decrypted.mutable_plaintext()->data(), decrypted.plaintext().size());
  if (!round_trips) {
    return absl::DataLossError(
        "GenerateDataKey: its ciphertext does not decrypt to its plaintext data key");
  }
  RETURN_IF_ERROR(CheckDataKey(data_key, f));
  return f;
}

absl::StatusOr<Op> MakeKmsOp(absl::string_view name, client::Connection& connection,
                             const KmsFixture& fixture) {
  client::Connection* c = &connection;
  const KmsFixture* f = &fixture;
  if (name == "ping") {
    return Op([c] { return c->Ping().status(); });
  }
  if (name == "encrypt") {
    v1::EncryptRequest request;
    request.set_name(f->key_name);
    request.set_plaintext(f->plaintext);
    return Op([c, f, request = std::move(request)]() -> absl::Status {
      ASSIGN_OR_RETURN(v1::EncryptResponse r, c->Encrypt(request));
      return CheckEncrypt(r, *f);
    });
  }
  if (name == "decrypt") {
    v1::DecryptRequest request;
    request.set_ciphertext(f->ciphertext);
    return Op([c, f, request = std::move(request)]() -> absl::Status {
      ASSIGN_OR_RETURN(v1::DecryptResponse r, c->Decrypt(request));
      return CheckDecrypt(r, *f);
    });
  }
  if (name == "generate_data_key") {
    v1::GenerateDataKeyRequest request;
    request.set_name(f->key_name);
    return Op([c, f, request = std::move(request)]() -> absl::Status {
      ASSIGN_OR_RETURN(v1::GenerateDataKeyResponse r, c->GenerateDataKey(request));
      return CheckDataKey(r, *f);
    });
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown kms op '", name, "'"));
}

}  // namespace strongroom::bench
