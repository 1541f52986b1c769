// TpmAttester against a live swtpm (a fresh vTPM per test, from the
// tests/attest/tpm fixture): its bundles verify under attest::TpmVerifier
// with the AK it reports and the binding it was given, and the claims follow
// the PCRs. Skipped when swtpm is not installed.
#include "client/tpm_attester.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "attest/tpm/quote_bundle.h"
#include "attest/tpm/testing/swtpm_fixture.h"
#include "attest/tpm/tpm_verifier.h"
#include "base/testing/status_matchers.h"

namespace strongroom::client {
namespace {

using ::strongroom::attest::testing::Swtpm;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

Bytes Binding(uint8_t seed) {
  Bytes b(32);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(seed + 7 * i);
  return b;
}

class TpmAttesterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Swtpm::Installed()) GTEST_SKIP() << "swtpm is not installed";
    ASSERT_OK_AND_ASSIGN(tpm_, Swtpm::Start());
  }

  TpmAttesterOptions Options() {
    TpmAttesterOptions o;
    o.tcti = tpm_->tcti();
    return o;
  }

  // Verifies `item` as the server would, trusting `ak_pem`.
  absl::StatusOr<attest::Appraisal> Verify(const strongroom::v1::EvidenceItem& item,
                                           const std::string& ak_pem, const Bytes& binding) {
    attest::TpmVerifierOptions o;
    o.trusted_ak_public_keys_pem = {ak_pem};
    ASSIGN_OR_RETURN(auto verifier, attest::TpmVerifier::Create(o));
    attest::Evidence e;
    e.type = attest::EvidenceType::kTpm;
    e.payload = item.payload();
    attest::VerifyContext ctx;
    ctx.at = absl::Now();
    ctx.expected_report_data = binding;
    return verifier->Verify(e, ctx);
  }

  std::unique_ptr<Swtpm> tpm_;
};

TEST_F(TpmAttesterTest, QuoteVerifiesWithItsAkAndBinding) {
  ASSERT_OK_AND_ASSIGN(auto attester, TpmAttester::Create(Options()));
  EXPECT_EQ(attester->type(), "tpm");
  EXPECT_THAT(attester->ak_public_key_pem(), HasSubstr("BEGIN PUBLIC KEY"));
  const Bytes binding = Binding(1);
  ASSERT_OK_AND_ASSIGN(auto items, attester->Attest(binding));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].type(), "tpm");
  ASSERT_OK_AND_ASSIGN(attest::TpmQuoteBundle bundle,
                       attest::ParseTpmQuoteBundle(items[0].payload()));
  EXPECT_EQ(bundle.ak_public, attester->ak_public_area());
  EXPECT_TRUE(bundle.ek_public.empty());

  ASSERT_OK_AND_ASSIGN(attest::Appraisal a,
                       Verify(items[0], attester->ak_public_key_pem(), binding));
  EXPECT_EQ(a.claims.GetString("tpm.nonce"), HexEncode(binding));
  EXPECT_EQ(a.claims.GetString("tpm.ak.trust"), "pinned-key");
  EXPECT_EQ(a.claims.GetString("tpm.ak.alg"), "ecc");
  EXPECT_EQ(a.claims.GetString("tpm.ak.qualified_name_check"), "endorsement-primary");
  for (int pcr : {0, 1, 2, 3, 4, 5, 6, 7, 16}) {
    EXPECT_EQ(a.claims.GetString(absl::StrCat("tpm.pcrs.sha256.", pcr)).size(), 64u) << pcr;
  }
  EXPECT_EQ(a.claims.GetString("tpm.pcrs.sha256.8"), "");  // not selected

  // Another nonce, or another trusted AK, and the server refuses it.
  EXPECT_THAT(Verify(items[0], attester->ak_public_key_pem(), Binding(2)),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("extraData")));
  TpmAttesterOptions owner = Options();
  owner.ak_source = TpmAkSource::kOwnerPrimary;
  ASSERT_OK_AND_ASSIGN(auto other, TpmAttester::Create(owner));
  EXPECT_NE(other->ak_public_key_pem(), attester->ak_public_key_pem());
  EXPECT_THAT(Verify(items[0], other->ak_public_key_pem(), binding),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("not a trusted AK")));
}

TEST_F(TpmAttesterTest, EndorsementPrimaryAkIsTheSameKeyEveryTime) {
  ASSERT_OK_AND_ASSIGN(auto a, TpmAttester::Create(Options()));
  ASSERT_OK_AND_ASSIGN(auto b, TpmAttester::Create(Options()));
  EXPECT_EQ(a->ak_public_key_pem(), b->ak_public_key_pem());
  // And a second quote from the first still verifies under the AK pem.
  ASSERT_OK_AND_ASSIGN(auto items, b->Attest(Binding(3)));
  EXPECT_OK(Verify(items[0], a->ak_public_key_pem(), Binding(3)));
}

