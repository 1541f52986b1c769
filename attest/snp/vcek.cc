#include "attest/snp/vcek.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace strongroom::attest {
namespace {

// AMD's ARKs, pinned by the SHA-256 of their DER SubjectPublicKeyInfo.
// Computed from the ARK in each shared/vectors/sev-snp/<product>/ask_ark_*.pem
// (copied from google/go-sev-guest verify/trust/, the certificates AMD's KDS
// serves at /vcek/v1/<product>/cert_chain) with
//   openssl x509 -in ark.pem -noout -pubkey | openssl pkey -pubin -outform der
//     | sha256sum
// The ARK in each asvk_ark_*_vlek.pem has the same key and digest.
constexpr absl::string_view kArkMilanSpkiSha256 =
    "9f056bee44377e29308cb5ffa895bdfb62d18881fa6bed8d6f075b0204089cb9";
constexpr absl::string_view kArkGenoaSpkiSha256 =
    "429a69c9422aa258ee4d8db5fcda9c6470ef15f8cd5a9cebd6cbc7d90b863831";
constexpr absl::string_view kArkTurinSpkiSha256 =
    "4f125410563a2ab9a50356f9243f6fe0b6f73de98603f53f90339c70e9d7ad08";

constexpr char kOidProductName[] = "1.3.6.1.4.1.3704.1.2";
constexpr char kOidBlSpl[] = "1.3.6.1.4.1.3704.1.3.1";
constexpr char kOidTeeSpl[] = "1.3.6.1.4.1.3704.1.3.2";
constexpr char kOidSnpSpl[] = "1.3.6.1.4.1.3704.1.3.3";
constexpr char kOidUcodeSpl[] = "1.3.6.1.4.1.3704.1.3.8";
constexpr char kOidFmcSpl[] = "1.3.6.1.4.1.3704.1.3.9";
constexpr char kOidHwid[] = "1.3.6.1.4.1.3704.1.4";

constexpr absl::string_view kProducts[] = {"Milan", "Genoa", "Turin"};

std::string NameCn(const X509_NAME* name) {
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "";
  const ASN1_STRING* s =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) {
    ERR_clear_error();
    return "";
  }
  std::string out(reinterpret_cast<char*>(utf8), n);
  OPENSSL_free(utf8);
  return out;
}
std::string IssuerCn(const Certificate& c) {
  return NameCn(X509_get_issuer_name(c.get()));
}
std::string SubjectCn(const Certificate& c) {
  return NameCn(X509_get_subject_name(c.get()));
}
bool IsCa(const Certificate& c) { return X509_check_ca(c.get()) != 0; }

// "SEV-Milan" -> (VCEK, Milan); "SEV-VLEK-Milan" -> (VLEK, Milan).
std::optional<std::pair<SnpSigningKey, SnpProduct>> ParseIssuerCn(
    absl::string_view cn) {
  if (!absl::ConsumePrefix(&cn, "SEV-")) return std::nullopt;
  SnpSigningKey kind = SnpSigningKey::kVcek;
  if (absl::ConsumePrefix(&cn, "VLEK-")) kind = SnpSigningKey::kVlek;
  for (absl::string_view p : kProducts) {
    if (cn == p) return std::make_pair(kind, *SnpProductFromName(p));
  }
  return std::nullopt;
}

absl::Status BadExtension(const Certificate& cert, absl::string_view what,
                          absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("snp certificate '", cert.common_name(), "': extension ",
                   what, ": ", why));
}

