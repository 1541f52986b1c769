// TPM structure parsers and the quote bundle against the recorded
// tpm2-tools / go-tpm-tools files, plus strictness (truncation, trailing
// bytes, oversized TPM2B, unknown selectors).
#include "attest/tpm/tpm_structures.h"

#include <openssl/ecdsa.h>
#include <openssl/sha.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "attest/tpm/quote_bundle.h"
#include "attest/x509.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/tpm/tpm_test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::attest::testing::SwtpmNonce;
using ::strongroom::attest::testing::TpmVec;
using ::strongroom::attest::testing::TpmVecBytes;
using ::strongroom::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

Bytes Sha256(std::span<const uint8_t> data) {
  Bytes out(32);
  SHA256(data.data(), data.size(), out.data());
  return out;
}

TEST(TpmStructuresTest, SwtpmQuoteFieldsMatchTheRecording) {
  ASSERT_OK_AND_ASSIGN(TpmPcrValues pcrs,
                       ParsePcrListing(TpmVec("swtpm/pcrs_sha256.txt")));
  std::vector<uint32_t> listed;
  Bytes concat;
  for (const auto& [index, value] : pcrs.at(kTpmAlgSha256)) {
    listed.push_back(index);
    concat.insert(concat.end(), value.begin(), value.end());
  }
  for (const char* alg : {"ecc", "rsa"}) {
    SCOPED_TRACE(alg);
    ASSERT_OK_AND_ASSIGN(
        TpmsAttest a,
        ParseTpmsAttest(TpmVecBytes(absl::StrCat("swtpm/quote_", alg, ".attest"))));
    EXPECT_EQ(a.magic, kTpmGeneratedValue);
    EXPECT_EQ(a.type, kTpmStAttestQuote);
    EXPECT_EQ(a.extra_data, SwtpmNonce());
    ASSERT_EQ(a.pcr_select.size(), 1u);
    EXPECT_EQ(a.pcr_select[0].hash_alg, kTpmAlgSha256);
    EXPECT_THAT(a.pcr_select[0].pcrs, ElementsAreArray(listed));
    EXPECT_EQ(a.pcr_digest, Sha256(concat));
    EXPECT_EQ(a.qualified_signer.size(), 34u);
  }
  // tpm2_quote printed the same digest as "calcDigest".
  std::string yaml = TpmVec("swtpm/quote_ecc.yaml");
  size_t at = yaml.find("calcDigest: ");
  ASSERT_NE(at, std::string::npos);
  std::string calc = yaml.substr(at + 12, 64);
  ASSERT_OK_AND_ASSIGN(TpmsAttest a,
                       ParseTpmsAttest(TpmVecBytes("swtpm/quote_ecc.attest")));
  EXPECT_EQ(HexEncode(a.pcr_digest), calc);
}

TEST(TpmStructuresTest, AkNamesAndKeysMatchTpm2Tools) {
  for (const char* alg : {"ecc", "rsa"}) {
    SCOPED_TRACE(alg);
    ASSERT_OK_AND_ASSIGN(
        TpmtPublic ak,
        ParseTpmPublicBlob(TpmVecBytes(absl::StrCat("swtpm/ak_", alg, ".pub"))));
    EXPECT_EQ(ak.type, std::string(alg) == "ecc" ? kTpmAlgEcc : kTpmAlgRsa);
    EXPECT_EQ(ak.name_alg, kTpmAlgSha256);
    EXPECT_TRUE(ak.object_attributes & kTpmaRestricted);
    EXPECT_TRUE(ak.object_attributes & kTpmaSign);
    ASSERT_OK_AND_ASSIGN(Bytes name, TpmName(ak));
    EXPECT_EQ(name, TpmVecBytes(absl::StrCat("swtpm/ak_", alg, ".name")));
    ASSERT_OK_AND_ASSIGN(auto key, TpmPublicKey(ak));
    ASSERT_OK_AND_ASSIGN(auto pem, PublicKeyFromPem(
        TpmVec(absl::StrCat("swtpm/ak_", alg, "_pub.pem")), "pem"));
    EXPECT_EQ(EVP_PKEY_eq(key.get(), pem.get()), 1);
  }
}

