#include "attest/nvidia/nvidia_verifier.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/file.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/nvidia/fake_gpu.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;

std::string Vec(absl::string_view rel) {
  auto s = ReadFileToString(
      absl::StrCat(STRONGROOM_VECTORS_DIR, "/nvidia/", rel), "vector");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

absl::Time At(absl::string_view rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

// The nvtrust sample: a Hopper report (SPDM 1.1) and the GPU's chain.
class HopperVectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hex_ = Vec("nvtrust_hopperAttestationReport.hex.txt");
    auto bytes = HexDecode(std::string(absl::StripAsciiWhitespace(hex_)));
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    report_ = *bytes;
    ASSERT_GT(report_.size(), 37u + 8u);
    // The request nonce sits after the 4-byte request header (DSP0274).
    nonce_.assign(report_.begin() + 4, report_.begin() + 36);
    chain_ = Vec("nvtrust_hopperCertChain.pem");
    ASSERT_OK_AND_ASSIGN(verifier_, NvidiaVerifier::Create({}));
  }

  Evidence Make(const Bytes& report) const {
    return Evidence{.type = EvidenceType::kNvidia,
                    .payload = std::string(report.begin(), report.end()),
                    .certificates = {chain_}};
  }
  VerifyContext Ctx() const {
    return VerifyContext{.at = At("2024-06-01T00:00:00Z"),
                         .expected_report_data = nonce_};
  }
  // Offset of the record-length field and of measurement block `n`
  // (1-based) in the sample, whose blocks are all 4 + 3 + 48 bytes.
  static constexpr size_t kResponse = 37;
  static constexpr size_t kRecordLength = kResponse + 5;
  static size_t BlockValue(int n) { return kResponse + 8 + (n - 1) * 55 + 7; }

  std::string hex_;
  Bytes report_;
  Bytes nonce_;
  std::string chain_;
  std::unique_ptr<NvidiaVerifier> verifier_;
};

TEST_F(HopperVectorTest, VerifiesAndReportsClaims) {
  ASSERT_OK_AND_ASSIGN(Appraisal a, verifier_->Verify(Make(report_), Ctx()));
  EXPECT_EQ(a.tee, "nvidia");
  EXPECT_EQ(a.status(), TrustTier::kAffirming);
  EXPECT_EQ(a.trust.instance_identity, 2);
  EXPECT_EQ(a.trust.hardware, 2);
  EXPECT_EQ(a.trust.executables, 0);
  EXPECT_TRUE(a.warnings.empty()) << a.warnings.front();
  const Claims& c = a.claims;
  EXPECT_EQ(c.GetString("nvidia.spdm_version"), "1.1");
  EXPECT_EQ(c.GetString("nvidia.nonce"), HexEncode(nonce_));
  EXPECT_EQ(c.GetInt("nvidia.slot_id"), 0);
  for (int n : {1, 2, 12, 64}) {
    std::span<const uint8_t> value(report_.data() + BlockValue(n), 48);
    EXPECT_EQ(c.GetString(absl::StrCat("nvidia.measurements.", n)),
              HexEncode(value))
        << n;
  }
  EXPECT_FALSE(c.Has("nvidia.measurements.65"));
  // Opaque fields as nvtrust decodes the sample.
  EXPECT_EQ(c.GetString("nvidia.opaque.driver_version"), "550.90.07");
  EXPECT_EQ(c.GetString("nvidia.opaque.vbios_version"), "96.00.9f.00.01");
  EXPECT_EQ(c.GetString("nvidia.opaque.project"), "1010");
  EXPECT_EQ(c.GetString("nvidia.opaque.project_sku"), "0200");
  EXPECT_EQ(c.GetString("nvidia.opaque.chip_sku"), "882");
  EXPECT_EQ(c.GetString("nvidia.opaque.nvdec0_status"), "55");
  EXPECT_THAT(c.GetString("nvidia.device_cert.subject"),
              HasSubstr("CN=GH100 A01 GSP FMC LF"));
  EXPECT_EQ(c.GetString("nvidia.device_cert.fwid").size(), 96u);
  EXPECT_EQ(c.GetString("nvidia.device_cert.fwid"),
            c.GetString("nvidia.opaque.fwid"));
}

