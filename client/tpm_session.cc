#include "client/tpm_session.h"

#include <openssl/sha.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace strongroom::client::internal {
namespace {

absl::Status TssError(absl::string_view call, TSS2_RC rc) {
  return absl::InternalError(
      absl::StrCat("tpm: ", call, ": ", Tss2_RC_Decode(rc), " (0x", absl::Hex(rc), ")"));
}

// Owns what an ESYS call returned.
template <typename T>
struct EsysFree {
  void operator()(T* p) const { Esys_Free(p); }
};
template <typename T>
using EsysOwned = std::unique_ptr<T, EsysFree<T>>;

constexpr TPMA_OBJECT kAkAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                      TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                      TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED |
                                      TPMA_OBJECT_SIGN_ENCRYPT;
constexpr TPMA_OBJECT kEkAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                      TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                      TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED |
                                      TPMA_OBJECT_DECRYPT;

TPM2B_PUBLIC AkTemplate() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = kAkAttributes;
  TPMS_ECC_PARMS& ecc = p.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_NULL;
  ecc.scheme.scheme = TPM2_ALG_ECDSA;
  ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

// The EK templates' authPolicy, PolicySecret(TPM_RH_ENDORSEMENT):
// H(H(0^32 || TPM_CC_PolicySecret || Name(TPM_RH_ENDORSEMENT)) || policyRef="")
// (TPM 2.0 Part 3, PolicySecret / PolicyUpdate). The EK Credential Profile
// publishes the result as 8371...69aa.
TPM2B_DIGEST EkAuthPolicy() {
  uint8_t first[32 + 4 + 4] = {};
  const uint8_t tail[8] = {0x00, 0x00, 0x01, 0x51, 0x40, 0x00, 0x00, 0x0b};
  std::memcpy(first + 32, tail, sizeof(tail));
  uint8_t inner[SHA256_DIGEST_LENGTH];
  SHA256(first, sizeof(first), inner);
  TPM2B_DIGEST out{};
  out.size = SHA256_DIGEST_LENGTH;
  SHA256(inner, sizeof(inner), out.buffer);
  return out;
}

TPM2B_PUBLIC EkTemplate(TpmEkKind kind) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = kEkAttributes;
  p.authPolicy = EkAuthPolicy();
  if (kind == TpmEkKind::kRsa) {  // L-1
    p.type = TPM2_ALG_RSA;
    TPMS_RSA_PARMS& rsa = p.parameters.rsaDetail;
    rsa.symmetric.algorithm = TPM2_ALG_AES;
    rsa.symmetric.keyBits.aes = 128;
    rsa.symmetric.mode.aes = TPM2_ALG_CFB;
    rsa.scheme.scheme = TPM2_ALG_NULL;
    rsa.keyBits = 2048;
    rsa.exponent = 0;
    p.unique.rsa.size = 256;  // all zero
  } else {  // L-2
    p.type = TPM2_ALG_ECC;
    TPMS_ECC_PARMS& ecc = p.parameters.eccDetail;
    ecc.symmetric.algorithm = TPM2_ALG_AES;
    ecc.symmetric.keyBits.aes = 128;
    ecc.symmetric.mode.aes = TPM2_ALG_CFB;
    ecc.scheme.scheme = TPM2_ALG_NULL;
    ecc.curveID = TPM2_ECC_NIST_P256;
    ecc.kdf.scheme = TPM2_ALG_NULL;
    p.unique.ecc.x.size = 32;  // all zero
    p.unique.ecc.y.size = 32;
  }
  return t;
}

absl::StatusOr<Bytes> MarshalPublicArea(const TPMT_PUBLIC& pub) {
  uint8_t buf[sizeof(TPMT_PUBLIC)];
  size_t n = 0;
  TSS2_RC rc = Tss2_MU_TPMT_PUBLIC_Marshal(&pub, buf, sizeof(buf), &n);
  if (rc != TSS2_RC_SUCCESS) return TssError("Tss2_MU_TPMT_PUBLIC_Marshal", rc);
  return Bytes(buf, buf + n);
}

