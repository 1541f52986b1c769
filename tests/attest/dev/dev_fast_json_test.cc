// The dev evidence parsers read the usual shape with FastJsonScanner and
// hand everything else to nlohmann::json (attest/dev/dev_evidence.cc). Both
// paths must give the same answer for every text: the same parsed value,
// or a refusal with the same code and (for ASCII input) the same message.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "attest/dev/dev_attester.h"
#include "attest/dev/dev_evidence.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace strongroom::attest {
namespace {

bool Ascii(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

template <typename T, typename Eq>
void ExpectSameAnswer(const std::string& text, const absl::StatusOr<T>& both,
                      const absl::StatusOr<T>& dom, Eq equal) {
  SCOPED_TRACE(text);
  ASSERT_EQ(both.ok(), dom.ok()) << (both.ok() ? dom.status() : both.status());
  if (both.ok()) {
    EXPECT_TRUE(equal(*both, *dom));
    return;
  }
  EXPECT_EQ(both.status().code(), dom.status().code());
  if (Ascii(text)) EXPECT_EQ(both.status().message(), dom.status().message());
}

const char kKey[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::vector<std::string> BodyTexts() {
  const std::string m = "\"measurement\":\"a5a5\"", r = "\"report_data\":\"5a5a\"";
  const std::string rest = "\"debug\":false,\"issued_at\":1735689601,\"svn\":3";
  auto body = [&](const std::string& tail) { return "{" + m + "," + r + "," + tail + "}"; };
  std::vector<std::string> out = {
      body(rest),
      body(rest + ",\"claims\":{\"workload\":\"bench\",\"a.b-c_9\":\"x y\"}"),
      " {\n\t\"svn\" : 3 , " + r + " ,\"issued_at\":0,\"debug\":true, " + m + " }\n",
      body(rest + ",\"claims\":{}"),
      body(rest + ",\"claims\":{\"w\":\"\\u0041\\n\"}"),   // escapes: the DOM path
      body(rest + ",\"claims\":{\"w\":\"a\nb\"}"),         // raw control byte: not JSON
      body(rest + ",\"claims\":{\"w\":\"\xc3\xa9t\xc3\xa9\"}"),  // UTF-8
      body(rest + ",\"claims\":{\"w\":\"\xff\"}"),                // not UTF-8
      body(rest + ",\"claims\":{\"w\":\"1\",\"w\":\"2\"}"),
      body(rest + ",\"claims\":{\"a b\":\"1\"}"),
      body(rest + ",\"claims\":{\"w\":1}"),
      body(rest + ",\"claims\":[]"),
      body(rest + ",\"svn\":4"),
      body(rest + ",\"extra\":1"),
      body("\"debug\":false,\"issued_at\":1"),
      "{" + m + "," + r + ",\"debug\":false,\"issued_at\":1,\"svn\":3}x",
      "{" + m + "," + r + ",\"debug\":false,\"issued_at\":1,\"svn\":3",
      "{\"measurement\":\"A5\"," + r + "," + rest + "}",
      "{\"measurement\":\"\"," + r + "," + rest + "}",
      "{\"measurement\":\"\\u0061\\u0035\"," + r + "," + rest + "}",
      "{}", "[]", "", "null",
  };
  for (const char* svn : {"0", "007", "-1", "1e2", "1.0", "1E2", "123456789012345678",
                          "1234567890123456789", "9223372036854775807", "9223372036854775808",
                          "18446744073709551616", "\"3\"", "true", "3 4"}) {
    out.push_back(body(absl::StrCat("\"debug\":false,\"issued_at\":5,\"svn\":", svn)));
  }
  for (const char* debug : {"true", "false", "\"true\"", "truex", "tru", "null", "1", "False"}) {
    out.push_back(body(absl::StrCat("\"debug\":", debug, ",\"issued_at\":5,\"svn\":1")));
  }
  return out;
}

TEST(DevFastJsonTest, BodyParsersAgree) {
  auto equal = [](const DevEvidenceBody& a, const DevEvidenceBody& b) {
    return a.measurement == b.measurement && a.report_data == b.report_data &&
           a.debug == b.debug && a.issued_at == b.issued_at && a.svn == b.svn &&
           a.claims == b.claims;
  };
  int accepted = 0;
  for (const std::string& text : BodyTexts()) {
    absl::StatusOr<DevEvidenceBody> both = ParseDevEvidenceBody(text);
    accepted += both.ok();
    ExpectSameAnswer(text, both, dev_internal::ParseBodyDom(text), equal);
  }
  EXPECT_GE(accepted, 8);  // the list is not all refusals
}

TEST(DevFastJsonTest, EnvelopeParsersAgree) {
  ASSERT_OK_AND_ASSIGN(DevAttester attester, DevAttester::Generate());
  DevClaims claims{.measurement = Bytes(48, 0xA5), .svn = 3, .issued_at = absl::FromUnixSeconds(5)};
  ASSERT_OK_AND_ASSIGN(std::string payload, attester.Attest(claims, Bytes(32, 0x5A)));
  ASSERT_OK_AND_ASSIGN(DevEvidenceEnvelope env, ParseDevEvidenceEnvelope(payload));
  const std::string body = payload.substr(payload.find("\"body\":\"") + 8);
  const std::string body64 = body.substr(0, body.find('"'));
  const std::string sig = payload.substr(payload.find("\"signature\":\"") + 13);
  const std::string sig64 = sig.substr(0, sig.find('"'));
  auto env_text = [&](const std::string& format, const std::string& b, const std::string& s,
                      const std::string& k, const std::string& extra = "") {
    return absl::StrCat("{\"format\":\"", format, "\",\"body\":\"", b, "\",\"signature\":\"", s,
                        "\",\"key_id\":\"", k, "\"", extra, "}");
  };
  const std::string f = "strongroom-dev-evidence/1";
  std::vector<std::string> texts = {
      payload,
      env_text(f, body64, sig64, env.key_id),
      " {\"key_id\" : \"" + env.key_id + "\",\n\"signature\":\"" + sig64 + "\",\"body\":\"" +
          body64 + "\",\"format\":\"" + f + "\"}\t",
      env_text(f, body64, sig64, env.key_id, ",\"extra\":1"),
      env_text(f, body64, sig64, env.key_id, ",\"key_id\":\"" + env.key_id + "\""),
      env_text("strongroom-dev-evidence/2", body64, sig64, env.key_id),
      env_text("strongroom-dev-evidence\\/1", body64, sig64, env.key_id),  // escape: DOM
      env_text("\xc3\xa9", body64, sig64, env.key_id),
      env_text("\xff", body64, sig64, env.key_id),
      env_text(f, body64 + "=", sig64, env.key_id),
      env_text(f, body64, "", env.key_id),
      env_text(f, body64, sig64, "abcd"),
      env_text(f, body64, sig64, kKey),
      env_text(f, body64, sig64, std::string(kKey).replace(0, 1, "\\u0030")),  // DOM decodes
      env_text(f, body64, sig64, env.key_id) + "x",
      "{\"format\":\"" + f + "\",\"body\":7,\"signature\":\"" + sig64 + "\",\"key_id\":\"" +
          env.key_id + "\"}",
      "{\"format\":\"" + f + "\"}",
      "{}", "[]", "", "{\"format\":\"a\nb\"}",
  };
  auto equal = [](const DevEvidenceEnvelope& a, const DevEvidenceEnvelope& b) {
    return a.body == b.body && a.signature == b.signature && a.key_id == b.key_id;
  };
  int accepted = 0;
  for (const std::string& text : texts) {
    absl::StatusOr<DevEvidenceEnvelope> both = ParseDevEvidenceEnvelope(text);
    accepted += both.ok();
    ExpectSameAnswer(text, both, dev_internal::ParseEnvelopeDom(text), equal);
  }
  EXPECT_GE(accepted, 4);
}

}  // namespace
}  // namespace strongroom::attest