// A DER INTEGER 0..255 that fills the extension value exactly.
absl::StatusOr<uint8_t> DecodeSpl(const Certificate& cert, const char* oid,
                                  absl::string_view what) {
  std::optional<Bytes> v = cert.Extension(oid);
  if (!v.has_value()) {
    return BadExtension(cert, what, absl::StrCat("missing (", oid, ")"));
  }
  const unsigned char* p = v->data();
  ASN1_INTEGER* i = d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(v->size()));
  std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> owned(
      i, ASN1_INTEGER_free);
  int64_t value = -1;
  bool ok = i != nullptr && p == v->data() + v->size() &&
            ASN1_INTEGER_get_int64(&value, i) == 1;
  ERR_clear_error();
  if (!ok) {
    return BadExtension(
        cert, what, absl::StrCat("not a DER INTEGER (", HexEncode(*v), ")"));
  }
  if (value < 0 || value > 255) {
    return BadExtension(cert, what, absl::StrCat(value, " is outside 0..255"));
  }
  return static_cast<uint8_t>(value);
}

// IA5String, e.g. "Milan-B0".
absl::StatusOr<std::optional<std::string>> DecodeProductName(
    const Certificate& cert) {
  std::optional<Bytes> v = cert.Extension(kOidProductName);
  if (!v.has_value()) return std::optional<std::string>();
  const unsigned char* p = v->data();
  ASN1_IA5STRING* s =
      d2i_ASN1_IA5STRING(nullptr, &p, static_cast<long>(v->size()));
  std::unique_ptr<ASN1_IA5STRING, decltype(&ASN1_IA5STRING_free)> owned(
      s, ASN1_IA5STRING_free);
  bool ok = s != nullptr && p == v->data() + v->size();
  ERR_clear_error();
  if (!ok) {
    return BadExtension(cert, "productName", "not a DER IA5String");
  }
  return std::optional<std::string>(
      std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                  ASN1_STRING_length(s)));
}

// The hwID: `want` raw bytes, or a DER OCTET STRING holding exactly them.
absl::StatusOr<std::optional<Bytes>> DecodeHwid(const Certificate& cert,
                                                size_t want) {
  std::optional<Bytes> v = cert.Extension(kOidHwid);
  if (!v.has_value()) return std::optional<Bytes>();
  if (v->size() == want) return v;
  const unsigned char* p = v->data();
  ASN1_OCTET_STRING* s =
      d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(v->size()));
  std::unique_ptr<ASN1_OCTET_STRING, decltype(&ASN1_OCTET_STRING_free)> owned(
      s, ASN1_OCTET_STRING_free);
  ERR_clear_error();
  if (s != nullptr && p == v->data() + v->size() &&
      static_cast<size_t>(ASN1_STRING_length(s)) == want) {
    const uint8_t* d = ASN1_STRING_get0_data(s);
    return std::optional<Bytes>(Bytes(d, d + want));
  }
  return BadExtension(cert, "hwID",
                      absl::StrCat(v->size(), " bytes, want ", want,
                                   " raw or as a DER OCTET STRING"));
}

absl::Status TcbMismatch(absl::string_view component, int report, int cert) {
  return absl::PermissionDeniedError(
      absl::StrCat("snp report: reported_tcb.", component, " is ", report,
                   " but the VCEK was issued for ", component, " ", cert));
}

}  // namespace

absl::string_view PinnedArkSpkiSha256(SnpProduct product) {
  switch (product) {
    case SnpProduct::kMilan:
      return kArkMilanSpkiSha256;
    case SnpProduct::kGenoa:
      return kArkGenoaSpkiSha256;
    case SnpProduct::kTurin:
      return kArkTurinSpkiSha256;
  }
  return "";
}

std::optional<SnpSigningKey> SnpLeafKindOf(const Certificate& cert) {
  if (IsCa(cert)) return std::nullopt;
  auto parsed = ParseIssuerCn(IssuerCn(cert));
  if (!parsed.has_value()) return std::nullopt;
  return parsed->first;
}