TPML_PCR_SELECTION Selection(const std::vector<TpmPcrBank>& banks) {
  TPML_PCR_SELECTION sel{};
  for (const TpmPcrBank& bank : banks) {
    if (sel.count == TPM2_NUM_PCR_BANKS) break;
    TPMS_PCR_SELECTION& s = sel.pcrSelections[sel.count++];
    s.hash = bank.hash_alg;
    s.sizeofSelect = 3;
    for (uint32_t pcr : bank.pcrs) {
      if (pcr < 24) s.pcrSelect[pcr / 8] |= static_cast<uint8_t>(1u << (pcr % 8));
    }
  }
  return sel;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TpmSession>> TpmSession::Connect(const std::string& tcti) {
  TSS2_TCTI_CONTEXT* t = nullptr;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti.empty() ? nullptr : tcti.c_str(), &t);
  if (rc != TSS2_RC_SUCCESS) {
    return absl::UnavailableError(absl::StrCat("tpm: cannot open TCTI '", tcti, "': ",
                                               Tss2_RC_Decode(rc), " (0x", absl::Hex(rc), ")"));
  }
  ESYS_CONTEXT* esys = nullptr;
  rc = Esys_Initialize(&esys, t, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    Tss2_TctiLdr_Finalize(&t);
    return absl::UnavailableError(absl::StrCat("tpm: Esys_Initialize on '", tcti, "': ",
                                               Tss2_RC_Decode(rc)));
  }
  return std::unique_ptr<TpmSession>(new TpmSession(t, esys));
}

TpmSession::~TpmSession() {
  Esys_Finalize(&esys_);
  Tss2_TctiLdr_Finalize(&tcti_);
}

absl::StatusOr<TpmKeyHandle> TpmSession::CreatePrimary(ESYS_TR hierarchy,
                                                       const TPM2B_PUBLIC& in) {
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION creation_pcrs{};
  TpmKeyHandle key;
  TPM2B_PUBLIC* out_public = nullptr;
  TPM2B_CREATION_DATA* creation_data = nullptr;
  TPM2B_DIGEST* creation_hash = nullptr;
  TPMT_TK_CREATION* ticket = nullptr;
  TSS2_RC rc = Esys_CreatePrimary(esys_, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, &sensitive, &in, &outside, &creation_pcrs,
                                  &key.handle, &out_public, &creation_data, &creation_hash,
                                  &ticket);
  EsysOwned<TPM2B_PUBLIC> pub(out_public);
  Esys_Free(creation_data);
  Esys_Free(creation_hash);
  Esys_Free(ticket);
  if (rc != TSS2_RC_SUCCESS) return TssError("Esys_CreatePrimary", rc);
  absl::StatusOr<Bytes> area = MarshalPublicArea(pub->publicArea);
  if (!area.ok()) {
    Release(key);
    return area.status();
  }
  key.public_area = *std::move(area);
  return key;
}

absl::StatusOr<TpmKeyHandle> TpmSession::CreatePrimaryAk(bool endorsement) {
  return CreatePrimary(endorsement ? ESYS_TR_RH_ENDORSEMENT : ESYS_TR_RH_OWNER, AkTemplate());
}

absl::StatusOr<TpmKeyHandle> TpmSession::CreateEk(TpmEkKind kind) {
  return CreatePrimary(ESYS_TR_RH_ENDORSEMENT, EkTemplate(kind));
}

absl::StatusOr<TpmKeyHandle> TpmSession::Persistent(uint32_t handle) {
  TpmKeyHandle key;
  key.transient = false;
  TSS2_RC rc = Esys_TR_FromTPMPublic(esys_, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     &key.handle);
  if (rc != TSS2_RC_SUCCESS) {
    return absl::Status(absl::StatusCode::kNotFound,
                        absl::StrCat("tpm: no key at persistent handle 0x", absl::Hex(handle),
                                     " (", Tss2_RC_Decode(rc), ")"));
  }
  TPM2B_PUBLIC* pub = nullptr;
  TPM2B_NAME* name = nullptr;
  TPM2B_NAME* qualified = nullptr;
  rc = Esys_ReadPublic(esys_, key.handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name,
                       &qualified);
  EsysOwned<TPM2B_PUBLIC> owned(pub);
  Esys_Free(name);
  Esys_Free(qualified);
  if (rc != TSS2_RC_SUCCESS) {
    Release(key);
    return TssError("Esys_ReadPublic", rc);
  }
  absl::StatusOr<Bytes> area = MarshalPublicArea(owned->publicArea);
  if (!area.ok()) {
    Release(key);
    return area.status();
  }
  key.public_area = *std::move(area);
  return key;
}

