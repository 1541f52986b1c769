#include "attest/dev/dev_verifier.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "attest/dev/dev_attester.h"
#include "attest/dev/dev_evidence.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1735689600);  // 2025-01-01

std::string TestData(absl::string_view name) {
  auto s = ReadFileToString(
      absl::StrCat(STRONGROOM_DEV_TESTDATA_DIR, "/", name), "testdata");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

Bytes Sha256(absl::string_view s) {
  Bytes out(SHA256_DIGEST_LENGTH);
  SHA256(reinterpret_cast<const uint8_t*>(s.data()), s.size(), out.data());
  return out;
}

// Signs `body` with `key` the way the format says, without DevAttester, so
// tests can produce validly signed bodies that break the body rules.
std::string SignEnvelope(EVP_PKEY* key, absl::string_view body) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, AsBytes(body).data(), body.size());
  Bytes sig(len);
  EVP_DigestSign(ctx, sig.data(), &len, AsBytes(body).data(), body.size());
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  unsigned char* spki = nullptr;
  int n = i2d_PUBKEY(key, &spki);
  Bytes digest(SHA256_DIGEST_LENGTH);
  SHA256(spki, n, digest.data());
  OPENSSL_free(spki);
  nlohmann::json env = {{"format", "strongroom-dev-evidence/1"},
                        {"body", Base64UrlEncode(AsBytes(body))},
                        {"signature", Base64UrlEncode(sig)},
                        {"key_id", HexEncode(digest)}};
  return env.dump();
}

class DevEvidenceTest : public ::testing::Test {
 protected:
  DevEvidenceTest() : clock_(kNow) {}

  void SetUp() override {
    key_.reset(EVP_EC_gen("P-256"), EVP_PKEY_free);
    ASSERT_NE(key_, nullptr);
    ASSERT_OK_AND_ASSIGN(DevAttester a, DevAttester::Create(key_, clock_));
    attester_ = std::make_unique<DevAttester>(std::move(a));
    ASSERT_OK_AND_ASSIGN(
        verifier_,
        DevVerifier::Create(
            {.trusted_public_keys_pem = {attester_->public_key_pem()},
             .enabled = true}));
    claims_.measurement = Bytes(48, 0x42);
    claims_.svn = 3;
    claims_.claims = {{"app", "demo"}, {"build.id", "7"}};
    nonce_ = Sha256("nonce");
  }

  static Evidence Make(std::string payload) {
    return Evidence{.type = EvidenceType::kDev, .payload = std::move(payload)};
  }
  VerifyContext Ctx() const {
    return VerifyContext{.at = kNow, .expected_report_data = nonce_};
  }
  // A valid body as JSON, for tests that break one field.
  nlohmann::json Body() const {
    return nlohmann::json::parse(
        SerializeDevEvidenceBody({.measurement = claims_.measurement,
                                  .report_data = nonce_,
                                  .issued_at = absl::ToUnixSeconds(kNow),
                                  .svn = 1}));
  }
  absl::StatusOr<Appraisal> VerifySigned(absl::string_view body) const {
    return verifier_->Verify(Make(SignEnvelope(key_.get(), body)), Ctx());
  }

  FakeClock clock_;
  std::shared_ptr<EVP_PKEY> key_;
  std::unique_ptr<DevAttester> attester_;
  std::unique_ptr<DevVerifier> verifier_;
  DevClaims claims_;
  Bytes nonce_;
};

TEST_F(DevEvidenceTest, RoundTrip) {
  ASSERT_OK_AND_ASSIGN(std::string payload, attester_->Attest(claims_, nonce_));
  ASSERT_OK_AND_ASSIGN(Appraisal a, verifier_->Verify(Make(payload), Ctx()));
  EXPECT_EQ(a.tee, "dev");
  const Claims& c = a.claims;
  EXPECT_EQ(c.GetString("dev.measurement"), HexEncode(claims_.measurement));
  EXPECT_EQ(c.GetString("dev.report_data"), HexEncode(nonce_));
  EXPECT_FALSE(c.GetBool("dev.debug"));
  ASSERT_NE(c.Find("dev.debug"), nullptr);
  EXPECT_EQ(c.GetInt("dev.svn"), 3);
  EXPECT_EQ(c.GetInt("dev.issued_at"), absl::ToUnixSeconds(kNow));
  EXPECT_EQ(c.GetString("dev.key_id"), attester_->key_id());
  EXPECT_EQ(c.GetString("dev.claims.app"), "demo");
  EXPECT_EQ(c.GetString("dev.claims.build.id"), "7");
  EXPECT_EQ(a.trust.instance_identity, 2);
  EXPECT_EQ(a.trust.configuration, 0);
  EXPECT_EQ(a.trust.hardware, 0);
  EXPECT_EQ(a.status(), TrustTier::kAffirming);
  EXPECT_THAT(a.warnings, Contains(HasSubstr("not by TEE hardware")));
}

