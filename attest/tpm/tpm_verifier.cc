#include "attest/tpm/tpm_verifier.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "attest/tpm/ak_cache.h"
#include "attest/tpm/quote_bundle.h"
#include "attest/tpm/quote_bundle_internal.h"
#include "attest/tpm/quote_checks.h"
#include "attest/tpm/tpm_structures.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

using tpm_checks::SpkiSha256Hex;
using tpm_internal::AkFacts;
using tpm_internal::AssignCacheKey;
using tpm_internal::CacheKey;
using tpm_internal::FlatPcrs;

absl::Status Prefixed(const absl::Status& s, absl::string_view prefix) {
  return absl::Status(s.code(), absl::StrCat(prefix, s.message()));
}

absl::StatusOr<std::optional<TpmtPublic>> ParseOptionalPublic(
    std::span<const uint8_t> blob, absl::string_view field) {
  if (blob.empty()) return std::optional<TpmtPublic>();
  auto pub = ParseTpmPublicBlob(blob);
  if (!pub.ok()) {
    return Prefixed(pub.status(), absl::StrCat("tpm quote: ", field, ": "));
  }
  return std::optional<TpmtPublic>(std::move(*pub));
}

// "tpm.pcrs.<bank>.<index>" built in place: a quote has a claim per
// selected PCR, and a StrCat for each would be a heap allocation each.
class PcrClaimName {
 public:
  explicit PcrClaimName(uint16_t bank) {
    const std::string bank_name = TpmAlgName(bank);  // "sha256" or "0x1234"
    Append("tpm.pcrs.");
    Append(bank_name);
    Append(".");
    prefix_len_ = len_;
  }
  absl::string_view For(uint32_t index) {
    len_ = prefix_len_;
    char digits[10];
    size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + index % 10);
      index /= 10;
    } while (index != 0);
    while (n > 0) buf_[len_++] = digits[--n];
    return absl::string_view(buf_, len_);
  }

 private:
  void Append(absl::string_view s) {
    for (char c : s) buf_[len_++] = c;
  }
  char buf_[32];  // "tpm.pcrs." 9 + bank name <= 6 + "." + 10 digits
  size_t len_ = 0;
  size_t prefix_len_ = 0;
};

// What this thread last found in one verifier's caches, by the same keys:
// a quote from the AK of the previous quote finds its AK, EK and
// qualifiedSigner answer here without the caches' mutexes and without
// reference-count traffic on objects that every thread shares (with two
// threads on one AK, those shared cache lines were a measurable share of an
// RSA quote's check). Sound for the reason the caches are (ak_cache.h); the
// entries also own what the call in progress uses. Read back only while it
// belongs to the verifier at hand (`verifier`, a TpmVerifier's id) and that
// verifier caches at all; it holds one AK and EK until this thread verifies
// with another verifier or ends.
struct ThreadMemo {
  uint64_t verifier = 0;
  std::string ak_key;  // "" for an AK taken from a certificate
  std::shared_ptr<const AkFacts> ak;
  std::string ek_key;
  std::shared_ptr<const TpmtPublic> ek;
  std::string qs_key;
  std::optional<tpm_internal::QualifiedSignerAnswer> qs;
};

// Per-thread buffers for Verify, reused call after call so that reading a
// bundle allocates nothing once they have grown: the fast reader's output
// (with its ~8 KB PCR store) and the cache keys.
struct VerifyScratch {
  tpm_internal::FastBundleView view;
  Bytes ak_public;  // decoded on a cache miss
  Bytes ek_public;
  std::string ak_key;
  std::string ek_key;
  std::string qs_key;
  TpmsAttest attest;  // the quote and its signature, parsed
  TpmtSignature signature;
  ThreadMemo memo;
};

VerifyScratch& ThreadScratch() {
  thread_local std::unique_ptr<VerifyScratch> scratch;
  if (scratch == nullptr) scratch = std::make_unique<VerifyScratch>();
  return *scratch;
}

// The value under `key`: the memo's when `use_memo` and it holds that key,
// else the cache's (then memoized). Null when neither has it.
template <typename T>
const T* Recall(bool use_memo, const std::string& key, std::string* memo_key,
                std::shared_ptr<const T>* memo_value,
                const BoundedCache<std::shared_ptr<const T>>& cache) {
  if (use_memo && *memo_value != nullptr && *memo_key == key) {
    return memo_value->get();
  }
  auto hit = cache.Find(key);
  if (!hit.has_value()) return nullptr;
  *memo_key = key;
  *memo_value = *std::move(hit);
  return memo_value->get();
}

