// TpmVerifier's per-AK caches (attest/tpm/ak_cache.h): a warm cache gives
// the same appraisal as no cache, and never lets through what the uncached
// verifier would refuse: another AK, an AK the configuration does not trust,
// a failed check seen before, or a cached certificate chain outside the
// time window it was verified for.
#include "attest/tpm/ak_cache.h"

#include "attest/tpm/quote_bundle.h"
#include "attest/tpm/testing/test_ca.h"
#include "attest/tpm/tpm_verifier.h"
#include "attest/x509.h"
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
using ::strongroom::attest::testing::TestCa;
using ::strongroom::attest::testing::TpmEvidence;
using ::strongroom::attest::testing::TpmVec;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

using Code = absl::StatusCode;

VerifyContext Ctx(absl::Time at = PinnedTime()) {
  return VerifyContext{.at = at, .expected_report_data = SwtpmNonce()};
}

Evidence SwtpmEvidence(absl::string_view alg) {
  return TpmEvidence(BuildTpmQuoteBundle(SwtpmBundle(alg)));
}

absl::StatusOr<std::unique_ptr<TpmVerifier>> PinningVerifier(
    std::vector<std::string> algs, size_t capacity = 1024) {
  TpmVerifierOptions options;
  for (const std::string& alg : algs) {
    options.trusted_ak_public_keys_pem.push_back(
        TpmVec("swtpm/ak_" + alg + "_pub.pem"));
  }
  options.cache_capacity = capacity;
  return TpmVerifier::Create(options);
}

TEST(TpmAkCacheTest, WarmCacheGivesTheUncachedAppraisal) {
  ASSERT_OK_AND_ASSIGN(auto cached, PinningVerifier({"ecc", "rsa"}));
  ASSERT_OK_AND_ASSIGN(auto uncached, PinningVerifier({"ecc", "rsa"}, 0));
  for (const char* alg : {"ecc", "rsa"}) {
    SCOPED_TRACE(alg);
    ASSERT_OK_AND_ASSIGN(Appraisal reference,
                         uncached->Verify(SwtpmEvidence(alg), Ctx()));
    ASSERT_OK_AND_ASSIGN(Appraisal cold, cached->Verify(SwtpmEvidence(alg), Ctx()));
    ASSERT_OK_AND_ASSIGN(Appraisal warm, cached->Verify(SwtpmEvidence(alg), Ctx()));
    for (const Appraisal* a : {&cold, &warm}) {
      EXPECT_EQ(a->claims.ToJson().dump(), reference.claims.ToJson().dump());
      EXPECT_EQ(a->warnings, reference.warnings);
    }
    EXPECT_EQ(warm.claims.GetString("tpm.ak.trust"), "pinned-key");
    EXPECT_EQ(warm.claims.GetString("tpm.ak.qualified_name_check"),
              reference.claims.GetString("tpm.ak.qualified_name_check"));
  }
  // One entry per AK and per qualifiedSigner match; nothing in the
  // capacity-0 verifier.
  EXPECT_EQ(cached->cache_stats().aks, 2u);
  EXPECT_EQ(cached->cache_stats().qualified_signers, 2u);
  EXPECT_EQ(uncached->cache_stats().aks, 0u);
}

TEST(TpmAkCacheTest, WarmCacheDoesNotTrustAnotherAk) {
  ASSERT_OK_AND_ASSIGN(auto verifier, PinningVerifier({"ecc"}));
  ASSERT_OK(verifier->Verify(SwtpmEvidence("ecc"), Ctx()));
  ASSERT_OK(verifier->Verify(SwtpmEvidence("ecc"), Ctx()));
  // The RSA AK verifies its own quote but is not configured.
  EXPECT_THAT(verifier->Verify(SwtpmEvidence("rsa"), Ctx()),
              StatusIs(Code::kPermissionDenied,
                       HasSubstr("is not a trusted AK key")));
  // The trusted AK's quote presented with the other AK's public area.
  TpmQuoteBundle swapped = SwtpmBundle("ecc");
  swapped.ak_public = SwtpmBundle("rsa").ak_public;
  EXPECT_THAT(
      verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(swapped)), Ctx()),
      StatusIs(Code::kPermissionDenied, HasSubstr("does not match the AK")));
  // And the other way round: the RSA quote under the cached ECC AK.
  TpmQuoteBundle rsa_under_ecc = SwtpmBundle("rsa");
  rsa_under_ecc.ak_public = SwtpmBundle("ecc").ak_public;
  EXPECT_THAT(
      verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(rsa_under_ecc)), Ctx()),
      StatusIs(Code::kPermissionDenied, HasSubstr("does not match the AK")));
  // The refusals left the trusted AK's entry as it was.
  EXPECT_OK(verifier->Verify(SwtpmEvidence("ecc"), Ctx()));
}