TEST_F(HopperVectorTest, AcceptsHexTextWithWhitespace) {
  Evidence e = Make(report_);
  e.payload = "\n " + hex_.substr(0, 100) + "\r\n" + hex_.substr(100) + "\n";
  EXPECT_OK(verifier_->Verify(e, Ctx()));
  e.payload = hex_.substr(0, 101);  // odd number of digits
  EXPECT_THAT(verifier_->Verify(e, Ctx()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hex")));
  e.payload = hex_ + "zz";
  EXPECT_THAT(
      verifier_->Verify(e, Ctx()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("non-hex")));
}

TEST_F(HopperVectorTest, CertificatesInAnyOrderAndSplit) {
  ASSERT_OK_AND_ASSIGN(auto certs, ParseCertificates(chain_, "chain"));
  ASSERT_EQ(certs.size(), 5u);
  Evidence e = Make(report_);
  e.certificates.clear();
  // Reversed, one DER blob per certificate.
  for (auto it = certs.rbegin(); it != certs.rend(); ++it) {
    e.certificates.emplace_back(it->der().begin(), it->der().end());
  }
  ASSERT_OK_AND_ASSIGN(Appraisal a, verifier_->Verify(e, Ctx()));
  EXPECT_THAT(a.claims.GetString("nvidia.device_cert.subject"),
              HasSubstr("GSP FMC LF"));
}

TEST_F(HopperVectorTest, RootMayComeFromOptions) {
  ASSERT_OK_AND_ASSIGN(auto certs, ParseCertificates(chain_, "chain"));
  Evidence e = Make(report_);
  e.certificates.clear();
  for (size_t i = 0; i + 1 < certs.size(); ++i) {
    e.certificates.emplace_back(certs[i].der().begin(), certs[i].der().end());
  }
  EXPECT_THAT(verifier_->Verify(e, Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("no certificate verifies")));
  NvidiaVerifierOptions options;
  options.extra_certificates_pem = Vec("nvtrust_verifier_device_root.pem");
  ASSERT_OK_AND_ASSIGN(auto with_root, NvidiaVerifier::Create(options));
  EXPECT_OK(with_root->Verify(e, Ctx()));
}

TEST_F(HopperVectorTest, PinnedRootConstantMatchesVectorRoot) {
  ASSERT_OK_AND_ASSIGN(
      auto root,
      ParseCertificates(Vec("nvtrust_verifier_device_root.pem"), "root"));
  EXPECT_EQ(root[0].SpkiSha256Hex(), kNvidiaDeviceIdentityRootSpkiSha256);
}

TEST_F(HopperVectorTest, CachedChainIsRecheckedAgainstTime) {
  ASSERT_OK(verifier_->Verify(Make(report_), Ctx()));
  ASSERT_OK(verifier_->Verify(Make(report_), Ctx()));  // from the cache
  VerifyContext early = Ctx();
  early.at = At("2021-06-01T00:00:00Z");  // before the ICA's notBefore
  EXPECT_THAT(verifier_->Verify(Make(report_), early),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("not yet valid")));
  VerifyContext late = Ctx();
  late.at = At("10000-01-02T00:00:00Z");  // after notAfter 9999-12-31
  EXPECT_THAT(
      verifier_->Verify(Make(report_), late),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("expired")));
  EXPECT_OK(verifier_->Verify(Make(report_), Ctx()));
}

TEST_F(HopperVectorTest, UnpinnedRootIsRefused) {
  NvidiaVerifierOptions options;
  options.pinned_root_spki_sha256 = {std::string(64, 'a')};
  ASSERT_OK_AND_ASSIGN(auto other, NvidiaVerifier::Create(options));
  EXPECT_THAT(other->Verify(Make(report_), Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("not a pinned trust anchor")));
}

