// Captures every log line (at debug level) while the layer handles known key
// material and the PIN, and searches the lines for those bytes in every
// encoding a careless log statement might use.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "base/log.h"
#include "base/testing/status_matchers.h"
#include "hsm-sim/testing/fault_injector.h"
#include "kms/pkcs11/pin_source.h"
#include "tests/kms/pkcs11/hsm_fixture.h"

namespace strongroom::kms::pkcs11 {
namespace {

std::vector<std::string> Encodings(std::span<const uint8_t> secret) {
  std::string hex = HexEncode(secret);
  return {std::string(AsStringView(secret)), hex, absl::AsciiStrToUpper(hex),
          Base64Encode(secret), Base64UrlEncode(secret)};
}

class LogSecretsTest : public HsmFixture {
 protected:
  void SetUp() override {
    SetMinLogLevel(LogLevel::kDebug);
    old_sink_ = SetLogSink([this](absl::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override {
    HsmFixture::TearDown();
    SetLogSink(std::move(old_sink_));
    SetMinLogLevel(LogLevel::kInfo);
  }

  LogSink old_sink_;
  std::vector<std::string> lines_;
};

TEST_F(LogSecretsTest, NoKeyBytesOrPinInAnyLogLine) {
  SetUpHsm(/*through_fault_module=*/true, 2);
  ASSERT_OK_AND_ASSIGN(auto faults, hsm_sim::FaultInjector::Load());
  std::vector<SecretBytes> secrets;
  secrets.push_back(SecretBytes::CopyFrom(AsBytes(token_->user_pin())));

  SecretBytes imported = SecretBytes::Random(32);
  ASSERT_OK_AND_ASSIGN(KeyHandle root, hsm_->ImportAesKey(
      imported, {.label = "root", .persistent = true, .usage = kUsageWrap | kUsageUnwrap}));
  secrets.push_back(imported.Clone());
  SecretBytes dek = SecretBytes::Random(32);
  ASSERT_OK_AND_ASSIGN(Bytes wrapped, hsm_->WrapSecret(root, dek, WrapMechanism::kRfc3394));
  ASSERT_OK_AND_ASSIGN(SecretBytes unwrapped,
                       hsm_->UnwrapSecret(root, wrapped, WrapMechanism::kRfc3394));
  ASSERT_TRUE(unwrapped == dek);
  secrets.push_back(dek.Clone());
  ASSERT_OK_AND_ASSIGN(KeyHandle data_key, hsm_->UnwrapKey(root, wrapped, WrapMechanism::kRfc3394,
                                                           {.label = "dek"}));
  SecretBytes plaintext = SecretBytes::Random(64);
  Bytes iv(12, 7);
  ASSERT_OK_AND_ASSIGN(Bytes ct, hsm_->AesGcmEncrypt(data_key, iv, {}, plaintext.Reveal()));
  ASSERT_OK_AND_ASSIGN(SecretBytes pt, hsm_->AesGcmDecrypt(data_key, iv, {}, ct));
  secrets.push_back(plaintext.Clone());
  ASSERT_OK_AND_ASSIGN(EcKeyPair pair, hsm_->GenerateEcKeyPair(
      EcCurve::kP256, {.label = "ecdh", .usage = kUsageDerive | kUsageSign}));
  ASSERT_OK_AND_ASSIGN(EcKeyPair peer, hsm_->GenerateEcKeyPair(
      EcCurve::kP256, {.label = "peer", .usage = kUsageDerive}));
  ASSERT_OK_AND_ASSIGN(SecretBytes shared, hsm_->EcdhDerive(pair.private_key, peer.public_point));
  secrets.push_back(shared.Clone());

  // Errors and recoveries log too: drive them while secrets are in flight.
  ASSERT_OK(faults->Configure("fail C_Decrypt CKR_DEVICE_ERROR count=1; "
                              "fail C_UnwrapKey CKR_SESSION_HANDLE_INVALID count=1; "
                              "fail C_WrapKey CKR_DEVICE_REMOVED count=1"));
  EXPECT_FALSE(hsm_->AesGcmDecrypt(data_key, iv, {}, ct).ok());
  EXPECT_OK(hsm_->UnwrapSecret(root, wrapped, WrapMechanism::kRfc3394));
  EXPECT_OK(hsm_->WrapSecret(root, dek, WrapMechanism::kRfc3394));
  faults->Clear();
  hsm_.reset();  // shutdown logs as well

  ASSERT_FALSE(lines_.empty());
  bool saw_recovery = false;
  for (const std::string& line : lines_) {
    saw_recovery = saw_recovery || line.find("pkcs11.recovering") != std::string::npos;
    for (const SecretBytes& secret : secrets) {
      for (const std::string& encoded : Encodings(secret.Reveal())) {
        ASSERT_EQ(line.find(encoded), std::string::npos)
            << "secret bytes found in log line: " << line.substr(0, 120);
      }
    }
  }
  EXPECT_TRUE(saw_recovery);  // the capture really saw the layer's logging
}

// A PIN written where the PIN file's name belongs is not repeated in the
// error that goes to the log.
TEST(PinSourceTest, AMissingPinFileIsNotNamed) {
  PinSource source;
  source.file = "/nonexistent-dir/483920";
  absl::StatusOr<SecretBytes> pin = source.Load();
  EXPECT_THAT(pin.status(), ::strongroom::testing::StatusIs(absl::StatusCode::kNotFound,
                                                            ::testing::HasSubstr("hsm.pin_file")));
  EXPECT_THAT(std::string(pin.status().message()), ::testing::Not(::testing::HasSubstr("483920")));
}

}  // namespace
}  // namespace strongroom::kms::pkcs11