// A chain to an AK CA says who issued the certificate, not that its key is
// a TPM's: the leaf must also carry a TCG key purpose in its extended key
// usage, tcg-kp-AIKCertificate (2.23.133.8.3, TCG EK Credential Profile) or
// tcg-kp-EKCertificate (2.23.133.8.1, which Google's vTPM AK certificates
// carry). Any other key the same CA certified (a TLS key, say) could sign a
// made-up TPMS_ATTEST.
absl::Status CheckAkCertificatePurpose(const Certificate& cert) {
  int critical = 0;
  auto* eku = static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert.get(), NID_ext_key_usage, &critical, nullptr));
  const std::string want =
      "a TCG key purpose, 2.23.133.8.3 (tcg-kp-AIKCertificate) or 2.23.133.8.1";
  if (eku == nullptr) {
    ERR_clear_error();
    return absl::PermissionDeniedError(
        absl::StrCat("tpm quote: AK certificate '", cert.common_name(), "': extended key usage ",
                     critical == -1 ? "absent" : "unreadable",
                     ": the CA does not say the key is a TPM's (want ", want, ")"));
  }
  std::string seen;
  bool tcg = false;
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku); ++i) {
    char oid[80];
    const int n = OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, i), /*no_name=*/1);
    if (n <= 0 || n >= static_cast<int>(sizeof(oid))) continue;
    const absl::string_view text(oid, n);
    tcg = tcg || text == "2.23.133.8.3" || text == "2.23.133.8.1";
    absl::StrAppend(&seen, seen.empty() ? "" : ", ", text);
  }
  EXTENDED_KEY_USAGE_free(eku);
  if (!tcg) {
    return absl::PermissionDeniedError(
        absl::StrCat("tpm quote: AK certificate '", cert.common_name(), "': extended key usage [",
                     seen, "] has no TCG key purpose (want ", want, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TpmVerifier>> TpmVerifier::Create(
    TpmVerifierOptions options) {
  std::vector<std::shared_ptr<EVP_PKEY>> keys;
  for (size_t i = 0; i < options.trusted_ak_public_keys_pem.size(); ++i) {
    ASSIGN_OR_RETURN(auto parsed,
                     tpm_checks::ParsePublicKeysPem(
                         options.trusted_ak_public_keys_pem[i],
                         absl::StrCat("trusted_ak_public_keys_pem[", i, "]")));
    keys.insert(keys.end(), parsed.begin(), parsed.end());
  }
  std::vector<Certificate> roots;
  for (size_t i = 0; i < options.ak_ca_roots_pem.size(); ++i) {
    std::string field = absl::StrCat("ak_ca_roots_pem[", i, "]");
    ASSIGN_OR_RETURN(auto certs,
                     ParseCertificates(options.ak_ca_roots_pem[i], field));
    for (const Certificate& c : certs) {
      if (!c.SelfSigned()) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ": '", c.common_name(), "' is not a self-signed root"));
      }
      roots.push_back(c);
    }
  }
  std::vector<Certificate> intermediates;
  for (size_t i = 0; i < options.ak_ca_intermediates_pem.size(); ++i) {
    ASSIGN_OR_RETURN(auto certs,
                     ParseCertificates(options.ak_ca_intermediates_pem[i],
                                       absl::StrCat("ak_ca_intermediates_pem[",
                                                    i, "]")));
    intermediates.insert(intermediates.end(), certs.begin(), certs.end());
  }
  return std::unique_ptr<TpmVerifier>(
      new TpmVerifier(std::move(keys), std::move(roots),
                      std::move(intermediates), options.cache_capacity));
}

uint64_t TpmVerifier::NextId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

TpmVerifier::CacheStats TpmVerifier::cache_stats() const {
  return CacheStats{.aks = caches_->aks.size(),
                    .ek_publics = caches_->ek_publics.size(),
                    .qualified_signers = caches_->qualified_signers.size(),
                    .certificates = caches_->certificates.size(),
                    .chains = caches_->chains.size()};
}

