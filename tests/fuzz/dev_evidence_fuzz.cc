// Fuzzes development evidence: the envelope and body parsers and
// DevVerifier::Verify with the test key of tests/attest/dev/testdata trusted,
// so the seed (signed by that key) reaches every check.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "attest/dev/dev_evidence.h"
#include "attest/dev/dev_verifier.h"

namespace sa = strongroom::attest;

namespace {

// tests/attest/dev/testdata/dev_test_key.pub.pem (a throwaway test key).
constexpr char kTestKey[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEIP+aZ7seXnEDxQdvbU5AeFfWjtWj\n"
    "kynNjae7d30Kvq3Iwm9bYzmIPj58eb2JCN8hmF+Cgd/OZYaX/SMAMw6nmw==\n"
    "-----END PUBLIC KEY-----\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string payload(reinterpret_cast<const char*>(data), size);
  auto envelope = sa::ParseDevEvidenceEnvelope(payload);
  if (envelope.ok()) {
    auto body = sa::ParseDevEvidenceBody(envelope->body);
    if (body.ok()) {
      // What parses must serialize and parse back to the same body.
      auto again =
          sa::ParseDevEvidenceBody(sa::SerializeDevEvidenceBody(*body));
      if (!again.ok() || again->measurement != body->measurement ||
          again->claims != body->claims || again->svn != body->svn) {
        __builtin_trap();
      }
    }
  }
  (void)sa::ParseDevEvidenceBody(payload);

  static const sa::DevVerifier* verifier =
      sa::DevVerifier::Create(
          {.trusted_public_keys_pem = {kTestKey}, .enabled = true})
          .value()
          .release();
  sa::Evidence evidence{.type = sa::EvidenceType::kDev, .payload = payload};
  sa::VerifyContext ctx{.at = absl::FromUnixSeconds(1735689600)};
  (void)verifier->Verify(evidence, ctx);
  return 0;
}
