// Fuzzes development evidence: the envelope and body parsers and
// DevVerifier::Verify with the test key of tests/attest/dev/testdata trusted,
// so the seed (signed by that key) reaches every check. The parsers' scanner
// path must give the nlohmann path's answer for every input: the same value,
// or the same error code (and message, for ASCII input); a disagreement
// aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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

bool Ascii(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

template <typename T, typename Same>
void CheckSameAnswer(const char* what, const std::string& text, const absl::StatusOr<T>& both,
                     const absl::StatusOr<T>& dom, Same same) {
  const bool agree =
      both.ok() == dom.ok() &&
      (both.ok() ? same(*both, *dom)
                 : both.status().code() == dom.status().code() &&
                       (!Ascii(text) || both.status().message() == dom.status().message()));
  if (!agree) {
    std::fprintf(stderr, "dev_evidence_fuzz: %s: the scanner path says '%s', nlohmann '%s'\n",
                 what, both.ok() ? "ok" : std::string(both.status().message()).c_str(),
                 dom.ok() ? "ok" : std::string(dom.status().message()).c_str());
    std::abort();
  }
}

bool SameBody(const sa::DevEvidenceBody& a, const sa::DevEvidenceBody& b) {
  return a.measurement == b.measurement && a.report_data == b.report_data &&
         a.debug == b.debug && a.issued_at == b.issued_at && a.svn == b.svn &&
         a.claims == b.claims;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string payload(reinterpret_cast<const char*>(data), size);
  auto envelope = sa::ParseDevEvidenceEnvelope(payload);
  CheckSameAnswer("envelope", payload, envelope, sa::dev_internal::ParseEnvelopeDom(payload),
                  [](const sa::DevEvidenceEnvelope& a, const sa::DevEvidenceEnvelope& b) {
                    return a.body == b.body && a.signature == b.signature &&
                           a.key_id == b.key_id;
                  });
  if (envelope.ok()) {
    auto body = sa::ParseDevEvidenceBody(envelope->body);
    CheckSameAnswer("body", envelope->body, body,
                    sa::dev_internal::ParseBodyDom(envelope->body), SameBody);
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
  CheckSameAnswer("body", payload, sa::ParseDevEvidenceBody(payload),
                  sa::dev_internal::ParseBodyDom(payload), SameBody);

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