TEST_F(HopperVectorTest, MissingChainIsFailedPrecondition) {
  Evidence e = Make(report_);
  e.certificates.clear();
  EXPECT_THAT(verifier_->Verify(e, Ctx()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("certificate chain is missing")));
}

TEST_F(HopperVectorTest, ChainWithoutTheSigningLeafFailsTheSignature) {
  // Dropping the real leaf makes the BROM certificate the leaf.
  ASSERT_OK_AND_ASSIGN(auto certs, ParseCertificates(chain_, "chain"));
  Evidence e = Make(report_);
  e.certificates.clear();
  for (size_t i = 1; i < certs.size(); ++i) {
    e.certificates.emplace_back(certs[i].der().begin(), certs[i].der().end());
  }
  EXPECT_THAT(verifier_->Verify(e, Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("signature does not verify")));
}

TEST_F(HopperVectorTest, NonceChecks) {
  VerifyContext ctx = Ctx();
  ctx.expected_report_data->back() ^= 0x01;
  EXPECT_THAT(verifier_->Verify(Make(report_), ctx),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("request.nonce")));
  // The response nonce is the GPU's, not the one the verifier chose.
  Bytes response_nonce(report_.end() - 96 - 2 - 422 - 32,
                       report_.end() - 96 - 2 - 422);
  ctx.expected_report_data = response_nonce;
  EXPECT_THAT(verifier_->Verify(Make(report_), ctx),
              StatusIs(absl::StatusCode::kPermissionDenied));
  ctx.expected_report_data = Bytes(16, 0);
  EXPECT_THAT(verifier_->Verify(Make(report_), ctx),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("32")));
  ctx.expected_report_data.reset();
  ASSERT_OK_AND_ASSIGN(Appraisal a, verifier_->Verify(Make(report_), ctx));
  EXPECT_THAT(a.warnings, Contains(HasSubstr("nonce not checked")));
}

