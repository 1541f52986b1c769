// AttributeList: builds CK_ATTRIBUTE templates whose value pointers stay valid
// for the list's lifetime. Secret values are referenced in place (never copied
// out of their SecretBytes), so the SecretBytes must outlive the list.
#ifndef STRONGROOM_KMS_PKCS11_ATTRIBUTES_H_
#define STRONGROOM_KMS_PKCS11_ATTRIBUTES_H_

#include "absl/strings/string_view.h"
#include <deque>
#include <span>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "kms/pkcs11/cryptoki.h"
#include "kms/pkcs11/key_handle.h"

namespace strongroom::kms::pkcs11 {

class AttributeList {
 public:
  AttributeList& Bool(CK_ATTRIBUTE_TYPE type, bool value);
  AttributeList& Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value);
  AttributeList& Data(CK_ATTRIBUTE_TYPE type, std::span<const uint8_t> value);
  AttributeList& Text(CK_ATTRIBUTE_TYPE type, absl::string_view value);
  AttributeList& Secret(CK_ATTRIBUTE_TYPE type, const SecretBytes& value);
  // CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_ID from `options` (id must be set).
  AttributeList& Common(const KeyOptions& options);

  CK_ATTRIBUTE* data() { return attrs_.data(); }
  CK_ULONG size() const { return attrs_.size(); }
  std::vector<CK_ATTRIBUTE>& attributes() { return attrs_; }

 private:
  std::vector<CK_ATTRIBUTE> attrs_;
  std::deque<Bytes> storage_;
  std::deque<CK_ULONG> ulongs_;
  std::deque<CK_BBOOL> bools_;
};

// DER OID (CKA_EC_PARAMS) of a curve, and its field size in bytes.
std::span<const uint8_t> EcParamsDer(EcCurve curve);
size_t EcFieldBytes(EcCurve curve);

}  // namespace strongroom::kms::pkcs11

#endif  // STRONGROOM_KMS_PKCS11_ATTRIBUTES_H_
