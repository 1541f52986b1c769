#include "attest/claims.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "attest/appraisal.h"
#include "attest/composite.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {
namespace {

TEST(ClaimsTest, JsonIsFlatWithHexBytes) {
  Claims c;
  const uint8_t m[] = {0xAB, 0x01};
  c.SetBytes("snp.measurement", m);
  c.SetInt("snp.vmpl", 0);
  c.SetBool("snp.policy.debug", false);
  nlohmann::json j = c.ToJson();
  EXPECT_EQ(j["snp.measurement"], "ab01");
  EXPECT_EQ(j["snp.vmpl"], 0);
  EXPECT_EQ(j["snp.policy.debug"], false);
  EXPECT_EQ(c.GetString("snp.measurement"), "ab01");
  EXPECT_FALSE(c.Has("snp.chip_id"));
}

std::vector<std::string> Names(const Claims& c) {
  std::vector<std::string> out;
  for (const auto& [name, value] : c.all()) out.emplace_back(name);
  return out;
}

TEST(ClaimsTest, NamesStaySortedAndUniqueInAnyOrderOfSetting) {
  Claims c;
  // Out of order, in order, a name that is a prefix of another, and
  // PCR-style names whose text order is not their numeric order.
  for (const char* name : {"tpm.nonce", "tpm.ak.alg", "tpm.pcrs.sha256.10", "tpm.pcrs.sha256.2",
                           "tpm.pcrs.sha256.1", "tpm.ak", "tpm.reset_count", "a", "tpm.ak.alg"}) {
    c.SetString(name, name);
  }
  EXPECT_EQ(c.size(), 8u);
  EXPECT_EQ(Names(c), (std::vector<std::string>{"a", "tpm.ak", "tpm.ak.alg", "tpm.nonce",
                                                "tpm.pcrs.sha256.1", "tpm.pcrs.sha256.10",
                                                "tpm.pcrs.sha256.2", "tpm.reset_count"}));
  for (const auto& [name, value] : c.all()) {
    EXPECT_EQ(std::get<std::string>(value), name);
  }
  // Setting a name again replaces its value and its type.
  c.SetInt("tpm.ak", 7);
  EXPECT_EQ(c.size(), 8u);
  EXPECT_EQ(c.GetInt("tpm.ak"), 7);
  EXPECT_EQ(c.GetString("tpm.ak"), "");
  EXPECT_FALSE(c.Has("tpm.a"));
  EXPECT_FALSE(c.Has("tpm.ak.alg.x"));
  EXPECT_FALSE(c.Has("z"));
  EXPECT_FALSE(Claims().Has("a"));
}

TEST(ClaimsTest, ManyClaimsCopiesAndMerges) {
  Claims c;
  for (int i = 99; i >= 0; --i) c.SetInt(absl::StrCat("n.", i), i);
  ASSERT_EQ(c.size(), 100u);
  Claims copy = c;
  c.SetInt("n.5", -5);
  EXPECT_EQ(copy.GetInt("n.5"), 5);
  EXPECT_EQ(c.GetInt("n.5"), -5);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(copy.GetInt(absl::StrCat("n.", i)), i);

  Claims other;
  other.SetBool("n.5", true);
  other.SetString("m.x", "y");
  copy.Merge(other);
  copy.Merge(copy);
  EXPECT_EQ(copy.size(), 101u);
  EXPECT_TRUE(copy.GetBool("n.5"));
  EXPECT_EQ(copy.GetString("m.x"), "y");
  EXPECT_EQ(Names(copy).front(), "m.x");
}

TEST(ClaimsTest, BytesAreLowercaseHexOfEveryByte) {
  std::vector<uint8_t> all(256);
  std::string want;
  for (int b = 0; b < 256; ++b) {
    all[b] = static_cast<uint8_t>(b);
    want += absl::StrFormat("%02x", b);
  }
  Claims c;
  c.SetBytes("x", all);
  c.SetBytes("empty", {});
  EXPECT_EQ(c.GetString("x"), want);
  EXPECT_TRUE(c.Has("empty"));
  EXPECT_EQ(c.GetString("empty"), "");
}

TEST(AppraisalTest, StatusIsWorstTier) {
  TrustVector v;
  EXPECT_EQ(v.Tier(), TrustTier::kNone);
  v.instance_identity = 2;
  v.hardware = 2;
  EXPECT_EQ(v.Tier(), TrustTier::kAffirming);
  v.configuration = 32;
  EXPECT_EQ(v.Tier(), TrustTier::kWarning);
  v.hardware = 97;
  EXPECT_EQ(v.Tier(), TrustTier::kContraindicated);
  Appraisal a{.tee = "snp", .trust = v};
  EXPECT_EQ(a.ToEarSubmodule()["ear.status"], "contraindicated");
  EXPECT_EQ(a.ToEarSubmodule()["ear.trustworthiness-vector"]["hardware"], 97);
}

// Several appraisals (a composite's submodules, a policy's context): none
// outranks affirming, although its number (0) is smaller; the composite's
// EAR status and the policy's agree.
TEST(AppraisalTest, OverallTierRanksNoneBelowAffirming) {
  auto with = [](int8_t identity) {
    Appraisal a{.tee = "x"};
    a.trust.instance_identity = identity;
    return a;
  };
  const std::vector<Appraisal> affirming_and_none = {with(2), with(0)};
  EXPECT_EQ(OverallTier(affirming_and_none), TrustTier::kNone);
  CompositeAppraisal composite;
  composite.submodules = affirming_and_none;
  EXPECT_EQ(composite.status(), TrustTier::kNone);
  EXPECT_EQ(OverallTier(std::vector<Appraisal>{with(2), with(32)}), TrustTier::kWarning);
  EXPECT_EQ(OverallTier(std::vector<Appraisal>{with(0), with(96)}), TrustTier::kContraindicated);
  EXPECT_EQ(OverallTier(std::vector<Appraisal>{}), TrustTier::kNone);
  EXPECT_EQ(OverallTier(std::vector<Appraisal>{with(2), with(2)}), TrustTier::kAffirming);
}

}  // namespace
}  // namespace strongroom::attest
