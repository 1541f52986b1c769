// TpmVerifier's two ways of reading a bundle (tpm_verifier.cc): the fast
// reader, with ak_public / ek_public looked up in the caches by their base64
// text and decoded only on a miss, and the DOM reader for everything else,
// with the caches keyed by the decoded bytes. Both must give the appraisal
// and the errors of an uncached verifier, whatever was cached before; and
// the flat PCR store the verifier uses must hold and hash what
// TpmPcrValues holds.
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "attest/tpm/quote_bundle.h"
#include "attest/tpm/quote_bundle_internal.h"
#include "attest/tpm/quote_checks.h"
#include "attest/tpm/tpm_structures.h"
#include "attest/tpm/tpm_verifier.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/attest/tpm/tpm_test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::attest::testing::PinnedTime;
using ::strongroom::attest::testing::SwtpmBundle;
using ::strongroom::attest::testing::SwtpmNonce;
using ::strongroom::attest::testing::TpmEvidence;
using ::strongroom::attest::testing::TpmVec;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using tpm_internal::FlatPcrs;

using Code = absl::StatusCode;

VerifyContext Ctx() {
  return VerifyContext{.at = PinnedTime(), .expected_report_data = SwtpmNonce()};
}

absl::StatusOr<std::unique_ptr<TpmVerifier>> Pinning(size_t capacity = 1024) {
  TpmVerifierOptions options;
  for (const char* alg : {"ecc", "rsa"}) {
    options.trusted_ak_public_keys_pem.push_back(
        TpmVec(std::string("swtpm/ak_") + alg + "_pub.pem"));
  }
  options.cache_capacity = capacity;
  return TpmVerifier::Create(options);
}

// The same bundle in a form the fast reader leaves to the DOM reader.
std::string DomOnly(const std::string& json) {
  return absl::StrReplaceAll(
      json, {{"strongroom-tpm-quote/1", "strongroom-tpm-quote\\/1"}});
}

// `json` with the base64 text of `b64` replaced by `replacement`.
std::string WithText(const std::string& json, const Bytes& bytes,
                     const std::string& replacement) {
  const std::string b64 = Base64Encode(bytes);
  EXPECT_NE(json.find(b64), std::string::npos);
  return absl::StrReplaceAll(json, {{b64, replacement}});
}

// Same outcome: same error, or same claims and warnings.
void ExpectSameOutcome(const absl::StatusOr<Appraisal>& got,
                       const absl::StatusOr<Appraisal>& want) {
  ASSERT_EQ(got.ok(), want.ok()) << got.status() << " / " << want.status();
  if (!want.ok()) {
    EXPECT_EQ(got.status(), want.status());
    return;
  }
  EXPECT_EQ(got->claims.ToJson().dump(), want->claims.ToJson().dump());
  EXPECT_EQ(got->warnings, want->warnings);
}

TEST(TpmVerifyPathsTest, FastAndDomPathsShareNoEntriesAndAgree) {
  ASSERT_OK_AND_ASSIGN(auto cached, Pinning());
  ASSERT_OK_AND_ASSIGN(auto uncached, Pinning(0));
  for (const char* alg : {"ecc", "rsa"}) {
    SCOPED_TRACE(alg);
    const std::string json = BuildTpmQuoteBundle(SwtpmBundle(alg));
    ASSERT_FALSE(tpm_internal::ReadTpmQuoteBundleFast(DomOnly(json)));
    const auto reference = uncached->Verify(TpmEvidence(json), Ctx());
    ASSERT_OK(reference);
    EXPECT_EQ(reference->claims.GetString("tpm.ak.qualified_name_check"),
              "ek-child");
    ExpectSameOutcome(uncached->Verify(TpmEvidence(DomOnly(json)), Ctx()),
                      reference);
    for (int i = 0; i < 2; ++i) {
      ExpectSameOutcome(cached->Verify(TpmEvidence(json), Ctx()), reference);
      ExpectSameOutcome(cached->Verify(TpmEvidence(DomOnly(json)), Ctx()),
                        reference);
    }
  }
  // Per AK: one entry by text, one by bytes (so two AkFacts, and two
  // qualifiedSigner answers); the one EK likewise.
  const TpmVerifier::CacheStats stats = cached->cache_stats();
  EXPECT_EQ(stats.aks, 4u);
  EXPECT_EQ(stats.ek_publics, 2u);
  EXPECT_EQ(stats.qualified_signers, 4u);
  EXPECT_EQ(uncached->cache_stats().ek_publics, 0u);
}