TEST(TpmAkCacheTest, AnAkNoLongerTrustedIsRefusedByTheNewConfiguration) {
  // A configuration change makes a new verifier (CreateVerifierSet); trust
  // cached by the old one must not carry over.
  ASSERT_OK_AND_ASSIGN(auto before, PinningVerifier({"ecc", "rsa"}));
  ASSERT_OK(before->Verify(SwtpmEvidence("ecc"), Ctx()));
  ASSERT_OK(before->Verify(SwtpmEvidence("ecc"), Ctx()));
  ASSERT_OK_AND_ASSIGN(auto after, PinningVerifier({"rsa"}));
  EXPECT_THAT(after->Verify(SwtpmEvidence("ecc"), Ctx()),
              StatusIs(Code::kPermissionDenied,
                       HasSubstr("is not a trusted AK key")));
  EXPECT_OK(after->Verify(SwtpmEvidence("rsa"), Ctx()));
}

// A thread remembers the AK, EK and qualifiedSigner answer of its last
// quote (tpm_verifier.cc, ThreadMemo): that memory must belong to one
// verifier, and follow the quote's AK when it changes.
TEST(TpmAkCacheTest, ThreadMemoFollowsTheVerifierAndTheAk) {
  ASSERT_OK_AND_ASSIGN(auto both, PinningVerifier({"ecc", "rsa"}));
  ASSERT_OK_AND_ASSIGN(auto ecc_only, PinningVerifier({"ecc"}));
  ASSERT_OK_AND_ASSIGN(auto uncached, PinningVerifier({"ecc", "rsa"}, 0));
  ASSERT_OK_AND_ASSIGN(Appraisal ecc_ref, uncached->Verify(SwtpmEvidence("ecc"), Ctx()));
  ASSERT_OK_AND_ASSIGN(Appraisal rsa_ref, uncached->Verify(SwtpmEvidence("rsa"), Ctx()));
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    // The same RSA quote, verifier after verifier on this thread.
    ASSERT_OK_AND_ASSIGN(Appraisal rsa, both->Verify(SwtpmEvidence("rsa"), Ctx()));
    EXPECT_EQ(rsa.claims.ToJson().dump(), rsa_ref.claims.ToJson().dump());
    EXPECT_THAT(ecc_only->Verify(SwtpmEvidence("rsa"), Ctx()),
                StatusIs(Code::kPermissionDenied, HasSubstr("is not a trusted AK key")));
    // AK after AK on one verifier.
    ASSERT_OK_AND_ASSIGN(Appraisal ecc, both->Verify(SwtpmEvidence("ecc"), Ctx()));
    EXPECT_EQ(ecc.claims.ToJson().dump(), ecc_ref.claims.ToJson().dump());
    ASSERT_OK_AND_ASSIGN(rsa, both->Verify(SwtpmEvidence("rsa"), Ctx()));
    EXPECT_EQ(rsa.claims.GetString("tpm.ak.alg"), "rsa");
    // Without ek_public, the remembered EK is not used for the
    // qualifiedSigner answer: the uncached verifier gives the same.
    TpmQuoteBundle no_ek = SwtpmBundle("rsa");
    no_ek.ek_public.clear();
    Evidence e = TpmEvidence(BuildTpmQuoteBundle(no_ek));
    ASSERT_OK_AND_ASSIGN(Appraisal reference, uncached->Verify(e, Ctx()));
    ASSERT_OK_AND_ASSIGN(Appraisal a, both->Verify(e, Ctx()));
    EXPECT_EQ(a.claims.ToJson().dump(), reference.claims.ToJson().dump());
    EXPECT_EQ(a.warnings, reference.warnings);
  }
  // A destroyed verifier's memory is not another's, even at its address.
  both.reset();
  ASSERT_OK_AND_ASSIGN(auto rsa_free, PinningVerifier({"ecc"}));
  EXPECT_THAT(rsa_free->Verify(SwtpmEvidence("rsa"), Ctx()),
              StatusIs(Code::kPermissionDenied, HasSubstr("is not a trusted AK key")));
}

TEST(TpmAkCacheTest, RefusedAkIsNotCached) {
  ASSERT_OK_AND_ASSIGN(auto verifier, PinningVerifier({"ecc"}));
  // Clear "restricted" (byte 7 of the TPM2B_PUBLIC, bit 0x01): the same key,
  // but a public area the verifier must refuse, every time.
  TpmQuoteBundle unrestricted = SwtpmBundle("ecc");
  unrestricted.ak_public[7] &= ~0x01;
  Evidence e = TpmEvidence(BuildTpmQuoteBundle(unrestricted));
  for (int i = 0; i < 2; ++i) {
    EXPECT_THAT(verifier->Verify(e, Ctx()),
                StatusIs(Code::kPermissionDenied, HasSubstr("restricted")));
  }
  EXPECT_EQ(verifier->cache_stats().aks, 0u);
  // A bad signature under a cached AK is still refused.
  ASSERT_OK(verifier->Verify(SwtpmEvidence("ecc"), Ctx()));
  TpmQuoteBundle flipped = SwtpmBundle("ecc");
  flipped.signature[10] ^= 0x01;
  EXPECT_THAT(
      verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(flipped)), Ctx()),
      StatusIs(Code::kPermissionDenied, HasSubstr("signature does not verify")));
  EXPECT_EQ(verifier->cache_stats().aks, 1u);
}