TEST_F(DevEvidenceTest, DebugIsAWarning) {
  claims_.debug = true;
  ASSERT_OK_AND_ASSIGN(std::string payload, attester_->Attest(claims_, nonce_));
  ASSERT_OK_AND_ASSIGN(Appraisal a, verifier_->Verify(Make(payload), Ctx()));
  EXPECT_TRUE(a.claims.GetBool("dev.debug"));
  EXPECT_EQ(a.trust.configuration, 32);
  EXPECT_EQ(a.status(), TrustTier::kWarning);
}

TEST_F(DevEvidenceTest, VerifiesEvidenceMadeByAnotherImplementation) {
  ASSERT_OK_AND_ASSIGN(
      auto v,
      DevVerifier::Create(
          {.trusted_public_keys_pem = {TestData("dev_test_key.pub.pem")},
           .enabled = true}));
  ASSERT_OK_AND_ASSIGN(
      Appraisal a, v->Verify(Make(TestData("dev_evidence_pyca.json")), Ctx()));
  EXPECT_EQ(a.claims.GetInt("dev.svn"), 7);
  EXPECT_EQ(a.claims.GetString("dev.claims.workload"), "demo-inference");
  // The README says measurement = SHA-384("strongroom demo workload").
  Bytes m(48);
  absl::string_view w = "strongroom demo workload";
  SHA384(reinterpret_cast<const uint8_t*>(w.data()), w.size(), m.data());
  EXPECT_EQ(a.claims.GetString("dev.measurement"), HexEncode(m));
}

TEST_F(DevEvidenceTest, AttesterFromPemMatchesKey) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key_.get(), nullptr, nullptr, 0, nullptr,
                           nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, len);
  BIO_free(bio);
  ASSERT_OK_AND_ASSIGN(DevAttester from_pem, DevAttester::Create(pem, clock_));
  EXPECT_EQ(from_pem.key_id(), attester_->key_id());
  ASSERT_OK_AND_ASSIGN(std::string payload, from_pem.Attest(claims_, nonce_));
  EXPECT_OK(verifier_->Verify(Make(payload), Ctx()));
  // The test key from testdata, too.
  ASSERT_OK_AND_ASSIGN(
      DevAttester py,
      DevAttester::Create(TestData("dev_test_key.pem"), clock_));
  EXPECT_EQ(py.key_id(),
            nlohmann::json::parse(TestData("dev_evidence_pyca.json"))["key_id"]
                .get<std::string>());
}