absl::StatusOr<ESYS_TR> TpmSession::EkPolicySession() {
  TPMT_SYM_DEF no_symmetric{};
  no_symmetric.algorithm = TPM2_ALG_NULL;
  ESYS_TR session = ESYS_TR_NONE;
  TSS2_RC rc = Esys_StartAuthSession(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, ESYS_TR_NONE, nullptr, TPM2_SE_POLICY,
                                     &no_symmetric, TPM2_ALG_SHA256, &session);
  if (rc != TSS2_RC_SUCCESS) return TssError("Esys_StartAuthSession", rc);
  TPM2B_TIMEOUT* timeout = nullptr;
  TPMT_TK_AUTH* ticket = nullptr;
  rc = Esys_PolicySecret(esys_, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                         ESYS_TR_NONE, nullptr, nullptr, nullptr, 0, &timeout, &ticket);
  Esys_Free(timeout);
  Esys_Free(ticket);
  if (rc != TSS2_RC_SUCCESS) {
    Esys_FlushContext(esys_, session);
    return TssError("Esys_PolicySecret", rc);
  }
  return session;
}

absl::StatusOr<std::pair<Bytes, Bytes>> TpmSession::CreateAkUnderEk(const TpmKeyHandle& ek) {
  ASSIGN_OR_RETURN(ESYS_TR session, EkPolicySession());
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_PUBLIC in = AkTemplate();
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION creation_pcrs{};
  TPM2B_PRIVATE* out_private = nullptr;
  TPM2B_PUBLIC* out_public = nullptr;
  TPM2B_CREATION_DATA* creation_data = nullptr;
  TPM2B_DIGEST* creation_hash = nullptr;
  TPMT_TK_CREATION* ticket = nullptr;
  TSS2_RC rc = Esys_Create(esys_, ek.handle, session, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                           &in, &outside, &creation_pcrs, &out_private, &out_public,
                           &creation_data, &creation_hash, &ticket);
  // A policy session ends with the command it authorized; flushing again
  // is harmless.
  Esys_FlushContext(esys_, session);
  EsysOwned<TPM2B_PRIVATE> priv(out_private);
  EsysOwned<TPM2B_PUBLIC> pub(out_public);
  Esys_Free(creation_data);
  Esys_Free(creation_hash);
  Esys_Free(ticket);
  if (rc != TSS2_RC_SUCCESS) return TssError("Esys_Create", rc);
  uint8_t buf[sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE)];
  size_t n = 0;
  rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub.get(), buf, sizeof(buf), &n);
  if (rc != TSS2_RC_SUCCESS) return TssError("Tss2_MU_TPM2B_PUBLIC_Marshal", rc);
  Bytes public_2b(buf, buf + n);
  n = 0;
  rc = Tss2_MU_TPM2B_PRIVATE_Marshal(priv.get(), buf, sizeof(buf), &n);
  if (rc != TSS2_RC_SUCCESS) return TssError("Tss2_MU_TPM2B_PRIVATE_Marshal", rc);
  return std::make_pair(std::move(public_2b), Bytes(buf, buf + n));
}

absl::StatusOr<TpmKeyHandle> TpmSession::LoadUnderEk(const TpmKeyHandle& ek,
                                                     const Bytes& public_2b,
                                                     const Bytes& private_2b) {
  TPM2B_PUBLIC pub{};
  size_t off = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(public_2b.data(), public_2b.size(), &off, &pub) !=
          TSS2_RC_SUCCESS ||
      off != public_2b.size()) {
    return absl::InvalidArgumentError("tpm: ak public file: not a TPM2B_PUBLIC");
  }
  TPM2B_PRIVATE priv{};
  off = 0;
  if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(private_2b.data(), private_2b.size(), &off, &priv) !=
          TSS2_RC_SUCCESS ||
      off != private_2b.size()) {
    return absl::InvalidArgumentError("tpm: ak private file: not a TPM2B_PRIVATE");
  }
  ASSIGN_OR_RETURN(ESYS_TR session, EkPolicySession());
  TpmKeyHandle key;
  TSS2_RC rc = Esys_Load(esys_, ek.handle, session, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub,
                         &key.handle);
  Esys_FlushContext(esys_, session);
  if (rc != TSS2_RC_SUCCESS) {
    return TssError("Esys_Load (is the AK from this TPM and this EK template?)", rc);
  }
  absl::StatusOr<Bytes> area = MarshalPublicArea(pub.publicArea);
  if (!area.ok()) {
    Release(key);
    return area.status();
  }
  key.public_area = *std::move(area);
  return key;
}