bool TpmVerifier::IsTrustedKey(EVP_PKEY* key) const {
  for (const auto& k : trusted_keys_) {
    if (EVP_PKEY_eq(k.get(), key) == 1) return true;
  }
  return false;
}

absl::StatusOr<std::shared_ptr<const AkFacts>> TpmVerifier::AkFromPublic(
    std::span<const uint8_t> ak_public, const std::string& cache_key) const {
  auto facts = std::make_shared<AkFacts>();
  ASSIGN_OR_RETURN(facts->pub, ParseOptionalPublic(ak_public, "ak_public"));
  RETURN_IF_ERROR(tpm_checks::CheckAkAttributes(*facts->pub));
  auto key = TpmPublicKey(*facts->pub);
  if (!key.ok()) return Prefixed(key.status(), "tpm quote: ak_public: ");
  facts->key = *std::move(key);
  ASSIGN_OR_RETURN(facts->alg, tpm_checks::KeyAlgName(facts->key.get()));
  facts->checker =
      std::make_unique<const tpm_internal::AkSignatureChecker>(facts->key);
  facts->spki_sha256 = SpkiSha256Hex(facts->key.get());
  ASSIGN_OR_RETURN(facts->name, TpmName(*facts->pub));
  facts->pinned = IsTrustedKey(facts->key.get());
  caches_->aks.Insert(cache_key, facts);
  return facts;
}

absl::StatusOr<std::shared_ptr<const AkFacts>> TpmVerifier::AkFromCertificate(
    const Certificate& cert) const {
  const std::string cache_key =
      CacheKey({AsBytes(absl::string_view("c")), cert.der()});
  if (auto hit = caches_->aks.Find(cache_key)) return *hit;
  EVP_PKEY* cert_key = cert.public_key();
  if (cert_key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("tpm quote: AK certificate '", cert.common_name(),
                     "' has no usable public key"));
  }
  auto facts = std::make_shared<AkFacts>();
  EVP_PKEY_up_ref(cert_key);
  facts->key.reset(cert_key, EVP_PKEY_free);
  ASSIGN_OR_RETURN(facts->alg, tpm_checks::KeyAlgName(cert_key));
  facts->checker =
      std::make_unique<const tpm_internal::AkSignatureChecker>(facts->key);
  facts->spki_sha256 = SpkiSha256Hex(cert_key);
  facts->pinned = IsTrustedKey(cert_key);
  caches_->aks.Insert(cache_key, facts);
  return facts;
}

absl::StatusOr<std::vector<Certificate>> TpmVerifier::PresentedCertificates(
    const Evidence& evidence) const {
  std::vector<Certificate> presented;
  for (size_t i = 0; i < evidence.certificates.size(); ++i) {
    const std::string& text = evidence.certificates[i];
    std::shared_ptr<const std::vector<Certificate>> certs;
    if (auto hit = caches_->certificates.Find(text)) {
      certs = *hit;
    } else {
      ASSIGN_OR_RETURN(auto parsed,
                       ParseCertificates(text, absl::StrCat(
                                                   "tpm quote: certificates[",
                                                   i, "]")));
      certs = std::make_shared<const std::vector<Certificate>>(
          std::move(parsed));
      caches_->certificates.Insert(text, certs);
    }
    presented.insert(presented.end(), certs->begin(), certs->end());
  }
  return presented;
}

absl::Status TpmVerifier::CheckAkChain(
    const std::vector<Certificate>& presented, absl::Time at) const {
  std::string cache_key;
  for (const Certificate& c : presented) {
    cache_key += CacheKey({c.der()});
  }
  if (auto hit = caches_->chains.Find(cache_key);
      hit && hit->valid_from <= at && at <= hit->valid_until) {
    return absl::OkStatus();
  }
  std::vector<Certificate> pool(presented.begin() + 1, presented.end());
  pool.insert(pool.end(), intermediates_.begin(), intermediates_.end());
  pool.insert(pool.end(), roots_.begin(), roots_.end());
  ChainCheck check;
  check.at = at;
  for (const Certificate& r : roots_) {
    check.pinned_roots.push_back(r.SpkiSha256Hex());
  }
  auto chain = BuildAndVerifyChain(presented[0], pool, check);
  if (!chain.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("tpm quote: AK certificate '", presented[0].common_name(),
                     "' is not trusted: ", chain.status().message()));
  }
  caches_->chains.Insert(cache_key, tpm_internal::WindowOf(*chain));
  return absl::OkStatus();
}