absl::StatusOr<SnpEndorsementKey> DecodeSnpEndorsementKey(
    const Certificate& cert) {
  std::string issuer_cn = IssuerCn(cert);
  auto parsed = ParseIssuerCn(issuer_cn);
  if (IsCa(cert) || !parsed.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("snp certificate '", cert.common_name(), "' (issuer '",
                     issuer_cn, "') is not a VCEK or VLEK"));
  }
  SnpEndorsementKey key{
      .cert = cert, .kind = parsed->first, .product = parsed->second};
  std::string subject_cn = SubjectCn(cert);
  absl::string_view want_cn =
      key.kind == SnpSigningKey::kVcek ? "SEV-VCEK" : "SEV-VLEK";
  if (subject_cn != want_cn) {
    return absl::InvalidArgumentError(
        absl::StrCat("snp certificate issued by '", issuer_cn, "' is named '",
                     subject_cn, "', want '", want_cn, "'"));
  }
  auto name = DecodeProductName(cert);
  if (!name.ok()) return name.status();
  if (name->has_value()) {
    key.product_name = **name;
    std::optional<SnpProduct> from_ext = SnpProductFromName(key.product_name);
    if (from_ext != key.product) {
      return absl::InvalidArgumentError(absl::StrCat(
          "snp certificate '", cert.common_name(), "': productName '",
          key.product_name, "' does not match its issuer '", issuer_cn, "'"));
    }
  }
  auto bl = DecodeSpl(cert, kOidBlSpl, "blSPL");
  if (!bl.ok()) return bl.status();
  auto tee = DecodeSpl(cert, kOidTeeSpl, "teeSPL");
  if (!tee.ok()) return tee.status();
  auto snp = DecodeSpl(cert, kOidSnpSpl, "snpSPL");
  if (!snp.ok()) return snp.status();
  auto ucode = DecodeSpl(cert, kOidUcodeSpl, "ucodeSPL");
  if (!ucode.ok()) return ucode.status();
  key.tcb = SnpTcb{.bl = *bl, .tee = *tee, .snp = *snp, .ucode = *ucode};
  if (key.product == SnpProduct::kTurin) {
    auto fmc = DecodeSpl(cert, kOidFmcSpl, "fmcSPL");
    if (!fmc.ok()) return fmc.status();
    key.tcb.fmc = *fmc;
  }
  // Turin VCEKs carry the first 8 bytes of the chip id; earlier products
  // all 64.
  auto hwid = DecodeHwid(cert, key.product == SnpProduct::kTurin ? 8 : 64);
  if (!hwid.ok()) return hwid.status();
  key.hwid = *std::move(hwid);
  return key;
}

absl::Status CheckReportedTcb(const SnpReport& report,
                              const SnpEndorsementKey& key) {
  SnpTcb r = DecodeSnpTcb(report.reported_tcb, key.product);
  const SnpTcb& c = key.tcb;
  if (c.fmc.has_value() && r.fmc != c.fmc) {
    return TcbMismatch("fmc", r.fmc.value_or(0), *c.fmc);
  }
  if (r.bl != c.bl) return TcbMismatch("bl", r.bl, c.bl);
  if (r.tee != c.tee) return TcbMismatch("tee", r.tee, c.tee);
  if (r.snp != c.snp) return TcbMismatch("snp", r.snp, c.snp);
  if (r.ucode != c.ucode) return TcbMismatch("ucode", r.ucode, c.ucode);
  return absl::OkStatus();
}

absl::Status CheckChipId(const SnpReport& report,
                         const SnpEndorsementKey& key) {
  if (key.kind != SnpSigningKey::kVcek || report.chip_id_masked()) {
    return absl::OkStatus();
  }
  if (!key.hwid.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("snp certificate '", key.cert.common_name(),
                     "': extension hwID: missing (", kOidHwid, ")"));
  }
  std::span<const uint8_t> chip(report.chip_id);
  chip = chip.first(std::min(chip.size(), key.hwid->size()));
  if (!std::equal(chip.begin(), chip.end(), key.hwid->begin(),
                  key.hwid->end())) {
    return absl::PermissionDeniedError(
        absl::StrCat("snp report: chip_id ", HexEncode(chip),
                     " does not match the VCEK hwID ", HexEncode(*key.hwid)));
  }
  return absl::OkStatus();
}