TEST(TpmAkCacheTest, CachedChainIsUsedOnlyInsideItsValidity) {
  const absl::Time t = PinnedTime();
  ASSERT_OK_AND_ASSIGN(TestCa ca, TestCa::Create("Test AK CA",
                                                 t - absl::Hours(24 * 365),
                                                 t + absl::Hours(24 * 365)));
  ASSERT_OK_AND_ASSIGN(auto ak_key,
                       PublicKeyFromPem(TpmVec("swtpm/ak_ecc_pub.pem"), "ak"));
  ASSERT_OK_AND_ASSIGN(std::string leaf, ca.Issue(ak_key.get(), "ak",
                                                  t - absl::Hours(1),
                                                  t + absl::Hours(1)));
  TpmVerifierOptions options;
  options.ak_ca_roots_pem = {ca.cert_pem()};
  ASSERT_OK_AND_ASSIGN(auto verifier, TpmVerifier::Create(options));
  Evidence e = TpmEvidence(BuildTpmQuoteBundle(SwtpmBundle("ecc")), {leaf});
  ASSERT_OK_AND_ASSIGN(Appraisal a, verifier->Verify(e, Ctx(t)));
  EXPECT_EQ(a.claims.GetString("tpm.ak.trust"), "certificate");
  EXPECT_EQ(verifier->cache_stats().chains, 1u);
  EXPECT_OK(verifier->Verify(e, Ctx(t + absl::Minutes(59))));
  // Outside the leaf's validity the cached chain does not answer.
  EXPECT_THAT(verifier->Verify(e, Ctx(t + absl::Hours(2))),
              StatusIs(Code::kPermissionDenied, HasSubstr("expired")));
  EXPECT_THAT(verifier->Verify(e, Ctx(t - absl::Hours(2))),
              StatusIs(Code::kPermissionDenied, HasSubstr("not yet valid")));
  // The cached AK (trusted through its certificate, not pinned) without the
  // certificate is refused.
  EXPECT_THAT(verifier->Verify(SwtpmEvidence("ecc"), Ctx(t)),
              StatusIs(Code::kPermissionDenied,
                       HasSubstr("no AK certificate was presented")));
  // A certificate for the same key from an unpinned CA, with its root.
  ASSERT_OK_AND_ASSIGN(TestCa other, TestCa::Create("Other AK CA",
                                                    t - absl::Hours(24 * 365),
                                                    t + absl::Hours(24 * 365)));
  ASSERT_OK_AND_ASSIGN(std::string other_leaf,
                       other.Issue(ak_key.get(), "ak", t - absl::Hours(1),
                                   t + absl::Hours(1)));
  Evidence from_other = TpmEvidence(BuildTpmQuoteBundle(SwtpmBundle("ecc")),
                                    {other_leaf, other.cert_pem()});
  EXPECT_THAT(verifier->Verify(from_other, Ctx(t)),
              StatusIs(Code::kPermissionDenied,
                       HasSubstr("is not a pinned trust anchor")));
}

TEST(TpmAkCacheTest, BoundedCacheEmptiesWhenFull) {
  tpm_internal::BoundedCache<int> cache(2);
  cache.Insert("a", 1);
  cache.Insert("b", 2);
  EXPECT_EQ(cache.size(), 2u);
  cache.Insert("b", 3);  // replacing does not evict
  EXPECT_EQ(cache.Find("b"), 3);
  cache.Insert("c", 4);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Find("a"), std::nullopt);
  EXPECT_EQ(cache.Find("c"), 4);
  tpm_internal::BoundedCache<int> none(0);
  none.Insert("a", 1);
  EXPECT_EQ(none.Find("a"), std::nullopt);
}

TEST(TpmAkCacheTest, CacheKeysSeparateTheirParts) {
  const Bytes ab = {'a', 'b'}, a = {'a'}, b = {'b'}, empty;
  EXPECT_NE(tpm_internal::CacheKey({ab, empty}), tpm_internal::CacheKey({a, b}));
  EXPECT_NE(tpm_internal::CacheKey({ab}), tpm_internal::CacheKey({ab, empty}));
  EXPECT_EQ(tpm_internal::CacheKey({a, b}), tpm_internal::CacheKey({a, b}));
}

}  // namespace
}  // namespace strongroom::attest