TEST_F(HopperVectorTest, RefusesWrongTypeAndUnsetTime) {
  Evidence e = Make(report_);
  e.type = EvidenceType::kDev;
  EXPECT_THAT(verifier_->Verify(e, Ctx()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  VerifyContext ctx = Ctx();
  ctx.at = absl::InfinitePast();
  EXPECT_THAT(
      verifier_->Verify(Make(report_), ctx),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ctx.at")));
}

TEST_F(HopperVectorTest, GoldenMeasurements) {
  std::string m2 = HexEncode({report_.data() + BlockValue(2), 48});
  NvidiaVerifierOptions options;
  options.golden_measurements = {{2, m2}};
  ASSERT_OK_AND_ASSIGN(auto golden, NvidiaVerifier::Create(options));
  ASSERT_OK_AND_ASSIGN(Appraisal ok, golden->Verify(Make(report_), Ctx()));
  EXPECT_EQ(ok.trust.executables, 2);
  EXPECT_EQ(ok.status(), TrustTier::kAffirming);

  m2[0] = m2[0] == '0' ? '1' : '0';
  options.golden_measurements = {{2, m2}, {99, "00"}};
  ASSERT_OK_AND_ASSIGN(golden, NvidiaVerifier::Create(options));
  ASSERT_OK_AND_ASSIGN(Appraisal bad, golden->Verify(Make(report_), Ctx()));
  EXPECT_EQ(bad.trust.executables, 33);
  EXPECT_EQ(bad.status(), TrustTier::kWarning);
  EXPECT_THAT(bad.warnings, Contains(HasSubstr("measurement 2 ")));
  EXPECT_THAT(bad.warnings, Contains(HasSubstr("measurement 99 is missing")));
}

TEST(NvidiaVerifierOptionsTest, RejectsMalformedOptions) {
  NvidiaVerifierOptions o;
  o.pinned_root_spki_sha256 = {};
  EXPECT_THAT(NvidiaVerifier::Create(o),
              StatusIs(absl::StatusCode::kInvalidArgument));
  o = {};
  o.pinned_root_spki_sha256 = {"ABCD"};
  EXPECT_THAT(NvidiaVerifier::Create(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ABCD")));
  o = {};
  o.extra_certificates_pem = "-----BEGIN CERTIFICATE-----\nAA\n";
  EXPECT_THAT(NvidiaVerifier::Create(o),
              StatusIs(absl::StatusCode::kInvalidArgument));
  o = {};
  o.golden_measurements = {{0, "00"}};
  EXPECT_THAT(NvidiaVerifier::Create(o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("golden_measurements[0]")));
  o.golden_measurements = {{3, "0G"}};
  EXPECT_THAT(NvidiaVerifier::Create(o),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// One byte-level change to the sample report and the refusal it must cause.
struct Mutation {
  const char* name;
  void (*apply)(Bytes&);
  absl::StatusCode code;
  const char* reason;
};

void SetRecordLength(Bytes& r, uint32_t v) {
  r[42] = v & 0xff;
  r[43] = (v >> 8) & 0xff;
  r[44] = (v >> 16) & 0xff;
}
uint32_t RecordLength(const Bytes& r) {
  return r[42] | r[43] << 8 | r[44] << 16;
}

const Mutation kMutations[] = {
    {"FlippedSignatureByte", [](Bytes& r) { r.back() ^= 0x01; },
     absl::StatusCode::kPermissionDenied, "signature does not verify"},
    {"FlippedSignatureR", [](Bytes& r) { r[r.size() - 96] ^= 0x80; },
     absl::StatusCode::kPermissionDenied, "signature does not verify"},
    {"FlippedMeasurementByte", [](Bytes& r) { r[37 + 8 + 55 + 7 + 5] ^= 0x01; },
     absl::StatusCode::kPermissionDenied, "signature does not verify"},
    {"FlippedOpaqueByte", [](Bytes& r) { r[r.size() - 96 - 10] ^= 0x01; },
     absl::StatusCode::kPermissionDenied, "signature does not verify"},
    {"FlippedResponseNonce", [](Bytes& r) { r[r.size() - 96 - 424 - 1] ^= 1; },
     absl::StatusCode::kPermissionDenied, "signature does not verify"},
    {"TruncatedSignature", [](Bytes& r) { r.pop_back(); },
     absl::StatusCode::kInvalidArgument, "response.signature: truncated"},
    {"TruncatedInRecord", [](Bytes& r) { r.resize(37 + 8 + 100); },
     absl::StatusCode::kInvalidArgument, "record_length"},
    {"TruncatedRequest", [](Bytes& r) { r.resize(20); },
     absl::StatusCode::kInvalidArgument, "request: truncated"},
    {"TrailingByte", [](Bytes& r) { r.push_back(0); },
     absl::StatusCode::kInvalidArgument, "trailing"},
    {"OversizedRecordLength", [](Bytes& r) { SetRecordLength(r, 0xFFFFFF); },
     absl::StatusCode::kInvalidArgument, "response.record_length"},
    {"ShortRecordLength",
     [](Bytes& r) { SetRecordLength(r, RecordLength(r) - 1); },
     absl::StatusCode::kInvalidArgument, "measurement_block[63]"},
    {"LongRecordLength",
     [](Bytes& r) { SetRecordLength(r, RecordLength(r) + 1); },
     absl::StatusCode::kInvalidArgument, "1 bytes left after 64"},
    {"FewerBlocksThanRecord", [](Bytes& r) { r[41] = 63; },
     absl::StatusCode::kInvalidArgument, "bytes left after 63"},
    {"BlockSizeDisagreesWithValue", [](Bytes& r) { r[37 + 8 + 5] = 47; },
     absl::StatusCode::kInvalidArgument, "DMTF value size 47"},
    {"BlockNotDmtf", [](Bytes& r) { r[37 + 8 + 1] = 2; },
     absl::StatusCode::kInvalidArgument, "not DMTF"},
    {"DuplicateBlockIndex", [](Bytes& r) { r[37 + 8 + 55] = 1; },
     absl::StatusCode::kInvalidArgument, "appears twice"},
    {"WrongRequestCode", [](Bytes& r) { r[1] = 0x83; },
     absl::StatusCode::kInvalidArgument, "request.code: 0x83"},
    {"WrongResponseCode", [](Bytes& r) { r[38] = 0x7F; },
     absl::StatusCode::kInvalidArgument, "response.code: 0x7f"},
    {"UnsupportedVersion", [](Bytes& r) { r[0] = 0x10; },
     absl::StatusCode::kInvalidArgument, "request.version"},
    {"VersionMismatch", [](Bytes& r) { r[37] = 0x12; },
     absl::StatusCode::kInvalidArgument, "response.version"},
    {"SignatureNotRequested", [](Bytes& r) { r[2] = 0x00; },
     absl::StatusCode::kInvalidArgument, "request.param1"},
    {"SlotMismatch", [](Bytes& r) { r[40] = 0x01; },
     absl::StatusCode::kInvalidArgument, "response.param2"},
    {"OpaqueLengthOverLimit",
     [](Bytes& r) {
       size_t at = r.size() - 96 - 422 - 2;
       r[at] = 0x01;
       r[at + 1] = 0x08;  // 2049
     },
     absl::StatusCode::kInvalidArgument, "opaque_length: 2049 exceeds"},
};

class HopperMutationTest : public HopperVectorTest,
                           public ::testing::WithParamInterface<Mutation> {};

TEST_P(HopperMutationTest, IsRefusedWithReason) {
  const Mutation& m = GetParam();
  Bytes bad = report_;
  m.apply(bad);
  ASSERT_NE(bad, report_);
  EXPECT_THAT(verifier_->Verify(Make(bad), Ctx()),
              StatusIs(m.code, HasSubstr(m.reason)));
}

INSTANTIATE_TEST_SUITE_P(All, HopperMutationTest,
                         ::testing::ValuesIn(kMutations),
                         [](const ::testing::TestParamInfo<Mutation>& info) {
                           return std::string(info.param.name);
                         });

// SPDM 1.2, expiry and FWID with a made-up device (see fake_gpu.h).
class FakeGpuTest : public ::testing::Test {
 protected:
  std::unique_ptr<NvidiaVerifier> VerifierFor(const testing::FakeGpu& gpu) {
    NvidiaVerifierOptions options;
    options.pinned_root_spki_sha256 = {gpu.root_spki_sha256()};
    auto v = NvidiaVerifier::Create(options);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *std::move(v) : nullptr;
  }
  static Evidence Make(const testing::FakeGpu& gpu, const Bytes& report) {
    return Evidence{.type = EvidenceType::kNvidia,
                    .payload = std::string(report.begin(), report.end()),
                    .certificates = {gpu.chain_pem()}};
  }
  static VerifyContext Ctx() {
    return VerifyContext{.at = At("2025-01-01T00:00:00Z"),
                         .expected_report_data = Bytes(32, 0xA5)};
  }
};

TEST_F(FakeGpuTest, Spdm12WithSigningPrefixVerifies) {
  testing::FakeGpu gpu;
  auto verifier = VerifierFor(gpu);
  ASSERT_OK_AND_ASSIGN(Appraisal a,
                       verifier->Verify(Make(gpu, gpu.BuildReport({})), Ctx()));
  EXPECT_EQ(a.claims.GetString("nvidia.spdm_version"), "1.2");
  EXPECT_EQ(a.claims.GetString("nvidia.measurements.3"),
            HexEncode(Bytes(48, 0x13)));
  EXPECT_EQ(a.claims.GetString("nvidia.opaque.driver_version"), "550.90.07");
  EXPECT_THAT(a.warnings, Contains(HasSubstr("FWID not cross-checked")));
}

TEST_F(FakeGpuTest, Spdm12WithoutSigningPrefixIsRefused) {
  testing::FakeGpu gpu;
  auto verifier = VerifierFor(gpu);
  Bytes report = gpu.BuildReport({.omit_signing_prefix = true});
  EXPECT_THAT(verifier->Verify(Make(gpu, report), Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("signature does not verify")));
}

TEST_F(FakeGpuTest, Spdm11SignsTheTranscriptItself) {
  testing::FakeGpu gpu;
  auto verifier = VerifierFor(gpu);
  ASSERT_OK_AND_ASSIGN(
      Appraisal a,
      verifier->Verify(Make(gpu, gpu.BuildReport({.version = 0x11})), Ctx()));
  EXPECT_EQ(a.claims.GetString("nvidia.spdm_version"), "1.1");
}

TEST_F(FakeGpuTest, ExpiredLeafAtVerificationTime) {
  testing::FakeGpu gpu({.leaf_not_before = At("2020-01-01T00:00:00Z"),
                        .leaf_not_after = At("2024-01-01T00:00:00Z")});
  auto verifier = VerifierFor(gpu);
  Bytes report = gpu.BuildReport({});
  EXPECT_THAT(verifier->Verify(Make(gpu, report), Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("'Fake GPU Device' expired")));
  VerifyContext before = Ctx();
  before.at = At("2023-06-01T00:00:00Z");
  EXPECT_OK(verifier->Verify(Make(gpu, report), before));
}

TEST_F(FakeGpuTest, FwidMustMatchTheCertificate) {
  Bytes fwid(48, 0x77);
  testing::FakeGpu gpu({.cert_fwid = fwid});
  auto verifier = VerifierFor(gpu);
  ASSERT_OK_AND_ASSIGN(
      Appraisal a,
      verifier->Verify(Make(gpu, gpu.BuildReport({.opaque_fwid = fwid})),
                       Ctx()));
  EXPECT_EQ(a.claims.GetString("nvidia.device_cert.fwid"), HexEncode(fwid));
  EXPECT_TRUE(a.warnings.empty());
  EXPECT_EQ(a.trust.hardware, 2);
  EXPECT_EQ(a.status(), TrustTier::kAffirming);
  // Without the FWID in the report (or in the certificate) nothing ties the
  // reported firmware to the certificate: the hardware claim is a warning.
  ASSERT_OK_AND_ASSIGN(Appraisal unchecked,
                       verifier->Verify(Make(gpu, gpu.BuildReport({})), Ctx()));
  EXPECT_EQ(unchecked.trust.hardware, 32);
  EXPECT_EQ(unchecked.status(), TrustTier::kWarning);
  EXPECT_THAT(unchecked.warnings, ::testing::Contains(HasSubstr("FWID not cross-checked")));
  testing::FakeGpu bare;
  auto bare_verifier = VerifierFor(bare);
  ASSERT_OK_AND_ASSIGN(
      Appraisal no_cert_fwid,
      bare_verifier->Verify(Make(bare, bare.BuildReport({.opaque_fwid = fwid})), Ctx()));
  EXPECT_EQ(no_cert_fwid.trust.hardware, 32);
  Bytes other = fwid;
  other[0] ^= 1;
  EXPECT_THAT(verifier->Verify(
                  Make(gpu, gpu.BuildReport({.opaque_fwid = other})), Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("fwid")));
}

TEST_F(FakeGpuTest, NvidiaRootDoesNotAcceptAnotherVendorsChain) {
  testing::FakeGpu gpu;
  ASSERT_OK_AND_ASSIGN(auto nvidia, NvidiaVerifier::Create({}));
  EXPECT_THAT(
      nvidia->Verify(Make(gpu, gpu.BuildReport({})), Ctx()),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("pinned")));
}

}  // namespace
}  // namespace strongroom::attest