TEST_F(DevEvidenceTest, DisabledVerifierRefusesEverything) {
  ASSERT_OK_AND_ASSIGN(auto off,
                       DevVerifier::Create({.trusted_public_keys_pem = {
                                                attester_->public_key_pem()}}));
  ASSERT_OK_AND_ASSIGN(std::string payload, attester_->Attest(claims_, nonce_));
  EXPECT_THAT(off->Verify(Make(payload), Ctx()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "development attester is disabled in the server "
                       "config"));
  ASSERT_OK_AND_ASSIGN(auto default_off, DevVerifier::Create({}));
  EXPECT_THAT(default_off->Verify(Make(payload), Ctx()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(DevEvidenceTest, UntrustedKey) {
  ASSERT_OK_AND_ASSIGN(DevAttester stranger, DevAttester::Generate(clock_));
  ASSERT_OK_AND_ASSIGN(std::string payload, stranger.Attest(claims_, nonce_));
  EXPECT_THAT(verifier_->Verify(Make(payload), Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("key_id: " + stranger.key_id() +
                                 " is not a trusted")));
}

TEST_F(DevEvidenceTest, KeyIdOfTrustedKeyWithForeignSignature) {
  // Signed by a stranger but claiming the trusted key's id.
  ASSERT_OK_AND_ASSIGN(DevAttester stranger, DevAttester::Generate(clock_));
  ASSERT_OK_AND_ASSIGN(std::string payload, stranger.Attest(claims_, nonce_));
  payload =
      absl::StrReplaceAll(payload, {{stranger.key_id(), attester_->key_id()}});
  EXPECT_THAT(verifier_->Verify(Make(payload), Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("signature: does not verify")));
}

TEST_F(DevEvidenceTest, BadSignature) {
  ASSERT_OK_AND_ASSIGN(std::string payload, attester_->Attest(claims_, nonce_));
  nlohmann::json env = nlohmann::json::parse(payload);
  ASSERT_OK_AND_ASSIGN(Bytes sig,
                       Base64UrlDecode(env["signature"].get<std::string>()));
  sig[sig.size() - 1] ^= 0x01;
  env["signature"] = Base64UrlEncode(sig);
  EXPECT_THAT(
      verifier_->Verify(Make(env.dump()), Ctx()),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("signature")));
}

TEST_F(DevEvidenceTest, TamperedBody) {
  ASSERT_OK_AND_ASSIGN(std::string payload, attester_->Attest(claims_, nonce_));
  nlohmann::json env = nlohmann::json::parse(payload);
  ASSERT_OK_AND_ASSIGN(Bytes body,
                       Base64UrlDecode(env["body"].get<std::string>()));
  std::string text(body.begin(), body.end());
  text = absl::StrReplaceAll(text, {{"\"svn\":3", "\"svn\":9"}});
  ASSERT_NE(text, std::string(body.begin(), body.end()));
  env["body"] = Base64UrlEncode(AsBytes(text));
  EXPECT_THAT(verifier_->Verify(Make(env.dump()), Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("signature: does not verify")));
}

TEST_F(DevEvidenceTest, WrongReportData) {
  ASSERT_OK_AND_ASSIGN(std::string payload,
                       attester_->Attest(claims_, Sha256("other")));
  EXPECT_THAT(verifier_->Verify(Make(payload), Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("body.report_data")));
  VerifyContext unchecked = Ctx();
  unchecked.expected_report_data.reset();
  ASSERT_OK_AND_ASSIGN(Appraisal a,
                       verifier_->Verify(Make(payload), unchecked));
  EXPECT_THAT(a.warnings, Contains(HasSubstr("report data not checked")));
}

TEST_F(DevEvidenceTest, IssuedAtWindow) {
  claims_.issued_at = kNow + absl::Seconds(60);
  ASSERT_OK_AND_ASSIGN(std::string edge, attester_->Attest(claims_, nonce_));
  EXPECT_OK(verifier_->Verify(Make(edge), Ctx()));
  claims_.issued_at = kNow + absl::Seconds(61);
  ASSERT_OK_AND_ASSIGN(std::string future, attester_->Attest(claims_, nonce_));
  EXPECT_THAT(verifier_->Verify(Make(future), Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("body.issued_at: 2025-01-01T00:01:01Z is in "
                                 "the future")));
  // Old evidence passes unless max_age is set.
  claims_.issued_at = kNow - absl::Hours(2);
  ASSERT_OK_AND_ASSIGN(std::string old, attester_->Attest(claims_, nonce_));
  EXPECT_OK(verifier_->Verify(Make(old), Ctx()));
  ASSERT_OK_AND_ASSIGN(
      auto strict,
      DevVerifier::Create(
          {.trusted_public_keys_pem = {attester_->public_key_pem()},
           .enabled = true,
           .max_age = absl::Hours(1)}));
  EXPECT_THAT(strict->Verify(Make(old), Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("older than 1h")));
}

TEST_F(DevEvidenceTest, IssuedAtDefaultsToTheClock) {
  clock_.Advance(absl::Seconds(5));
  ASSERT_OK_AND_ASSIGN(std::string payload, attester_->Attest(claims_, nonce_));
  VerifyContext ctx = Ctx();
  ctx.at = kNow + absl::Seconds(5);
  ASSERT_OK_AND_ASSIGN(Appraisal a, verifier_->Verify(Make(payload), ctx));
  EXPECT_EQ(a.claims.GetInt("dev.issued_at"), absl::ToUnixSeconds(kNow) + 5);
}

// Validly signed bodies that break one rule of the body format.
struct BodyCase {
  const char* name;
  void (*edit)(nlohmann::json&);
  const char* reason;
};

const BodyCase kBodyCases[] = {
    {"UnknownField", [](nlohmann::json& b) { b["extra"] = 1; },
     "body.extra: unknown field"},
    {"MissingSvn", [](nlohmann::json& b) { b.erase("svn"); },
     "body.svn: missing"},
    {"DebugNotBool", [](nlohmann::json& b) { b["debug"] = "yes"; },
     "body.debug: must be a boolean, not string"},
    {"SvnFraction", [](nlohmann::json& b) { b["svn"] = 1.5; },
     "body.svn: must be an integer, not a fraction"},
    {"SvnNegative", [](nlohmann::json& b) { b["svn"] = -1; },
     "body.svn: -1 is negative"},
    {"IssuedAtString", [](nlohmann::json& b) { b["issued_at"] = "2025"; },
     "body.issued_at: must be an integer, not string"},
    {"MeasurementNumber", [](nlohmann::json& b) { b["measurement"] = 5; },
     "body.measurement: must be a string, not number"},
    {"MeasurementNotHex", [](nlohmann::json& b) { b["measurement"] = "zz"; },
     "body.measurement: not hex"},
    {"MeasurementUppercase",
     [](nlohmann::json& b) { b["measurement"] = "ABCD"; },
     "body.measurement: not hex"},
    {"MeasurementOddLength",
     [](nlohmann::json& b) { b["measurement"] = "abc"; },
     "body.measurement: not hex: odd length 3"},
    {"MeasurementEmpty", [](nlohmann::json& b) { b["measurement"] = ""; },
     "body.measurement: 0 bytes"},
    {"ReportDataTooLong",
     [](nlohmann::json& b) { b["report_data"] = std::string(130, 'a'); },
     "body.report_data: 65 bytes"},
    {"ClaimsNotObject",
     [](nlohmann::json& b) {
       b["claims"] = {"a", "b"};
     },
     "body.claims: must be an object, not array"},
    {"ClaimValueNotString",
     [](nlohmann::json& b) {
       b["claims"] = {{"x", 1}};
     },
     "body.claims.x: must be a string, not number"},
    {"ClaimBadName",
     [](nlohmann::json& b) {
       b["claims"] = {{"a b", "c"}};
     },
     "body.claims: name 'a b'"},
    {"NotAnObject", [](nlohmann::json& b) { b = nlohmann::json::array(); },
     "body: not a JSON object"},
};

class DevBodyCaseTest : public DevEvidenceTest,
                        public ::testing::WithParamInterface<BodyCase> {};

TEST_P(DevBodyCaseTest, IsInvalidArgumentNamingTheField) {
  nlohmann::json body = Body();
  ASSERT_OK(VerifySigned(body.dump()));  // the unedited body passes
  GetParam().edit(body);
  EXPECT_THAT(VerifySigned(body.dump()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(GetParam().reason)));
}

INSTANTIATE_TEST_SUITE_P(All, DevBodyCaseTest, ::testing::ValuesIn(kBodyCases),
                         [](const ::testing::TestParamInfo<BodyCase>& info) {
                           return std::string(info.param.name);
                         });

TEST_F(DevEvidenceTest, DuplicateBodyFieldIsRefused) {
  std::string body = Body().dump();
  body.insert(body.size() - 1, ",\"svn\":9");
  EXPECT_THAT(VerifySigned(body),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("field 'svn' appears twice")));
}

TEST_F(DevEvidenceTest, EnvelopeProblems) {
  ASSERT_OK_AND_ASSIGN(std::string payload, attester_->Attest(claims_, nonce_));
  auto refuse = [&](const std::string& p, const char* reason) {
    EXPECT_THAT(verifier_->Verify(Make(p), Ctx()),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(reason)))
        << p.substr(0, 80);
  };
  refuse("", "payload: not valid JSON");
  refuse("{not json", "payload: not valid JSON");
  refuse("\x11\xe0\x01\xff", "payload: not valid JSON");
  refuse(payload.substr(0, payload.size() / 2), "payload: not valid JSON");
  refuse("[1,2]", "payload: not a JSON object");
  nlohmann::json env = nlohmann::json::parse(payload);
  auto edited = [&](auto edit) {
    nlohmann::json e = env;
    edit(e);
    return e.dump();
  };
  refuse(edited([](auto& e) { e["extra"] = true; }), "extra: unknown field");
  refuse(edited([](auto& e) { e.erase("key_id"); }), "key_id: missing");
  refuse(edited([](auto& e) { e["format"] = "strongroom-dev-evidence/2"; }),
         "format: 'strongroom-dev-evidence/2' is not");
  refuse(edited([](auto& e) { e["body"] = 7; }),
         "body: must be a string, not number");
  refuse(edited([](auto& e) {
           e["body"] = e["body"].template get<std::string>() + "=";
         }),
         "body: not unpadded base64url");
  refuse(edited([](auto& e) { e["body"] = "!!!!"; }),
         "body: not unpadded base64url");
  refuse(edited([](auto& e) { e["signature"] = ""; }), "signature: 0 bytes");
  refuse(edited([](auto& e) { e["key_id"] = "abcd"; }), "key_id: 2 bytes");
  refuse(std::string(kDevMaxPayloadSize + 1, ' '), "payload: 65537 bytes");
}

