// Wycheproof known-answer and negative vectors run through the PKCS#11 layer
// against SoftHSM, wherever SoftHSM supports the case. Cases that SoftHSM (or
// the layer's deliberate limits: 96-bit IVs, 128-bit tags, wrap inputs that
// are multiples of 8) cannot express are counted as skipped, and each suite
// asserts how many it ran, so a parsing slip cannot turn it into a no-op.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/testing/status_matchers.h"
#include "tests/kms/pkcs11/hsm_fixture.h"

namespace strongroom::kms::pkcs11 {
namespace {

using json = nlohmann::json;

struct Suite {
  const char* name;
  const char* file;
  int min_cases_run;  // what this SoftHSM build must be able to run
};

std::ostream& operator<<(std::ostream& os, const Suite& s) { return os << s.name; }

Bytes Hex(const json& j) {
  auto b = HexDecode(j.get<std::string>());
  return b.ok() ? *b : Bytes();
}

class WycheproofTest : public HsmFixture, public ::testing::WithParamInterface<Suite> {
 protected:
  void SetUp() override {
    SetUpHsm(false);
    std::string path = std::string(STRONGROOM_VECTORS_DIR) + "/wycheproof/" + GetParam().file;
    std::ifstream in(path);
    ASSERT_TRUE(in) << "cannot read " << path;
    doc_ = json::parse(in);
  }

  void Check(int tc, const std::string& result, bool accepted) {
    ++ran_;
    if (result == "valid") {
      EXPECT_TRUE(accepted) << GetParam().name << " tcId " << tc << " should be accepted";
    } else if (result == "invalid") {
      EXPECT_FALSE(accepted) << GetParam().name << " tcId " << tc << " should be rejected";
    }
  }

  void RunAesGcm();
  void RunKeyWrap(WrapMechanism mechanism);
  void RunEcdsa();

  json doc_;
  int ran_ = 0;
  int skipped_ = 0;
};

void WycheproofTest::RunAesGcm() {
  for (const json& group : doc_["testGroups"]) {
    for (const json& t : group["tests"]) {
      int tc = t["tcId"];
      Bytes key = Hex(t["key"]), iv = Hex(t["iv"]), aad = Hex(t["aad"]);
      Bytes msg = Hex(t["msg"]), ct = Hex(t["ct"]), tag = Hex(t["tag"]);
      if (iv.size() != 12 || tag.size() != 16 ||
          (key.size() != 16 && key.size() != 24 && key.size() != 32)) {
        ++skipped_;
        continue;
      }
      auto handle = hsm_->ImportAesKey(SecretBytes::CopyFrom(key), {.label = "wp"});
      ASSERT_OK(handle.status());
      Bytes ct_tag = ct;
      ct_tag.insert(ct_tag.end(), tag.begin(), tag.end());
      auto decrypted = hsm_->AesGcmDecrypt(*handle, iv, aad, ct_tag);
      bool accepted = decrypted.ok() &&
                      Bytes(decrypted->Reveal().begin(), decrypted->Reveal().end()) == msg;
      if (t["result"] == "valid") {
        auto encrypted = hsm_->AesGcmEncrypt(*handle, iv, aad, msg);
        accepted = accepted && encrypted.ok() && *encrypted == ct_tag;
      }
      if (!accepted && t["result"] == "valid") {
        ADD_FAILURE() << "tcId " << tc << " decrypt: " << decrypted.status();
      }
      Check(tc, t["result"], accepted);
      ASSERT_OK(hsm_->DestroyKey(*handle));
    }
  }
}

void WycheproofTest::RunKeyWrap(WrapMechanism mechanism) {
  for (const json& group : doc_["testGroups"]) {
    for (const json& t : group["tests"]) {
      int tc = t["tcId"];
      Bytes key = Hex(t["key"]), msg = Hex(t["msg"]), ct = Hex(t["ct"]);
      std::string result = t["result"];
      // SoftHSM's padded mechanism is RFC 5649-compatible only for multiples of 8.
      if (result == "valid" && (msg.size() < 16 || msg.size() % 8 != 0)) {
        ++skipped_;
        continue;
      }
      auto kek = hsm_->ImportAesKey(SecretBytes::CopyFrom(key),
                                    {.label = "kek", .usage = kUsageWrap | kUsageUnwrap});
      ASSERT_OK(kek.status());
      auto unwrapped = hsm_->UnwrapSecret(*kek, ct, mechanism);
      bool accepted = unwrapped.ok() &&
                      Bytes(unwrapped->Reveal().begin(), unwrapped->Reveal().end()) == msg;
      if (result == "valid") {
        auto wrapped = hsm_->WrapSecret(*kek, SecretBytes::CopyFrom(msg), mechanism);
        accepted = accepted && wrapped.ok() && *wrapped == ct;
      }
      Check(tc, result, accepted);
      ASSERT_OK(hsm_->DestroyKey(*kek));
    }
  }
}

void WycheproofTest::RunEcdsa() {
  for (const json& group : doc_["testGroups"]) {
    std::string curve_name = group["publicKey"]["curve"];
    EcCurve curve = curve_name == "secp256r1" ? EcCurve::kP256 : EcCurve::kP384;
    HashAlg hash = group["sha"] == "SHA-256" ? HashAlg::kSha256 : HashAlg::kSha384;
    Bytes point = Hex(group["publicKey"]["uncompressed"]);
    auto pub = hsm_->ImportEcPublicKey(curve, point);
    if (!pub.ok()) {
      // Every test in such a group must then be invalid.
      for (const json& t : group["tests"]) Check(t["tcId"], t["result"], false);
      continue;
    }
    for (const json& t : group["tests"]) {
      Bytes msg = Hex(t["msg"]), sig = Hex(t["sig"]);
      Check(t["tcId"], t["result"], hsm_->EcdsaVerify(*pub, hash, msg, sig).ok());
    }
    ASSERT_OK(hsm_->DestroyKey(*pub));
  }
}

TEST_P(WycheproofTest, AllRunnableCases) {
  std::string name = GetParam().name;
  if (name == "aes_gcm") {
    RunAesGcm();
  } else if (name == "aes_wrap") {
    RunKeyWrap(WrapMechanism::kRfc3394);
  } else if (name == "aes_kwp") {
    RunKeyWrap(WrapMechanism::kRfc5649);
  } else {
    RunEcdsa();
  }
  RecordProperty("cases_run", ran_);
  RecordProperty("cases_skipped", skipped_);
  std::cout << name << ": ran " << ran_ << " cases, skipped " << skipped_ << "\n";
  EXPECT_GE(ran_, GetParam().min_cases_run);
}

INSTANTIATE_TEST_SUITE_P(
    Vectors, WycheproofTest,
    ::testing::Values(Suite{"aes_gcm", "aes_gcm_test.json", 195},
                      Suite{"aes_wrap", "aes_wrap_test.json", 150},
                      Suite{"aes_kwp", "aes_kwp_test.json", 150},
                      Suite{"ecdsa_p256_sha256", "ecdsa_secp256r1_sha256_test.json", 480},
                      Suite{"ecdsa_p384_sha384", "ecdsa_secp384r1_sha384_test.json", 500},
                      Suite{"ecdsa_p384_sha256", "ecdsa_secp384r1_sha256_test.json", 470}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace strongroom::kms::pkcs11
