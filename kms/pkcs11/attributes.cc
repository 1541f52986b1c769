#include "absl/strings/string_view.h"
#include "kms/pkcs11/attributes.h"

namespace strongroom::kms::pkcs11 {

AttributeList& AttributeList::Bool(CK_ATTRIBUTE_TYPE type, bool value) {
  bools_.push_back(value ? CK_TRUE : CK_FALSE);
  attrs_.push_back({type, &bools_.back(), sizeof(CK_BBOOL)});
  return *this;
}

AttributeList& AttributeList::Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
  ulongs_.push_back(value);
  attrs_.push_back({type, &ulongs_.back(), sizeof(CK_ULONG)});
  return *this;
}

AttributeList& AttributeList::Data(CK_ATTRIBUTE_TYPE type, std::span<const uint8_t> value) {
  storage_.emplace_back(value.begin(), value.end());
  attrs_.push_back({type, storage_.back().data(), storage_.back().size()});
  return *this;
}

AttributeList& AttributeList::Text(CK_ATTRIBUTE_TYPE type, absl::string_view value) {
  return Data(type, AsBytes(value));
}

AttributeList& AttributeList::Secret(CK_ATTRIBUTE_TYPE type, const SecretBytes& value) {
  attrs_.push_back({type, const_cast<uint8_t*>(value.Reveal().data()), value.size()});
  return *this;
}

AttributeList& AttributeList::Common(const KeyOptions& options) {
  Bool(CKA_TOKEN, options.persistent);
  if (!options.label.empty()) Text(CKA_LABEL, options.label);
  Data(CKA_ID, options.id);
  return *this;
}

std::span<const uint8_t> EcParamsDer(EcCurve curve) {
  static constexpr uint8_t kP256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                      0xce, 0x3d, 0x03, 0x01, 0x07};
  static constexpr uint8_t kP384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
  if (curve == EcCurve::kP256) return kP256;
  return kP384;
}

size_t EcFieldBytes(EcCurve curve) { return curve == EcCurve::kP256 ? 32 : 48; }

}  // namespace strongroom::kms::pkcs11