absl::StatusOr<Appraisal> TpmVerifier::Verify(const Evidence& evidence,
                                              const VerifyContext& ctx) const {
  if (ctx.at == absl::InfinitePast()) {
    return absl::InvalidArgumentError(
        "tpm quote: verification time (VerifyContext.at) is not set");
  }
  if (evidence.type != EvidenceType::kTpm) {
    return absl::InvalidArgumentError(
        absl::StrCat("tpm quote: evidence type is '",
                     EvidenceTypeName(evidence.type), "', not 'tpm'"));
  }
  // ParseTpmQuoteBundle, with the public areas looked up by their text.
  VerifyScratch& scratch = ThreadScratch();
  ThreadMemo& memo = scratch.memo;
  if (memo.verifier != id_) memo = ThreadMemo{.verifier = id_};
  const bool use_memo = memo_enabled_;
  tpm_internal::FastBundleView& view = scratch.view;
  const absl::string_view t = "t";
  QuoteInput in;
  bool fast = tpm_internal::ReadTpmQuoteBundleFastView(evidence.payload, &view);
  // A public area by its text: the memoized or cached object, else its
  // decoded bytes (false when the text is not canonical base64).
  auto look_up = [&t, use_memo](absl::string_view text, std::string* key, const auto& cache,
                                std::string* memo_key, auto* memo_value, auto* hit,
                                Bytes* decoded, std::span<const uint8_t>* bytes) {
    AssignCacheKey(key, {AsBytes(t), AsBytes(text)});
    if ((*hit = Recall(use_memo, *key, memo_key, memo_value, cache)) != nullptr) return true;
    if (!tpm_internal::DecodeCanonicalBase64NonEmpty(text, decoded)) return false;
    *bytes = *decoded;
    return true;
  };
  if (fast && view.has_ak_public) {
    fast = look_up(view.ak_public_base64, &scratch.ak_key, caches_->aks, &memo.ak_key, &memo.ak,
                   &in.ak, &scratch.ak_public, &in.ak_public);
  }
  if (fast && view.has_ek_public) {
    fast = look_up(view.ek_public_base64, &scratch.ek_key, caches_->ek_publics, &memo.ek_key,
                   &memo.ek, &in.ek, &scratch.ek_public, &in.ek_public);
  }
  if (fast) {
    in.quote = view.quote;
    in.signature = view.signature;
    in.pcrs = &view.pcrs;
    in.ak_key = &scratch.ak_key;
    in.ek_key = &scratch.ek_key;
    return VerifyQuote(evidence, ctx, std::move(in));
  }
  // Anything the fast reader does not take, as ParseTpmQuoteBundle reads it.
  ASSIGN_OR_RETURN(TpmQuoteBundle bundle,
                   tpm_internal::ParseTpmQuoteBundleDom(evidence.payload));
  if (!view.pcrs.AssignFrom(bundle.pcrs)) {
    return absl::InternalError("tpm quote: PCR values out of range");
  }
  const absl::string_view p = "p";
  in = QuoteInput();
  in.quote = bundle.quote;
  in.signature = bundle.signature;
  in.pcrs = &view.pcrs;
  if (!bundle.ak_public.empty()) {
    in.ak_public = bundle.ak_public;
    scratch.ak_key = CacheKey({AsBytes(p), bundle.ak_public});
    in.ak = Recall(use_memo, scratch.ak_key, &memo.ak_key, &memo.ak, caches_->aks);
  }
  if (!bundle.ek_public.empty()) {
    in.ek_public = bundle.ek_public;
    scratch.ek_key = CacheKey({AsBytes(p), bundle.ek_public});
    in.ek = Recall(use_memo, scratch.ek_key, &memo.ek_key, &memo.ek, caches_->ek_publics);
  }
  in.ak_key = &scratch.ak_key;
  in.ek_key = &scratch.ek_key;
  return VerifyQuote(evidence, ctx, std::move(in));
}