TEST(TpmStructuresTest, EkPublicIsTheCertifiedKey) {
  ASSERT_OK_AND_ASSIGN(TpmtPublic ek, ParseTpmPublicBlob(TpmVecBytes("swtpm/ek.pub")));
  EXPECT_EQ(ek.type, kTpmAlgRsa);
  EXPECT_TRUE(ek.object_attributes & kTpmaDecrypt);
  EXPECT_TRUE(ek.object_attributes & kTpmaRestricted);
  EXPECT_EQ(ek.symmetric_alg, kTpmAlgAes);
  EXPECT_EQ(ek.symmetric_key_bits, 128);
  EXPECT_EQ(ek.symmetric_mode, kTpmAlgCfb);
  ASSERT_OK_AND_ASSIGN(auto key, TpmPublicKey(ek));
  ASSERT_OK_AND_ASSIGN(auto pem, PublicKeyFromPem(TpmVec("swtpm/ek_pub.pem"), "pem"));
  EXPECT_EQ(EVP_PKEY_eq(key.get(), pem.get()), 1);
  ASSERT_OK_AND_ASSIGN(auto cert,
                       ParseCertificates(TpmVec("swtpm/ek_rsa_cert.der"), "ek"));
  EXPECT_EQ(EVP_PKEY_eq(key.get(), cert[0].public_key()), 1);
}

TEST(TpmStructuresTest, GceAkIsABareTpmtPublicOfTheCertifiedKey) {
  Bytes blob = TpmVecBytes("gce-shielded-vm/gce-cos-85-nonce9009_ak_tpmt_public.bin");
  ASSERT_OK_AND_ASSIGN(TpmtPublic ak, ParseTpmPublicBlob(blob));
  EXPECT_EQ(ak.encoded, blob);
  EXPECT_EQ(ak.type, kTpmAlgRsa);
  EXPECT_EQ(ak.rsa_key_bits, 2048);
  EXPECT_EQ(ak.scheme, kTpmAlgRsassa);
  ASSERT_OK_AND_ASSIGN(auto key, TpmPublicKey(ak));
  ASSERT_OK_AND_ASSIGN(auto pem, PublicKeyFromPem(
      TpmVec("gce-shielded-vm/gce-cos-85-nonce9009_ak_pub.pem"), "pem"));
  EXPECT_EQ(EVP_PKEY_eq(key.get(), pem.get()), 1);
  ASSERT_OK_AND_ASSIGN(auto cert, ParseCertificates(
      TpmVec("gce-shielded-vm/gce-cos-85-nonce9009_ak_cert.der"), "ak"));
  EXPECT_EQ(EVP_PKEY_eq(key.get(), cert[0].public_key()), 1);
}

TEST(TpmStructuresTest, SignaturesMatchTheConvertedForms) {
  ASSERT_OK_AND_ASSIGN(TpmtSignature ecc,
                       ParseTpmtSignature(TpmVecBytes("swtpm/quote_ecc.sig")));
  EXPECT_EQ(ecc.sig_alg, kTpmAlgEcdsa);
  EXPECT_EQ(ecc.hash_alg, kTpmAlgSha256);
  Bytes der = TpmVecBytes("swtpm/quote_ecc.sig.der");
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  ASSERT_NE(sig, nullptr);
  Bytes r(32), s(32);
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), r.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), s.data(), 32);
  ECDSA_SIG_free(sig);
  EXPECT_EQ(ecc.ecdsa_r, r);
  EXPECT_EQ(ecc.ecdsa_s, s);

  ASSERT_OK_AND_ASSIGN(TpmtSignature rsa,
                       ParseTpmtSignature(TpmVecBytes("swtpm/quote_rsa.sig")));
  EXPECT_EQ(rsa.sig_alg, kTpmAlgRsassa);
  EXPECT_EQ(rsa.rsa_signature, TpmVecBytes("swtpm/quote_rsa.sig.raw"));
}