absl::StatusOr<TpmQuote> TpmSession::Quote(const TpmKeyHandle& ak,
                                           std::span<const uint8_t> nonce,
                                           const std::vector<TpmPcrBank>& pcrs) {
  TPM2B_DATA qualifying{};
  if (nonce.size() > sizeof(qualifying.buffer)) {
    return absl::InvalidArgumentError(absl::StrCat("tpm: binding: ", nonce.size(),
                                                   " bytes, at most ", sizeof(qualifying.buffer)));
  }
  qualifying.size = static_cast<UINT16>(nonce.size());
  std::copy(nonce.begin(), nonce.end(), qualifying.buffer);
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;  // the AK's own scheme
  TPML_PCR_SELECTION sel = Selection(pcrs);
  TPM2B_ATTEST* quoted = nullptr;
  TPMT_SIGNATURE* signature = nullptr;
  TSS2_RC rc = Esys_Quote(esys_, ak.handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                          &qualifying, &scheme, &sel, &quoted, &signature);
  EsysOwned<TPM2B_ATTEST> q(quoted);
  EsysOwned<TPMT_SIGNATURE> s(signature);
  if (rc != TSS2_RC_SUCCESS) return TssError("Esys_Quote", rc);
  TpmQuote out;
  out.attest.assign(q->attestationData, q->attestationData + q->size);
  uint8_t buf[sizeof(TPMT_SIGNATURE)];
  size_t n = 0;
  rc = Tss2_MU_TPMT_SIGNATURE_Marshal(s.get(), buf, sizeof(buf), &n);
  if (rc != TSS2_RC_SUCCESS) return TssError("Tss2_MU_TPMT_SIGNATURE_Marshal", rc);
  out.signature.assign(buf, buf + n);
  return out;
}

absl::StatusOr<attest::TpmPcrValues> TpmSession::ReadPcrs(const std::vector<TpmPcrBank>& pcrs) {
  std::vector<TpmPcrBank> remaining = pcrs;
  attest::TpmPcrValues out;
  // TPM2_PCR_Read returns at most eight digests per call and says which.
  for (int round = 0; round < 32; ++round) {
    remaining.erase(std::remove_if(remaining.begin(), remaining.end(),
                                   [](const TpmPcrBank& b) { return b.pcrs.empty(); }),
                    remaining.end());
    if (remaining.empty()) return out;
    TPML_PCR_SELECTION sel = Selection(remaining);
    UINT32 counter = 0;
    TPML_PCR_SELECTION* sel_out = nullptr;
    TPML_DIGEST* values = nullptr;
    TSS2_RC rc = Esys_PCR_Read(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter,
                               &sel_out, &values);
    EsysOwned<TPML_PCR_SELECTION> sel_owned(sel_out);
    EsysOwned<TPML_DIGEST> values_owned(values);
    if (rc != TSS2_RC_SUCCESS) return TssError("Esys_PCR_Read", rc);
    uint32_t next = 0;
    for (uint32_t b = 0; b < sel_out->count; ++b) {
      const TPMS_PCR_SELECTION& s = sel_out->pcrSelections[b];
      for (uint32_t pcr = 0; pcr < 8u * s.sizeofSelect; ++pcr) {
        if (!(s.pcrSelect[pcr / 8] & (1u << (pcr % 8)))) continue;
        if (next >= values->count) return absl::InternalError("tpm: PCR_Read: too few digests");
        const TPM2B_DIGEST& d = values->digests[next++];
        out[s.hash][pcr].assign(d.buffer, d.buffer + d.size);
        for (TpmPcrBank& bank : remaining) {
          if (bank.hash_alg != s.hash) continue;
          bank.pcrs.erase(std::remove(bank.pcrs.begin(), bank.pcrs.end(), pcr), bank.pcrs.end());
        }
      }
    }
    if (next == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "tpm: the TPM returns none of PCRs ", FormatTpmPcrSelection(remaining),
          " (bank not active?)"));
    }
  }
  return absl::InternalError("tpm: PCR_Read did not converge");
}

absl::Status TpmSession::Persist(const TpmKeyHandle& key, uint32_t handle) {
  ESYS_TR persistent = ESYS_TR_NONE;
  TSS2_RC rc = Esys_EvictControl(esys_, ESYS_TR_RH_OWNER, key.handle, ESYS_TR_PASSWORD,
                                 ESYS_TR_NONE, ESYS_TR_NONE, handle, &persistent);
  if (rc != TSS2_RC_SUCCESS) {
    return TssError(absl::StrCat("Esys_EvictControl to 0x", absl::Hex(handle)), rc);
  }
  Esys_TR_Close(esys_, &persistent);
  return absl::OkStatus();
}

void TpmSession::Release(TpmKeyHandle& key) {
  if (key.handle == ESYS_TR_NONE) return;
  if (key.transient) {
    Esys_FlushContext(esys_, key.handle);
  } else {
    Esys_TR_Close(esys_, &key.handle);
  }
  key.handle = ESYS_TR_NONE;
}

}  // namespace strongroom::client::internal