absl::StatusOr<Appraisal> TpmVerifier::VerifyQuote(const Evidence& evidence,
                                                   const VerifyContext& ctx,
                                                   QuoteInput in) const {
  VerifyScratch& scratch = ThreadScratch();
  ThreadMemo& memo = scratch.memo;
  if (absl::Status st = ParseTpmsAttestInto(in.quote, &scratch.attest); !st.ok()) {
    return Prefixed(st, "tpm quote: quote: ");
  }
  const TpmsAttest& attest = scratch.attest;
  if (absl::Status st = ParseTpmtSignatureInto(in.signature, &scratch.signature);
      !st.ok()) {
    return Prefixed(st, "tpm quote: signature: ");
  }
  const TpmtSignature& sig = scratch.signature;
  // The AK's public area first: with a warm cache it is one lookup. What
  // this call parses is owned by the memo from here on (and cached).
  const AkFacts* ak = in.ak;
  if (ak == nullptr && !in.ak_public.empty()) {
    ASSIGN_OR_RETURN(memo.ak, AkFromPublic(in.ak_public, *in.ak_key));
    memo.ak_key = *in.ak_key;
    ak = memo.ak.get();
  }
  // ek_public parsed (cached like the AK, only once it parsed).
  const TpmtPublic* ek = in.ek;
  if (ek == nullptr && !in.ek_public.empty()) {
    ASSIGN_OR_RETURN(std::optional<TpmtPublic> parsed,
                     ParseOptionalPublic(in.ek_public, "ek_public"));
    memo.ek = std::make_shared<const TpmtPublic>(*std::move(parsed));
    memo.ek_key = *in.ek_key;
    ek = memo.ek.get();
    caches_->ek_publics.Insert(*in.ek_key, memo.ek);
  }
  // The qualifiedSigner answer for this AK, EK and qualifiedSigner.
  std::string& qs_key = scratch.qs_key;
  const tpm_internal::QualifiedSignerAnswer* qs_hit = nullptr;
  if (ak != nullptr) {
    tpm_internal::AssignQualifiedSignerKey(&qs_key, ak, ek, attest.qualified_signer);
    if (memo_enabled_ && memo.qs.has_value() && memo.qs_key == qs_key) {
      qs_hit = &*memo.qs;
    } else if (auto hit = caches_->qualified_signers.Find(qs_key)) {
      memo.qs = *std::move(hit);
      memo.qs_key = qs_key;
      qs_hit = &*memo.qs;
    }
  }
  ASSIGN_OR_RETURN(std::vector<Certificate> presented,
                   PresentedCertificates(evidence));

  // The AK's key, from its public area and/or its certificate (the first
  // certificate presented), which must agree.
  if (!presented.empty()) {
    if (ak == nullptr) {
      ASSIGN_OR_RETURN(memo.ak, AkFromCertificate(presented[0]));
      memo.ak_key.clear();
      ak = memo.ak.get();
    } else {
      EVP_PKEY* cert_key = presented[0].public_key();
      if (cert_key == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tpm quote: AK certificate '", presented[0].common_name(),
            "' has no usable public key"));
      }
      if (EVP_PKEY_eq(ak->key.get(), cert_key) != 1) {
        return absl::PermissionDeniedError(absl::StrCat(
            "tpm quote: ak_public (SPKI sha256 ", ak->spki_sha256,
            ") does not match the key of AK certificate '",
            presented[0].common_name(), "' (SPKI sha256 ",
            SpkiSha256Hex(cert_key), ")"));
      }
    }
  }
  if (ak == nullptr) {
    return absl::FailedPreconditionError(
        "tpm quote: no AK: the bundle has no ak_public and the evidence no "
        "AK certificate");
  }
  const TpmtPublic* ak_public = ak->pub ? &*ak->pub : nullptr;
  RETURN_IF_ERROR(tpm_checks::VerifyQuoteSignature(*ak->checker, ak_public,
                                                   sig, in.quote));

  // AK trust: a configured key, else a certificate chain to a pinned root.
  std::string trust;
  if (ak->pinned) {
    trust = "pinned-key";
  } else {
    std::string untrusted =
        absl::StrCat("tpm quote: AK (SPKI sha256 ", ak->spki_sha256,
                     ") is not a trusted AK key");
    if (presented.empty()) {
      return absl::PermissionDeniedError(
          absl::StrCat(untrusted, " and no AK certificate was presented"));
    }
    if (roots_.empty()) {
      return absl::PermissionDeniedError(
          absl::StrCat(untrusted, " and no AK CA roots are configured"));
    }
    RETURN_IF_ERROR(CheckAkChain(presented, ctx.at));
    RETURN_IF_ERROR(CheckAkCertificatePurpose(presented[0]));
    trust = "certificate";
  }

  Appraisal appraisal;
  appraisal.tee = "tpm";
  Claims& claims = appraisal.claims;
  std::string qn_check = "unverified";
  if (ak_public != nullptr) {
    std::optional<std::string> match;
    if (qs_hit != nullptr) {
      match = qs_hit->match;
    } else {
      ASSIGN_OR_RETURN(match, tpm_checks::MatchQualifiedSigner(
                                  attest.qualified_signer, *ak_public, ek));
      // memo.ak and memo.ek are this call's AK and EK (set above).
      memo.qs = tpm_internal::QualifiedSignerAnswer{
          memo.ak, ek != nullptr ? memo.ek : nullptr, match};
      memo.qs_key = qs_key;
      caches_->qualified_signers.Insert(qs_key, *memo.qs);
    }
    if (match.has_value()) {
      qn_check = *match;
    } else {
      appraisal.warnings.push_back(
          "qualifiedSigner is neither the AK's Name nor a Qualified Name "
          "derivable from a hierarchy or ek_public (parent chain unknown)");
    }
  } else {
    appraisal.warnings.push_back(
        "no ak_public in the bundle: qualifiedSigner not checked");
  }

  if (ctx.expected_report_data.has_value()) {
    if (*ctx.expected_report_data != attest.extra_data) {
      return absl::PermissionDeniedError(absl::StrCat(
          "tpm quote: extraData (nonce) ", HexEncode(attest.extra_data),
          " is not the expected ", HexEncode(*ctx.expected_report_data)));
    }
  } else {
    appraisal.warnings.push_back(
        "no expected nonce given: quote freshness not checked");
  }

  std::vector<std::string> unused;
  RETURN_IF_ERROR(
      tpm_checks::CheckPcrDigest(attest, *in.pcrs, sig.hash_alg, &unused));
  for (const std::string& u : unused) {
    appraisal.warnings.push_back(
        absl::StrCat(u, " supplied but not selected by the quote: ignored"));
  }
  // The claims, set in name order: Claims keeps its entries sorted, and an
  // entry set out of order moves the ones after it.
  size_t pcr_claims = 0;
  for (const TpmsPcrSelection& sel : attest.pcr_select) pcr_claims += sel.pcrs.size();
  claims.Reserve(13 + pcr_claims);
  claims.SetString("tpm.ak.alg", ak->alg);
  if (ak_public != nullptr) claims.SetBytes("tpm.ak.name", ak->name);
  claims.SetBytes("tpm.ak.qualified_name", attest.qualified_signer);
  claims.SetString("tpm.ak.qualified_name_check", qn_check);
  claims.SetString("tpm.ak.spki_sha256", ak->spki_sha256);
  claims.SetString("tpm.ak.trust", trust);
  claims.SetInt("tpm.clock.ms", static_cast<int64_t>(attest.clock_info.clock));
  claims.SetBool("tpm.clock.safe", attest.clock_info.safe);
  claims.SetInt("tpm.firmware_version",
                static_cast<int64_t>(attest.firmware_version));
  claims.SetBytes("tpm.nonce", attest.extra_data);
  // CheckPcrDigest has made sure every selected PCR is supplied.
  for (const TpmsPcrSelection& sel : attest.pcr_select) {
    PcrClaimName name(sel.hash_alg);
    for (uint32_t index : sel.pcrs) {
      claims.SetBytes(name.For(index), in.pcrs->Find(sel.hash_alg, index));
    }
  }
  claims.SetString("tpm.quote.hash", TpmAlgName(sig.hash_alg));
  claims.SetInt("tpm.reset_count", attest.clock_info.reset_count);
  claims.SetInt("tpm.restart_count", attest.clock_info.restart_count);
  appraisal.trust.instance_identity = 2;
  appraisal.trust.hardware = 2;
  appraisal.trust.executables = 2;
  return appraisal;
}

}  // namespace strongroom::attest