// Every proper prefix fails, and one byte more is "trailing".
TEST(TpmStructuresTest, TruncatedOrExtendedInputIsRefused) {
  struct Case {
    const char* file;
    absl::StatusOr<bool> (*parse)(std::span<const uint8_t>);
  };
  auto attest = [](std::span<const uint8_t> b) -> absl::StatusOr<bool> {
    auto r = ParseTpmsAttest(b);
    if (!r.ok()) return r.status();
    return true;
  };
  auto sig = [](std::span<const uint8_t> b) -> absl::StatusOr<bool> {
    auto r = ParseTpmtSignature(b);
    if (!r.ok()) return r.status();
    return true;
  };
  auto pub = [](std::span<const uint8_t> b) -> absl::StatusOr<bool> {
    auto r = ParseTpmtPublic(b);
    if (!r.ok()) return r.status();
    return true;
  };
  const Case cases[] = {
      {"swtpm/quote_ecc.attest", attest},
      {"swtpm/quote_rsa.attest", attest},
      {"gce-shielded-vm/gce-cos-85-nonce9009_q2_attest.bin", attest},
      {"swtpm/quote_ecc.sig", sig},
      {"swtpm/quote_rsa.sig", sig},
      {"gce-shielded-vm/gce-cos-85-nonce9009_q0_tpmt_signature.bin", sig},
      {"gce-shielded-vm/gce-cos-85-nonce9009_ak_tpmt_public.bin", pub},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    Bytes full = TpmVecBytes(c.file);
    ASSERT_OK(c.parse(full));
    for (size_t n = 0; n < full.size(); ++n) {
      EXPECT_THAT(c.parse(std::span<const uint8_t>(full).first(n)),
                  StatusIs(absl::StatusCode::kInvalidArgument))
          << "prefix of " << n;
    }
    Bytes longer = full;
    longer.push_back(0);
    EXPECT_THAT(c.parse(longer),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trailing")));
  }
}

TEST(TpmStructuresTest, FieldViolationsNameTheField) {
  Bytes quote = TpmVecBytes("swtpm/quote_ecc.attest");
  Bytes oversized = quote;
  oversized[6] = 0x01;  // qualifiedSigner.size = 0x0122
  EXPECT_THAT(ParseTpmsAttest(oversized),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("qualifiedSigner: size 290 exceeds")));
  // clockInfo.safe sits after magic(4) type(2) name(2+34) data(2+17) clock(8)
  // resetCount(4) restartCount(4).
  Bytes unsafe = quote;
  size_t safe_at = 4 + 2 + 36 + 19 + 8 + 4 + 4;
  ASSERT_EQ(unsafe[safe_at], 1);
  unsafe[safe_at] = 2;
  EXPECT_THAT(ParseTpmsAttest(unsafe),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("clockInfo.safe")));
  // pcrSelect.count (after firmwareVersion): 1 -> 2 with the same bank again.
  Bytes twice = quote;
  size_t count_at = safe_at + 1 + 8;
  ASSERT_EQ(twice[count_at + 3], 1);
  twice[count_at + 3] = 2;
  Bytes bank(twice.begin() + count_at + 4, twice.begin() + count_at + 4 + 6);
  twice.insert(twice.begin() + count_at + 4 + 6, bank.begin(), bank.end());
  EXPECT_THAT(ParseTpmsAttest(twice), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("listed twice")));
  Bytes sm3_bank = quote;
  sm3_bank[count_at + 5] = 0x12;  // TPM_ALG_SM3_256
  EXPECT_THAT(ParseTpmsAttest(sm3_bank),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported PCR bank 0x0012")));

  Bytes hmac_sig = TpmVecBytes("swtpm/quote_ecc.sig");
  hmac_sig[1] = 0x05;  // TPM_ALG_HMAC
  EXPECT_THAT(ParseTpmtSignature(hmac_sig),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported signature scheme 0x0005")));
  Bytes keyed = TpmVecBytes("gce-shielded-vm/gce-cos-85-nonce9009_ak_tpmt_public.bin");
  keyed[1] = 0x08;  // TPM_ALG_KEYEDHASH
  EXPECT_THAT(ParseTpmtPublic(keyed), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("not an RSA or ECC key")));
}