TEST(TpmVerifyPathsTest, PublicAreaTextsNotCanonicalGoToTheDomReader) {
  // Unpadded base64 of the same bytes: the DOM reader (absl) takes it, the
  // fast reader does not; either way the verifier must answer as an
  // uncached one, after the canonical text is cached.
  ASSERT_OK_AND_ASSIGN(auto cached, Pinning());
  ASSERT_OK_AND_ASSIGN(auto uncached, Pinning(0));
  for (const char* alg : {"ecc", "rsa"}) {
    SCOPED_TRACE(alg);
    const TpmQuoteBundle bundle = SwtpmBundle(alg);
    const std::string json = BuildTpmQuoteBundle(bundle);
    ASSERT_OK(cached->Verify(TpmEvidence(json), Ctx()));
    for (const Bytes* area : {&bundle.ak_public, &bundle.ek_public}) {
      std::string unpadded = Base64Encode(*area);
      while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
      std::string variants[] = {
          WithText(json, *area, unpadded),
          // One character changed: other bytes (or none), never the
          // cached ones.
          WithText(json, *area, "A" + Base64Encode(*area).substr(1)),
          WithText(json, *area, Base64Encode(*area).substr(4)),
          WithText(json, *area, ""),
      };
      for (const std::string& variant : variants) {
        for (int i = 0; i < 2; ++i) {
          ExpectSameOutcome(cached->Verify(TpmEvidence(variant), Ctx()),
                            uncached->Verify(TpmEvidence(variant), Ctx()));
        }
      }
    }
  }
}

TEST(TpmVerifyPathsTest, ChangedEkPublicIsRefusedAfterTheGenuineOneIsCached) {
  ASSERT_OK_AND_ASSIGN(auto verifier, Pinning());
  TpmQuoteBundle bundle = SwtpmBundle("rsa");
  ASSERT_OK(verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(bundle)), Ctx()));
  ASSERT_EQ(verifier->cache_stats().ek_publics, 1u);
  TpmQuoteBundle truncated = bundle;
  truncated.ek_public.pop_back();
  for (int i = 0; i < 2; ++i) {
    EXPECT_THAT(
        verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(truncated)), Ctx()),
        StatusIs(Code::kInvalidArgument, HasSubstr("tpm quote: ek_public: ")));
  }
  EXPECT_EQ(verifier->cache_stats().ek_publics, 1u);
  // Another parsable EK (the AK's public area): the quote still verifies,
  // but qualifiedSigner is no longer an ek-child: no cached answer leaks.
  TpmQuoteBundle other_ek = bundle;
  other_ek.ek_public = SwtpmBundle("ecc").ak_public;
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK_AND_ASSIGN(
        Appraisal a,
        verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(other_ek)), Ctx()));
    EXPECT_NE(a.claims.GetString("tpm.ak.qualified_name_check"), "ek-child");
  }
  // Without ek_public, likewise.
  TpmQuoteBundle no_ek = bundle;
  no_ek.ek_public.clear();
  ASSERT_OK_AND_ASSIGN(
      Appraisal a, verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(no_ek)),
                                    Ctx()));
  EXPECT_NE(a.claims.GetString("tpm.ak.qualified_name_check"), "ek-child");
  ASSERT_OK_AND_ASSIGN(
      Appraisal genuine,
      verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(bundle)), Ctx()));
  EXPECT_EQ(genuine.claims.GetString("tpm.ak.qualified_name_check"),
            "ek-child");
}

TEST(TpmVerifyPathsTest, UnselectedAndMissingPcrsOnEitherPath) {
  ASSERT_OK_AND_ASSIGN(auto verifier, Pinning());
  TpmQuoteBundle extra = SwtpmBundle("rsa");
  extra.pcrs[kTpmAlgSha256][23] = Bytes(32, 0x23);
  extra.pcrs[kTpmAlgSha1][0] = Bytes(20, 0x01);
  const std::string json = BuildTpmQuoteBundle(extra);
  for (const std::string& form : {json, DomOnly(json)}) {
    ASSERT_OK_AND_ASSIGN(Appraisal a, verifier->Verify(TpmEvidence(form), Ctx()));
    EXPECT_THAT(a.warnings,
                ::testing::IsSupersetOf(
                    {"pcrs.sha1.0 supplied but not selected by the quote: "
                     "ignored",
                     "pcrs.sha256.23 supplied but not selected by the quote: "
                     "ignored"}));
    EXPECT_FALSE(a.claims.Has("tpm.pcrs.sha256.23"));
    EXPECT_EQ(a.claims.GetString("tpm.pcrs.sha256.16"),
              HexEncode(extra.pcrs[kTpmAlgSha256][16]));
  }
  TpmQuoteBundle missing = SwtpmBundle("rsa");
  missing.pcrs[kTpmAlgSha256].erase(16);
  const std::string missing_json = BuildTpmQuoteBundle(missing);
  for (const std::string& form : {missing_json, DomOnly(missing_json)}) {
    EXPECT_THAT(verifier->Verify(TpmEvidence(form), Ctx()),
                StatusIs(Code::kInvalidArgument,
                         HasSubstr("pcrs.sha256.16: selected by the quote but "
                                   "not supplied")));
  }
}

