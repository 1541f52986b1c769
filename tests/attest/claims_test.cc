#include "attest/claims.h"

#include "attest/appraisal.h"
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

}  // namespace
}  // namespace strongroom::attest