void ExpectSameAttest(const TpmsAttest& got, const TpmsAttest& want) {
  EXPECT_EQ(got.magic, want.magic);
  EXPECT_EQ(got.type, want.type);
  EXPECT_EQ(got.qualified_signer, want.qualified_signer);
  EXPECT_EQ(got.extra_data, want.extra_data);
  EXPECT_EQ(got.clock_info.clock, want.clock_info.clock);
  EXPECT_EQ(got.clock_info.reset_count, want.clock_info.reset_count);
  EXPECT_EQ(got.clock_info.restart_count, want.clock_info.restart_count);
  EXPECT_EQ(got.clock_info.safe, want.clock_info.safe);
  EXPECT_EQ(got.firmware_version, want.firmware_version);
  ASSERT_EQ(got.pcr_select.size(), want.pcr_select.size());
  for (size_t i = 0; i < want.pcr_select.size(); ++i) {
    EXPECT_EQ(got.pcr_select[i].hash_alg, want.pcr_select[i].hash_alg);
    EXPECT_EQ(got.pcr_select[i].pcrs, want.pcr_select[i].pcrs);
  }
  EXPECT_EQ(got.pcr_digest, want.pcr_digest);
}

// A verifier parses every quote into the same per-thread structs: what an
// earlier quote (or a failed parse) left there must not show through.
TEST(TpmStructuresTest, ParsingIntoAUsedStructEqualsAFreshParse) {
  const Bytes swtpm = TpmVecBytes("swtpm/quote_ecc.attest");
  // The swtpm quote with a second, SHA-1 bank selecting the same PCRs.
  Bytes two_banks = swtpm;
  const size_t count_at = 4 + 2 + 36 + 19 + 8 + 4 + 4 + 1 + 8;
  ASSERT_EQ(two_banks[count_at + 3], 1);
  two_banks[count_at + 3] = 2;
  Bytes bank(two_banks.begin() + count_at + 4, two_banks.begin() + count_at + 4 + 6);
  bank[1] = 0x04;  // TPM_ALG_SHA1
  two_banks.insert(two_banks.begin() + count_at + 4 + 6, bank.begin(), bank.end());
  const Bytes gce = TpmVecBytes("gce-shielded-vm/gce-cos-85-nonce9009_q1_attest.bin");
  Bytes truncated = gce;
  truncated.resize(gce.size() - 5);

  TpmsAttest reused;
  ASSERT_OK(ParseTpmsAttestInto(two_banks, &reused));
  ASSERT_EQ(reused.pcr_select.size(), 2u);
  EXPECT_EQ(reused.pcr_select[1].hash_alg, kTpmAlgSha1);
  EXPECT_THAT(ParseTpmsAttestInto(truncated, &reused),
              StatusIs(absl::StatusCode::kInvalidArgument));
  for (const Bytes* quote : std::vector<const Bytes*>{&gce, &swtpm, &two_banks, &swtpm}) {
    ASSERT_OK_AND_ASSIGN(TpmsAttest fresh, ParseTpmsAttest(*quote));
    ASSERT_OK(ParseTpmsAttestInto(*quote, &reused));
    ExpectSameAttest(reused, fresh);
  }

  TpmtSignature sig;
  const Bytes rsa = TpmVecBytes("swtpm/quote_rsa.sig");
  const Bytes ecc = TpmVecBytes("swtpm/quote_ecc.sig");
  ASSERT_OK(ParseTpmtSignatureInto(rsa, &sig));
  EXPECT_EQ(sig.sig_alg, kTpmAlgRsassa);
  EXPECT_FALSE(sig.rsa_signature.empty());
  ASSERT_OK(ParseTpmtSignatureInto(ecc, &sig));
  ASSERT_OK_AND_ASSIGN(TpmtSignature fresh, ParseTpmtSignature(ecc));
  EXPECT_EQ(sig.sig_alg, kTpmAlgEcdsa);
  EXPECT_EQ(sig.hash_alg, fresh.hash_alg);
  EXPECT_TRUE(sig.rsa_signature.empty());
  EXPECT_EQ(sig.ecdsa_r, fresh.ecdsa_r);
  EXPECT_EQ(sig.ecdsa_s, fresh.ecdsa_s);
  ASSERT_OK(ParseTpmtSignatureInto(rsa, &sig));
  EXPECT_TRUE(sig.ecdsa_r.empty());
  EXPECT_TRUE(sig.ecdsa_s.empty());
}