TEST_F(DevEvidenceTest, RefusesWrongEvidenceType) {
  ASSERT_OK_AND_ASSIGN(std::string payload, attester_->Attest(claims_, nonce_));
  Evidence e = Make(payload);
  e.type = EvidenceType::kNvidia;
  EXPECT_THAT(
      verifier_->Verify(e, Ctx()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'nvidia'")));
}

TEST_F(DevEvidenceTest, AttesterValidatesClaims) {
  DevClaims c = claims_;
  c.measurement.clear();
  EXPECT_THAT(attester_->Attest(c, nonce_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("body.measurement")));
  EXPECT_THAT(attester_->Attest(claims_, Bytes(65, 0)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("body.report_data")));
  c = claims_;
  c.claims["bad name"] = "x";
  EXPECT_THAT(
      attester_->Attest(c, nonce_),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'bad name'")));
  c = claims_;
  c.claims["bytes"] = "\xff\xfe";
  EXPECT_THAT(attester_->Attest(c, nonce_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("body.claims.bytes: not valid UTF-8")));
  c = claims_;
  c.svn = -1;
  EXPECT_THAT(attester_->Attest(c, nonce_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("svn")));
  c = claims_;
  c.claims["text"] = "caf\xc3\xa9 \xf0\x9f\x94\x91";  // UTF-8 is fine
  ASSERT_OK_AND_ASSIGN(std::string payload, attester_->Attest(c, nonce_));
  ASSERT_OK_AND_ASSIGN(Appraisal a, verifier_->Verify(Make(payload), Ctx()));
  EXPECT_EQ(a.claims.GetString("dev.claims.text"), c.claims["text"]);
}

TEST(DevKeysTest, CreateRefusesBadKeysAndConfig) {
  std::shared_ptr<EVP_PKEY> p384(EVP_EC_gen("P-384"), EVP_PKEY_free);
  EXPECT_THAT(DevAttester::Create(p384),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not an EC P-256 key")));
  EXPECT_THAT(
      DevAttester::Create("not a pem"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("private key")));
  ASSERT_OK_AND_ASSIGN(DevAttester a, DevAttester::Generate());
  EXPECT_THAT(DevAttester::Create(a.public_key_pem()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DevVerifier::Create({.enabled = true}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(DevVerifier::Create(
                  {.trusted_public_keys_pem = {a.public_key_pem(), "garbage"},
                   .enabled = true}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("trusted_public_keys_pem[1]")));
  EXPECT_THAT(DevVerifier::Create({.max_clock_skew = absl::Seconds(-1)}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(DevEvidenceTest, ConcurrentAttestAndVerify) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto payload = attester_->Attest(claims_, nonce_);
        if (payload.ok() && verifier_->Verify(Make(*payload), Ctx()).ok()) {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
}

}  // namespace
}  // namespace strongroom::attest