// The PCR digest is SHA-256 over the selected values in selection order,
// also when they are more than the checker gathers before hashing (2 KB):
// two full banks of SHA-512 and SHA-384 values are 2,688 bytes.
TEST(TpmPcrDigestTest, ManyLargeValuesHashInSelectionOrder) {
  TpmsAttest attest;
  TpmPcrValues map;
  Bytes concat;
  for (uint16_t bank : {kTpmAlgSha512, kTpmAlgSha384}) {
    TpmsPcrSelection sel{.hash_alg = bank};
    for (uint32_t i = 0; i < 24; ++i) {
      sel.pcrs.push_back(i);
      Bytes value(TpmHashSize(bank));
      for (size_t j = 0; j < value.size(); ++j) value[j] = static_cast<uint8_t>(bank + i * 7 + j);
      concat.insert(concat.end(), value.begin(), value.end());
      map[bank][i] = std::move(value);
    }
    attest.pcr_select.push_back(std::move(sel));
  }
  ASSERT_GT(concat.size(), 2048u);
  attest.pcr_digest.resize(32);
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(concat.data(), concat.size(), attest.pcr_digest.data(), &len, EVP_sha256(),
                       nullptr),
            1);
  auto flat = std::make_unique<FlatPcrs>();
  ASSERT_TRUE(flat->AssignFrom(map));
  EXPECT_OK(tpm_checks::CheckPcrDigest(attest, map, kTpmAlgSha256, nullptr));
  EXPECT_OK(tpm_checks::CheckPcrDigest(attest, *flat, kTpmAlgSha256, nullptr));
  // The last value of the first bank changed: the digest no longer matches.
  map[kTpmAlgSha512][23][0] ^= 1;
  ASSERT_TRUE(flat->AssignFrom(map));
  EXPECT_THAT(tpm_checks::CheckPcrDigest(attest, *flat, kTpmAlgSha256, nullptr),
              StatusIs(Code::kPermissionDenied, HasSubstr("pcrDigest mismatch")));
}

TEST(TpmFlatPcrsTest, HoldsAndHashesWhatTheMapHolds) {
  const TpmQuoteBundle bundle = SwtpmBundle("rsa");
  ASSERT_OK_AND_ASSIGN(TpmsAttest attest, ParseTpmsAttest(bundle.quote));
  auto flat = std::make_unique<FlatPcrs>();
  TpmPcrValues maps[4];
  maps[0] = bundle.pcrs;                                   // as quoted
  maps[1] = bundle.pcrs;
  maps[1][kTpmAlgSha256][31] = Bytes(32, 0xee);            // one unselected
  maps[1][kTpmAlgSha512];                                  // an empty bank
  maps[1][kTpmAlgSha384][5] = Bytes(48, 0x05);
  maps[2] = bundle.pcrs;
  maps[2][kTpmAlgSha256][16][0] ^= 1;                      // digest mismatch
  maps[3] = bundle.pcrs;
  maps[3][kTpmAlgSha256].erase(0);                         // a missing one
  for (const TpmPcrValues& map : maps) {
    ASSERT_TRUE(flat->AssignFrom(map));
    EXPECT_EQ(flat->ToMap(), map);
    for (const auto& [alg, values] : map) {
      for (const auto& [index, value] : values) {
        const std::span<const uint8_t> got = flat->Find(alg, index);
        EXPECT_EQ(Bytes(got.begin(), got.end()), value);
      }
    }
    std::vector<std::string> unused_map, unused_flat;
    const absl::Status from_map =
        tpm_checks::CheckPcrDigest(attest, map, kTpmAlgSha256, &unused_map);
    const absl::Status from_flat =
        tpm_checks::CheckPcrDigest(attest, *flat, kTpmAlgSha256, &unused_flat);
    EXPECT_EQ(from_flat, from_map);
    EXPECT_EQ(unused_flat, unused_map);
  }
  EXPECT_OK(tpm_checks::CheckPcrDigest(attest, maps[0], kTpmAlgSha256, nullptr));
  EXPECT_TRUE(flat->AssignFrom(maps[1]));
  EXPECT_TRUE(flat->Find(kTpmAlgSha256, 30).empty());
  EXPECT_TRUE(flat->Find(kTpmAlgSha256, 32).empty());
  EXPECT_TRUE(flat->Find(0x0010, 0).empty());
  // What it cannot hold is refused.
  TpmPcrValues out_of_range;
  out_of_range[kTpmAlgSha256][32] = Bytes(32, 0);
  EXPECT_FALSE(flat->AssignFrom(out_of_range));
  TpmPcrValues other_bank;
  other_bank[0x0012][0] = Bytes(32, 0);
  EXPECT_FALSE(flat->AssignFrom(other_bank));
  TpmPcrValues wrong_size;
  wrong_size[kTpmAlgSha256][0] = Bytes(20, 0);
  EXPECT_FALSE(flat->AssignFrom(wrong_size));
}

}  // namespace
}  // namespace strongroom::attest