TEST_F(TpmAttesterTest, PcrExtendChangesTheClaims) {
  TpmAttesterOptions o = Options();
  ASSERT_OK_AND_ASSIGN(o.pcrs, ParseTpmPcrSelection("sha256:16"));
  ASSERT_OK_AND_ASSIGN(auto attester, TpmAttester::Create(o));
  ASSERT_OK_AND_ASSIGN(auto before_items, attester->Attest(Binding(4)));
  ASSERT_OK_AND_ASSIGN(attest::Appraisal before,
                       Verify(before_items[0], attester->ak_public_key_pem(), Binding(4)));
  const std::string pcr16_before = before.claims.GetString("tpm.pcrs.sha256.16");

  // The attester holds no connection between calls, so the test can use
  // the TPM (swtpm serves one connection at a time).
  const std::string measurement = "workload image v2";
  Bytes digest(SHA256_DIGEST_LENGTH);
  SHA256(reinterpret_cast<const uint8_t*>(measurement.data()), measurement.size(), digest.data());
  {
    ASSERT_OK_AND_ASSIGN(auto session, attest::testing::TpmSession::Connect(tpm_->tcti()));
    ASSERT_OK(session->ExtendPcrSha256(16, digest));
  }
  ASSERT_OK_AND_ASSIGN(auto after_items, attester->Attest(Binding(5)));
  ASSERT_OK_AND_ASSIGN(attest::Appraisal after,
                       Verify(after_items[0], attester->ak_public_key_pem(), Binding(5)));
  // PCR_new = SHA-256(PCR_old || digest).
  Bytes concat = *HexDecode(pcr16_before);
  concat.insert(concat.end(), digest.begin(), digest.end());
  Bytes expected(SHA256_DIGEST_LENGTH);
  SHA256(concat.data(), concat.size(), expected.data());
  EXPECT_EQ(after.claims.GetString("tpm.pcrs.sha256.16"), HexEncode(expected));
  EXPECT_NE(after.claims.GetString("tpm.pcrs.sha256.16"), pcr16_before);

  // An old bundle with the new PCR value swapped in no longer verifies.
  ASSERT_OK_AND_ASSIGN(attest::TpmQuoteBundle forged,
                       attest::ParseTpmQuoteBundle(before_items[0].payload()));
  forged.pcrs[attest::kTpmAlgSha256][16] = expected;
  strongroom::v1::EvidenceItem item = before_items[0];
  item.set_payload(attest::BuildTpmQuoteBundle(forged));
  EXPECT_THAT(Verify(item, attester->ak_public_key_pem(), Binding(4)),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(TpmAttesterTest, PersistedAkIsUsedFromItsHandle) {
  ASSERT_OK_AND_ASSIGN(auto primary, TpmAttester::Create(Options()));
  ASSERT_OK(primary->PersistAk(0x81000100));
  TpmAttesterOptions o = Options();
  o.ak_source = TpmAkSource::kPersistent;
  o.ak_handle = 0x81000100;
  ASSERT_OK_AND_ASSIGN(auto persistent, TpmAttester::Create(o));
  EXPECT_EQ(persistent->ak_public_key_pem(), primary->ak_public_key_pem());
  ASSERT_OK_AND_ASSIGN(auto items, persistent->Attest(Binding(6)));
  EXPECT_OK(Verify(items[0], primary->ak_public_key_pem(), Binding(6)));

  o.ak_handle = 0x81000101;
  EXPECT_THAT(TpmAttester::Create(o), StatusIs(absl::StatusCode::kNotFound, HasSubstr("0x81000101")));
  // swtpm_setup's EK is persistent but a decryption key: not an AK.
  o.ak_handle = 0x81010001;
  EXPECT_THAT(TpmAttester::Create(o), StatusIs(absl::StatusCode::kFailedPrecondition,
                                               HasSubstr("restricted signing")));
  o.ak_handle = 0x80000001;
  EXPECT_THAT(TpmAttester::Create(o), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(primary->PersistAk(0x81800000), StatusIs(absl::StatusCode::kInvalidArgument));
}

class TpmEkChildTest : public TpmAttesterTest,
                       public ::testing::WithParamInterface<TpmEkKind> {};

TEST_P(TpmEkChildTest, AkUnderTheEkVerifiesAsItsChild) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("ek-child-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  ASSERT_OK(CreateEkChildAk(tpm_->tcti(), GetParam(), dir + "/ak.pub", dir + "/ak.priv"));
  EXPECT_EQ(std::filesystem::status(dir + "/ak.priv").permissions() &
                std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  TpmAttesterOptions o = Options();
  o.ak_source = TpmAkSource::kEkChild;
  o.ek_kind = GetParam();
  o.ak_public_file = dir + "/ak.pub";
  o.ak_private_file = dir + "/ak.priv";
  ASSERT_OK_AND_ASSIGN(auto attester, TpmAttester::Create(o));
  ASSERT_OK_AND_ASSIGN(auto items, attester->Attest(Binding(8)));
  ASSERT_OK_AND_ASSIGN(attest::Appraisal a,
                       Verify(items[0], attester->ak_public_key_pem(), Binding(8)));
  EXPECT_EQ(a.claims.GetString("tpm.ak.qualified_name_check"), "ek-child");
  ASSERT_OK_AND_ASSIGN(attest::TpmQuoteBundle bundle,
                       attest::ParseTpmQuoteBundle(items[0].payload()));
  EXPECT_FALSE(bundle.ek_public.empty());
  if (GetParam() == TpmEkKind::kRsa) {
    // Our L-1 template is the one swtpm_setup provisioned (and certified).
    ASSERT_OK_AND_ASSIGN(auto session, attest::testing::TpmSession::Connect(tpm_->tcti()));
    ASSERT_OK_AND_ASSIGN(auto ek, session->Persistent(0x81010001));
    EXPECT_EQ(bundle.ek_public, ek.public_area);
  }
  // The blobs do not load under the other EK.
  o.ek_kind = GetParam() == TpmEkKind::kEcc ? TpmEkKind::kRsa : TpmEkKind::kEcc;
  EXPECT_THAT(TpmAttester::Create(o), StatusIs(absl::StatusCode::kInternal, HasSubstr("Esys_Load")));
  o.ek_kind = GetParam();

  // The two files are one key. One path for both is refused; a private half
  // that cannot be written leaves the old pair as it was (or, with no old
  // public half, none).
  EXPECT_THAT(CreateEkChildAk(tpm_->tcti(), GetParam(), dir + "/ak.pub", dir + "/./ak.pub"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("the same file")));
  auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  const std::string old_public = read(dir + "/ak.pub");
  EXPECT_FALSE(
      CreateEkChildAk(tpm_->tcti(), GetParam(), dir + "/ak.pub", dir + "/missing/ak.priv").ok());
  EXPECT_EQ(read(dir + "/ak.pub"), old_public);
  EXPECT_OK(TpmAttester::Create(o).status());
  EXPECT_FALSE(
      CreateEkChildAk(tpm_->tcti(), GetParam(), dir + "/new.pub", dir + "/missing/ak.priv").ok());
  EXPECT_FALSE(std::filesystem::exists(dir + "/new.pub"));
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Eks, TpmEkChildTest,
                         ::testing::Values(TpmEkKind::kEcc, TpmEkKind::kRsa),
                         [](const auto& info) {
                           return info.param == TpmEkKind::kEcc ? "Ecc" : "Rsa";
                         });

TEST_F(TpmAttesterTest, InactiveBankIsReported) {
  TpmAttesterOptions o = Options();
  ASSERT_OK_AND_ASSIGN(o.pcrs, ParseTpmPcrSelection("sha1:0,1"));  // swtpm here: sha256 only
  ASSERT_OK_AND_ASSIGN(auto attester, TpmAttester::Create(o));
  EXPECT_THAT(attester->Attest(Binding(9)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("sha1:0,1")));
}

TEST(TpmAttesterOptionsTest, UnreachableTctiIsUnavailable) {
  TpmAttesterOptions o;
  o.tcti = "swtpm:host=127.0.0.1,port=1";
  EXPECT_THAT(TpmAttester::Create(o), Not(::strongroom::testing::IsOk()));
  o.tcti = "nosuchtcti:x";
  EXPECT_THAT(TpmAttester::Create(o), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("nosuchtcti")));
  o.tcti = "device:/dev/tpmrm0";
  o.ak_source = TpmAkSource::kEkChild;
  o.ak_public_file = "/nonexistent/ak.pub";
  EXPECT_THAT(TpmAttester::Create(o), StatusIs(absl::StatusCode::kNotFound, HasSubstr("ak public")));
  o.pcrs.clear();
  EXPECT_THAT(TpmAttester::Create(o), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pcrs")));
}

TEST(TpmPcrSelectionTest, ParsesBanksListsAndRanges) {
  ASSERT_OK_AND_ASSIGN(auto banks, ParseTpmPcrSelection("sha256:0-7,16"));
  ASSERT_EQ(banks.size(), 1u);
  EXPECT_EQ(banks[0].hash_alg, attest::kTpmAlgSha256);
  EXPECT_THAT(banks[0].pcrs, ::testing::ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 16));
  EXPECT_EQ(FormatTpmPcrSelection(banks), FormatTpmPcrSelection(DefaultTpmPcrSelection()));
  ASSERT_OK_AND_ASSIGN(banks, ParseTpmPcrSelection("sha1:23,0+sha384:4-5"));
  ASSERT_EQ(banks.size(), 2u);
  EXPECT_THAT(banks[0].pcrs, ::testing::ElementsAre(0, 23));
  EXPECT_EQ(banks[1].hash_alg, attest::kTpmAlgSha384);
  EXPECT_EQ(FormatTpmPcrSelection(banks), "sha1:0,23+sha384:4,5");
  for (const char* bad : {"", "sha256", "sha256:", "md5:1", "sha256:24", "sha256:7-3",
                          "sha256:1+sha256:2", "sha256:a", "sha256:1,,2"}) {
    EXPECT_THAT(ParseTpmPcrSelection(bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    HasSubstr("pcrs")))
        << bad;
  }
}

}  // namespace
}  // namespace strongroom::client