namespace {

// Certificates in `pool` that are CAs named `cn` and whose subject is the
// issuer of `child`.
std::vector<const Certificate*> IssuersNamed(const Certificate& child,
                                             std::span<const Certificate> pool,
                                             absl::string_view cn) {
  std::vector<const Certificate*> out;
  for (const Certificate& c : pool) {
    if (SubjectCn(c) == cn && IsCa(c) &&
        X509_NAME_cmp(X509_get_issuer_name(child.get()),
                      X509_get_subject_name(c.get())) == 0) {
      out.push_back(&c);
    }
  }
  return out;
}

// The first CA in `pool` whose CN starts with `prefix` (a wrong-product or
// wrong-kind stand-in, for the error message), or "".
std::string OtherCaNamed(std::span<const Certificate> pool,
                         absl::string_view prefix) {
  for (const Certificate& c : pool) {
    std::string cn = SubjectCn(c);
    if (IsCa(c) && absl::StartsWith(cn, prefix)) return cn;
  }
  return "";
}

}  // namespace

absl::StatusOr<SnpChain> VerifySnpChain(const SnpEndorsementKey& key,
                                        std::span<const Certificate> pool,
                                        absl::Time at,
                                        absl::string_view ark_spki_sha256) {
  absl::string_view product = SnpProductName(key.product);
  absl::string_view leaf_name =
      key.kind == SnpSigningKey::kVcek ? "VCEK" : "VLEK";
  absl::string_view inter_role =
      key.kind == SnpSigningKey::kVcek ? "ASK" : "ASVK";
  std::string inter_cn = key.kind == SnpSigningKey::kVcek
                             ? absl::StrCat("SEV-", product)
                             : absl::StrCat("SEV-VLEK-", product);
  std::string root_cn = absl::StrCat("ARK-", product);

  std::vector<const Certificate*> inters =
      IssuersNamed(key.cert, pool, inter_cn);
  if (inters.empty()) {
    std::string other = OtherCaNamed(pool, "SEV-");
    if (!other.empty()) {
      return absl::PermissionDeniedError(
          absl::StrCat("snp chain: the ", leaf_name, " is for ", product,
                       " and needs ", inter_role, " '", inter_cn,
                       "', but the supplied intermediate is '", other, "'"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("snp chain: no ", inter_role, " '", inter_cn,
                     "' supplied (evidence certificates or collateral_dir)"));
  }

  absl::Status first_error;
  bool saw_root = false;
  for (const Certificate* inter : inters) {
    std::vector<const Certificate*> roots = IssuersNamed(*inter, pool, root_cn);
    // Try the pinned key first so that a look-alike root cannot mask it.
    std::stable_partition(roots.begin(), roots.end(),
                          [&](const Certificate* r) {
                            return r->SpkiSha256Hex() == ark_spki_sha256;
                          });
    for (const Certificate* root : roots) {
      saw_root = true;
      std::vector<Certificate> chain{key.cert, *inter, *root};
      ChainCheck check{.at = at,
                       .pinned_roots = {std::string(ark_spki_sha256)}};
      absl::Status s = VerifyChain(chain, check);
      if (s.ok()) {
        SnpChain out{.certs = std::move(chain),
                     .valid_from = absl::InfinitePast(),
                     .valid_until = absl::InfiniteFuture()};
        for (const Certificate& c : out.certs) {
          out.valid_from = std::max(out.valid_from, c.not_before());
          out.valid_until = std::min(out.valid_until, c.not_after());
        }
        return out;
      }
      if (first_error.ok()) {
        first_error = absl::Status(
            s.code(), absl::StrCat("snp chain (", product, "): ", s.message()));
      }
    }
  }
  if (saw_root) return first_error;
  std::string other = OtherCaNamed(pool, "ARK-");
  if (!other.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "snp chain: the ", leaf_name, " is for ", product, " and needs root '",
        root_cn, "', but the supplied root is '", other, "'"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("snp chain: no ARK '", root_cn,
                   "' supplied (evidence certificates or collateral_dir)"));
}

}  // namespace strongroom::attest