TEST(TpmStructuresTest, QualifiedNamesFollowTheHierarchy) {
  // The recorded swtpm AK is a child of the EK (tpm2_createak), the GCE AK
  // a primary key in the endorsement hierarchy.
  ASSERT_OK_AND_ASSIGN(TpmtPublic ek, ParseTpmPublicBlob(TpmVecBytes("swtpm/ek.pub")));
  ASSERT_OK_AND_ASSIGN(TpmtPublic ak, ParseTpmPublicBlob(TpmVecBytes("swtpm/ak_ecc.pub")));
  ASSERT_OK_AND_ASSIGN(Bytes ek_name, TpmName(ek));
  ASSERT_OK_AND_ASSIGN(Bytes ak_name, TpmName(ak));
  ASSERT_OK_AND_ASSIGN(Bytes ek_qn,
                       TpmQualifiedName(TpmHandleName(kTpmRhEndorsement), ek_name));
  ASSERT_OK_AND_ASSIGN(Bytes ak_qn, TpmQualifiedName(ek_qn, ak_name));
  ASSERT_OK_AND_ASSIGN(TpmsAttest a, ParseTpmsAttest(TpmVecBytes("swtpm/quote_ecc.attest")));
  EXPECT_EQ(a.qualified_signer, ak_qn);
  EXPECT_NE(a.qualified_signer, ak_name);

  ASSERT_OK_AND_ASSIGN(TpmtPublic gce, ParseTpmPublicBlob(TpmVecBytes(
      "gce-shielded-vm/gce-cos-85-nonce9009_ak_tpmt_public.bin")));
  ASSERT_OK_AND_ASSIGN(Bytes gce_name, TpmName(gce));
  ASSERT_OK_AND_ASSIGN(Bytes gce_qn,
                       TpmQualifiedName(TpmHandleName(kTpmRhEndorsement), gce_name));
  ASSERT_OK_AND_ASSIGN(TpmsAttest g, ParseTpmsAttest(TpmVecBytes(
      "gce-shielded-vm/gce-cos-85-nonce9009_q1_attest.bin")));
  EXPECT_EQ(g.qualified_signer, gce_qn);
}

TEST(TpmPcrListingTest, Tpm2PcrreadAndPlainListingsAgree) {
  ASSERT_OK_AND_ASSIGN(TpmPcrValues plain, ParsePcrListing(TpmVec("swtpm/pcrs_sha256.txt")));
  ASSERT_OK_AND_ASSIGN(TpmPcrValues yaml, ParsePcrListing(TpmVec("swtpm/pcrread.txt")));
  EXPECT_EQ(plain, yaml);
  EXPECT_EQ(plain.at(kTpmAlgSha256).size(), 9u);
  // PCR16 = SHA256(0^32 || SHA256(meas.txt)) (HOWTO.md).
  std::string meas = TpmVec("swtpm/meas.txt");
  Bytes extend(32, 0);
  Bytes m = Sha256(AsBytes(meas));
  extend.insert(extend.end(), m.begin(), m.end());
  EXPECT_EQ(plain.at(kTpmAlgSha256).at(16), Sha256(extend));
}

TEST(TpmPcrListingTest, GceHeaderSelectsTheBank) {
  const std::pair<const char*, uint16_t> files[] = {
      {"q0", kTpmAlgSha1}, {"q1", kTpmAlgSha256}, {"q2", kTpmAlgSha384}};
  for (const auto& [q, bank] : files) {
    SCOPED_TRACE(q);
    ASSERT_OK_AND_ASSIGN(TpmPcrValues v, ParsePcrListing(TpmVec(absl::StrCat(
        "gce-shielded-vm/gce-cos-85-nonce9009_", q, "_pcrs.txt"))));
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v.begin()->first, bank);
    EXPECT_EQ(v.begin()->second.size(), 24u);
  }
}

TEST(TpmPcrListingTest, BadLinesNameTheLine) {
  EXPECT_THAT(ParsePcrListing("0 00\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
  EXPECT_THAT(ParsePcrListing(absl::StrCat("\n32 ", std::string(64, '0'), "\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2")));
  EXPECT_THAT(ParsePcrListing("sm3:\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a PCR bank")));
  std::string zero = std::string(64, '0');
  EXPECT_THAT(ParsePcrListing(absl::StrCat("1 ", zero, "\n1 ", zero, "\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
}

TEST(TpmQuoteBundleTest, RoundTripsAndBuildsFromTpm2ToolsFiles) {
  std::string attest = TpmVec("swtpm/quote_rsa.attest");
  std::string sig = TpmVec("swtpm/quote_rsa.sig");
  std::string ak = TpmVec("swtpm/ak_rsa.pub");
  ASSERT_OK_AND_ASSIGN(std::string json,
                       BuildTpmQuoteBundleFromTpm2Tools(
                           {attest, sig, TpmVec("swtpm/pcrread.txt"), ak, ""}));
  ASSERT_OK_AND_ASSIGN(TpmQuoteBundle b, ParseTpmQuoteBundle(json));
  EXPECT_EQ(AsStringView(b.quote), attest);
  EXPECT_EQ(AsStringView(b.signature), sig);
  EXPECT_EQ(AsStringView(b.ak_public), ak);
  EXPECT_TRUE(b.ek_public.empty());
  EXPECT_EQ(b.pcrs.at(kTpmAlgSha256).size(), 9u);
  EXPECT_EQ(BuildTpmQuoteBundle(b), json);
  EXPECT_THAT(json, HasSubstr("\"format\":\"strongroom-tpm-quote/1\""));
  // Swapped files are caught while building.
  EXPECT_THAT(BuildTpmQuoteBundleFromTpm2Tools(
                  {sig, attest, TpmVec("swtpm/pcrread.txt"), ak, ""}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("TPMS_ATTEST")));
}

TEST(TpmQuoteBundleTest, MalformedBundlesAreRefusedByField) {
  const std::pair<const char*, const char*> cases[] = {
      {"[]", "not a JSON object"},
      {"{", "not valid JSON"},
      {R"({"format":"strongroom-tpm-quote/2","quote":"AA==","signature":"AA==","pcrs":{}})",
       "format"},
      {R"({"format":"strongroom-tpm-quote/1","signature":"AA==","pcrs":{}})",
       "quote: missing"},
      {R"({"format":"strongroom-tpm-quote/1","quote":"!!","signature":"AA==","pcrs":{}})",
       "quote"},
      {R"({"format":"strongroom-tpm-quote/1","quote":"AA==","signature":"AA==","pcrs":{},"x":1})",
       "x: unknown member"},
      {R"({"format":"strongroom-tpm-quote/1","quote":"AA==","signature":"AA==","pcrs":{"md5":{}}})",
       "pcrs.md5"},
      {R"({"format":"strongroom-tpm-quote/1","quote":"AA==","signature":"AA==","pcrs":{"sha1":{"016":"00"}}})",
       "pcrs.sha1.016"},
      {R"({"format":"strongroom-tpm-quote/1","quote":"AA==","signature":"AA==","pcrs":{"sha1":{"16":"00"}}})",
       "1 bytes for a sha1 PCR"},
  };
  for (const auto& [json, want] : cases) {
    SCOPED_TRACE(json);
    EXPECT_THAT(ParseTpmQuoteBundle(json),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(want)));
  }
}

}  // namespace
}  // namespace strongroom::attest
