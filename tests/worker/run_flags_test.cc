// `strongroom-worker run` flag parsing, object references and the
// SecretBytes streams.
#include "worker/run_flags.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/secret_stream.h"

namespace strongroom::worker {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Base() {
  return {"--broker",    "127.0.0.1:7000", "--model",   "models/mnist.onnx", "--input",
          "inputs/x.pb", "--output",       "results/y", "--attester",        "tpm"};
}

std::vector<std::string> With(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Connection flags fall back to the environment; tests must not see the
// caller's.
class RunFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"STRONGROOM_SERVER", "STRONGROOM_CA", "STRONGROOM_CERT", "STRONGROOM_KEY",
                          "STRONGROOM_CLIENT_CONFIG"}) {
      unsetenv(v);
    }
  }
};

TEST_F(RunFlagsTest, ParsesTheIssueExample) {
  ASSERT_OK_AND_ASSIGN(
      RunFlags f,
      ParseRunFlags(With(Base(), {"--tcti", "swtpm:host=127.0.0.1,port=2321", "--pcrs",
                                  "sha256:0,16", "--device", "cpu", "--threads", "3", "--batch",
                                  "4", "--ca", "ca.crt", "--cert", "w.crt", "--key", "w.key"})));
  EXPECT_EQ(f.connection.address, "127.0.0.1:7000");
  EXPECT_EQ(f.connection.ca_file, "ca.crt");
  EXPECT_EQ(f.connection.cert_file, "w.crt");
  EXPECT_EQ(f.connection.key_file, "w.key");
  EXPECT_EQ(f.model.dataset, "models");
  EXPECT_EQ(f.model.name, "mnist.onnx");
  EXPECT_EQ(f.model.version, 0u);
  ASSERT_EQ(f.inputs.size(), 1u);
  EXPECT_EQ(FormatObjectRef(f.inputs[0]), "inputs/x.pb");
  EXPECT_EQ(FormatObjectRef(f.output), "results/y");
  EXPECT_EQ(f.attester.kind, AttesterKind::kTpm);
  EXPECT_EQ(f.attester.tpm.tcti, "swtpm:host=127.0.0.1,port=2321");
  ASSERT_EQ(f.attester.tpm.pcrs.size(), 1u);
  EXPECT_THAT(f.attester.tpm.pcrs[0].pcrs, ElementsAre(0u, 16u));
  EXPECT_EQ(f.device, onnx::Device::kCpu);
  EXPECT_EQ(f.threads, 3);
  EXPECT_EQ(f.batch, 4);
  EXPECT_FALSE(f.help);
  EXPECT_FALSE(f.allow_unlocked_memory);  // locked memory unless told otherwise
  ASSERT_OK_AND_ASSIGN(RunFlags dev, ParseRunFlags(With(Base(), {"--allow-unlocked-memory"})));
  EXPECT_TRUE(dev.allow_unlocked_memory);
}

TEST_F(RunFlagsTest, InputsKeepTheirOrderAndVersions) {
  ASSERT_OK_AND_ASSIGN(
      RunFlags f,
      ParseRunFlags(With(Base(), {"--input", "inputs/b/c.pb@7", "--input=inputs/a.pb@2"})));
  ASSERT_EQ(f.inputs.size(), 3u);
  EXPECT_EQ(FormatObjectRef(f.inputs[0]), "inputs/x.pb");
  EXPECT_EQ(f.inputs[1].name, "b/c.pb");
  EXPECT_EQ(f.inputs[1].version, 7u);
  EXPECT_EQ(FormatObjectRef(f.inputs[2]), "inputs/a.pb@2");
}

TEST_F(RunFlagsTest, ObjectErrorsNameTheFlag) {
  auto no_slash = ParseRunFlags({"--broker", "h:1", "--model", "justaname", "--input", "i/x",
                                 "--output", "o/y", "--attester", "tpm"});
  EXPECT_THAT(no_slash.status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--model")));
  EXPECT_THAT(no_slash.status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("justaname")));
  auto bad_input = ParseRunFlags(With(Base(), {"--input", "inputs/../x"}));
  EXPECT_THAT(bad_input.status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--input")));
  auto bad_version = ParseRunFlags(With(Base(), {"--input", "inputs/x@0"}));
  EXPECT_THAT(bad_version.status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--input")));
  auto bad_dataset = ParseRunFlags({"--broker", "h:1", "--model", "Models/x", "--input", "i/x",
                                    "--output", "o/y", "--attester", "tpm"});
  EXPECT_THAT(bad_dataset.status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--model")));
}

TEST_F(RunFlagsTest, OutputMayNotNameAVersion) {
  std::vector<std::string> args = Base();
  args[7] = "results/y@3";
  EXPECT_THAT(ParseRunFlags(args).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--output 'results/y@3'")));
}

// A model without inputs takes no --input; the job checks the count.
TEST_F(RunFlagsTest, InputIsOptional) {
  std::vector<std::string> args = Base();
  for (size_t i = 0; i < args.size(); i += 2) {
    if (args[i] == "--input") {
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
      break;
    }
  }
  ASSERT_OK_AND_ASSIGN(RunFlags f, ParseRunFlags(args));
  EXPECT_TRUE(f.inputs.empty());
}

TEST_F(RunFlagsTest, RequiredFlags) {
  for (const char* flag : {"--broker", "--model", "--output", "--attester"}) {
    std::vector<std::string> args = Base();
    for (size_t i = 0; i < args.size(); i += 2) {
      if (args[i] == flag) {
        args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
        break;
      }
    }
    EXPECT_THAT(ParseRunFlags(args).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(flag)))
        << flag;
  }
}

TEST_F(RunFlagsTest, RefusesBadValues) {
  struct Case {
    std::vector<std::string> extra;
    std::string names;
  };
  const std::vector<Case> cases = {
      {{"--threads", "0"}, "--threads '0'"},
      {{"--threads", "x"}, "--threads 'x'"},
      {{"--batch", "0"}, "--batch '0'"},
      {{"--batch", "-2"}, "--batch '-2'"},
      {{"--device", "tpu"}, "--device 'tpu'"},
      {{"--kem", "rsa"}, "--kem 'rsa'"},
      {{"--log-level", "loud"}, "--log-level 'loud'"},
      {{"--pcrs", "sha256:99"}, "--pcrs"},
      {{"--tpm-ak", "nope"}, "--tpm-ak 'nope'"},
      {{"--tpm-ak", "ek-child"}, "--tpm-ak-public"},
      {{"--tpm-ak", "ek-child", "--tpm-ak-public", "a", "--tpm-ak-private", "b", "--tpm-ek", "dsa"},
       "--tpm-ek 'dsa'"},
      {{"--model", "models/other"}, "--model is given 2 times"},
      {{"--server", "h:2"}, "--broker and --server"},
      {{"--frobnicate", "1"}, "unknown flag --frobnicate"},
      {{"stray"}, "unexpected argument 'stray'"},
      {{"--threads"}, "--threads needs a value"},
      {{"--ca", ""}, "--ca: empty value"},
      // Every flag: an empty value (an unset variable) is not the default.
      {{"--tcti", ""}, "--tcti: empty value"},
      {{"--output", ""}, "--output: empty value"},
      // A handle as the CLI takes it: one 0x and hex digits only.
      {{"--tpm-ak", "0x0x81000100"}, "--tpm-ak '0x0x81000100'"},
      {{"--tpm-ak", "0x+81000100"}, "--tpm-ak '0x+81000100'"},
      {{"--tpm-ak", "0x81000100 "}, "--tpm-ak '0x81000100 '"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ParseRunFlags(With(Base(), c.extra)).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.names)))
        << c.extra[0];
  }
}

// An output over the model or an input (or NAME/output_<i> over one) would
// make the next run without @V take this run's output as its model or input.
TEST_F(RunFlagsTest, OutputMayNotBeTheModelOrAnInput) {
  std::vector<std::string> args = Base();
  ASSERT_EQ(args[6], "--output");
  args[7] = "models/mnist.onnx";
  EXPECT_THAT(ParseRunFlags(args).status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     HasSubstr("would store over the model")));
  args[7] = "inputs/x.pb";
  EXPECT_THAT(ParseRunFlags(args).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("would store over --input inputs/x.pb")));
  args = Base();
  args[5] = "inputs/run/output_1";
  args[7] = "inputs/run";
  EXPECT_THAT(ParseRunFlags(args).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("would store over --input inputs/run/output_1")));
  args[7] = "results/run";  // another dataset
  EXPECT_OK(ParseRunFlags(args).status());
  args[7] = "inputs/x";  // a prefix of the input's name, not one it overwrites
  args[5] = "inputs/x.pb";
  EXPECT_OK(ParseRunFlags(args).status());
}

TEST_F(RunFlagsTest, AttesterKinds) {
  std::vector<std::string> args = Base();
  args[9] = "dev";
  EXPECT_THAT(ParseRunFlags(args).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--dev-key")));
  ASSERT_OK_AND_ASSIGN(
      RunFlags dev,
      ParseRunFlags(With(args, {"--dev-key", "k.pem", "--measurement", "abcd", "--svn", "3",
                                "--dev-claim", "a=1", "--dev-claim", "b=x=y", "--dev-debug"})));
  EXPECT_EQ(dev.attester.kind, AttesterKind::kDev);
  EXPECT_EQ(dev.attester.dev_key_file, "k.pem");
  EXPECT_EQ(dev.attester.measurement, (Bytes{0xab, 0xcd}));
  EXPECT_EQ(dev.attester.svn, 3);
  // The CLI's range: a 32-bit SVN.
  EXPECT_THAT(ParseRunFlags(With(args, {"--dev-key", "k.pem", "--measurement", "abcd", "--svn",
                                        "4294967296"}))
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--svn '4294967296'")));
  EXPECT_TRUE(dev.attester.dev_debug);
  EXPECT_EQ(dev.attester.dev_claims.at("b"), "x=y");
  EXPECT_THAT(ParseRunFlags(With(args, {"--dev-key", "k", "--measurement", "ab", "--dev-claim",
                                        "a=1", "--dev-claim", "a=2"}))
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("given twice")));

  args[9] = "snp";
  ASSERT_OK_AND_ASSIGN(
      RunFlags snp, ParseRunFlags(With(args, {"--snp-device", "sev-guest", "--privlevel", "2"})));
  EXPECT_EQ(snp.attester.kind, AttesterKind::kSnp);
  EXPECT_TRUE(snp.attester.snp_sev_guest);
  EXPECT_EQ(snp.attester.privlevel, 2u);
  EXPECT_THAT(ParseRunFlags(With(args, {"--privlevel", "4"})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--privlevel '4'")));
  // The SNP device's own flags: /dev/sev-guest's path only with sev-guest,
  // the configfs-tsm folder only with configfs (the default).
  EXPECT_THAT(ParseRunFlags(With(args, {"--sev-guest", "/dev/x"})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--sev-guest: only with --attester snp --snp-device sev-guest")));
  EXPECT_THAT(ParseRunFlags(With(args, {"--snp-device", "sev-guest", "--tsm-dir", "/t"})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tsm-dir: only with")));
  args[9] = "tdx";
  ASSERT_OK_AND_ASSIGN(RunFlags tdx, ParseRunFlags(With(args, {"--tsm-dir", "/tmp/tsm"})));
  EXPECT_EQ(tdx.attester.kind, AttesterKind::kTdx);
  EXPECT_EQ(tdx.attester.tsm_dir, "/tmp/tsm");
  EXPECT_THAT(ParseRunFlags(With(args, {"--snp-device", "sev-guest"})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--attester snp")));
  // Another attester's flag is refused, not ignored.
  EXPECT_THAT(ParseRunFlags(With(args, {"--dev-key", "k.pem"})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--dev-key: only with --attester dev")));
  // TDX has no privilege level (TsmAttester refuses one), and no /dev/sev-guest.
  EXPECT_THAT(ParseRunFlags(With(args, {"--privlevel", "1"})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--privlevel: only with --attester snp")));
  args[9] = "tpm";
  EXPECT_THAT(ParseRunFlags(With(args, {"--privlevel", "2"})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--privlevel: only with --attester snp")));
  // The AK files and the EK kind are for an EK-child AK only; with another AK
  // source they were ignored.
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--tpm-ak-public", "a", "--tpm-ak-private", "b"},
        std::vector<std::string>{"--tpm-ek", "rsa"},
        std::vector<std::string>{"--tpm-ak", "owner", "--tpm-ek", "rsa"}}) {
    EXPECT_THAT(ParseRunFlags(With(args, extra)).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tpm-ak ek-child")))
        << extra[0];
  }
  ASSERT_OK_AND_ASSIGN(RunFlags ek_child,
                       ParseRunFlags(With(args, {"--tpm-ak", "ek-child", "--tpm-ak-public", "a",
                                                 "--tpm-ak-private", "b", "--tpm-ek", "rsa"})));
  EXPECT_EQ(ek_child.attester.tpm.ek_kind, client::TpmEkKind::kRsa);
  args[9] = "dev";
  EXPECT_THAT(
      ParseRunFlags(With(args, {"--dev-key", "k", "--measurement", "ab", "--tpm-ak", "bogus"}))
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("--tpm-ak: only with --attester tpm")));
  EXPECT_THAT(ParseRunFlags(With(args, {"--dev-key", "k", "--measurement", "xyz"})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--measurement 'xyz'")));
  args[9] = "sgx";
  EXPECT_THAT(ParseRunFlags(args).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--attester 'sgx'")));
}

// The connection comes from the CLI's sources: flags, then the environment,
// then the config file (relative paths resolved against its directory).
TEST_F(RunFlagsTest, ConnectionFromEnvironmentAndConfigFile) {
  const std::vector<std::string> base = Base();
  const std::vector<std::string> no_broker(base.begin() + 2, base.end());
  EXPECT_THAT(ParseRunFlags(no_broker).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--broker is required")));

  setenv("STRONGROOM_SERVER", "envhost:9", 1);
  ASSERT_OK_AND_ASSIGN(RunFlags env, ParseRunFlags(no_broker));
  EXPECT_EQ(env.connection.address, "envhost:9");
  ASSERT_OK_AND_ASSIGN(RunFlags flag_wins, ParseRunFlags(Base()));
  EXPECT_EQ(flag_wins.connection.address, "127.0.0.1:7000");
  unsetenv("STRONGROOM_SERVER");

  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "run_flags_config";
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir / "worker.yaml");
    f << "server: cfghost:1\nca: pki/ca.crt\ncert: /abs/w.crt\nkey: w.key\n";
  }
  ASSERT_OK_AND_ASSIGN(
      RunFlags cfg, ParseRunFlags(With(no_broker, {"--config", (dir / "worker.yaml").string()})));
  EXPECT_EQ(cfg.connection.address, "cfghost:1");
  EXPECT_EQ(cfg.connection.ca_file, (std::filesystem::absolute(dir) / "pki/ca.crt").string());
  EXPECT_EQ(cfg.connection.cert_file, "/abs/w.crt");
  ASSERT_OK_AND_ASSIGN(RunFlags both,
                       ParseRunFlags(With(Base(), {"--config", (dir / "worker.yaml").string()})));
  EXPECT_EQ(both.connection.address, "127.0.0.1:7000");
  {
    std::ofstream f(dir / "bad.yaml");
    f << "server: h:1\nbogus: 1\n";
  }
  EXPECT_FALSE(ParseRunFlags(With(Base(), {"--config", (dir / "bad.yaml").string()})).ok());
}

TEST_F(RunFlagsTest, HelpShortCircuits) {
  ASSERT_OK_AND_ASSIGN(RunFlags f, ParseRunFlags({"--help"}));
  EXPECT_TRUE(f.help);
}

TEST(ObjectFlagTest, ParsesAndFormats) {
  ASSERT_OK_AND_ASSIGN(ObjectRef r, ParseObjectFlag("model", "ds-1/a/b_c.onnx@12"));
  EXPECT_EQ(r.dataset, "ds-1");
  EXPECT_EQ(r.name, "a/b_c.onnx");
  EXPECT_EQ(r.version, 12u);
  EXPECT_EQ(FormatObjectRef(r), "ds-1/a/b_c.onnx@12");
  EXPECT_THAT(ParseObjectFlag("output", "ds/x@1", /*allow_version=*/false).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--output")));
  for (const char* bad :
       {"", "ds", "ds/", "/x", "ds/x/", "ds/a//b", "ds/x@", "ds/x@-1", "ds/x y", "DS/x"}) {
    EXPECT_THAT(ParseObjectFlag("input", bad).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--input")))
        << "'" << bad << "'";
  }
}

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 31 + (i >> 8));
  return v;
}

TEST(SecretBytesSinkTest, CollectsAcrossGrowth) {
  SecretBytesSink sink("--model ds/m");
  std::vector<uint8_t> all;
  for (size_t chunk : {1u, 4095u, 1u, 10000u, 0u, 70000u, 3u}) {
    std::vector<uint8_t> part = Pattern(chunk, static_cast<uint8_t>(chunk));
    ASSERT_OK(sink.Append(part));
    all.insert(all.end(), part.begin(), part.end());
  }
  EXPECT_EQ(sink.size(), all.size());
  SecretBytes got = sink.Take();
  ASSERT_EQ(got.size(), all.size());
  EXPECT_TRUE(std::equal(all.begin(), all.end(), got.Reveal().begin()));
  EXPECT_EQ(sink.size(), 0u);
  EXPECT_EQ(sink.Take().size(), 0u);
}

TEST(SecretBytesSinkTest, ReserveThenFillAndEmpty) {
  SecretBytesSink sink("x");
  ASSERT_OK(sink.Reserve(100000));
  const std::vector<uint8_t> data = Pattern(100000, 7);
  ASSERT_OK(sink.Append(std::span<const uint8_t>(data).first(60000)));
  ASSERT_OK(sink.Append(std::span<const uint8_t>(data).subspan(60000)));
  SecretBytes got = sink.Take();
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), got.Reveal().begin()));

  SecretBytesSink empty("e");
  EXPECT_EQ(empty.Take().size(), 0u);
}

// A declared size over the limit stops the stream it was declared for: the
// next Append or Lend fails with the same error, so the download ends at its
// next segment instead of filling the sink up to the limit first.
TEST(SecretBytesSinkTest, AnOversizedDeclarationRefusesTheRestOfTheStream) {
  SecretBytesSink sink("--model ds/big", /*max_bytes=*/10000);
  EXPECT_THAT(sink.Reserve(20000), StatusIs(absl::StatusCode::kResourceExhausted,
                                            HasSubstr("--model ds/big: more than 10000 bytes")));
  EXPECT_THAT(sink.Append(Pattern(100, 1)),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("20000 declared")));
  EXPECT_THAT(sink.Lend(100).status(), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(sink.size(), 0u);
}

TEST(SecretBytesSinkTest, RefusesPastTheLimitNamingTheObject) {
  SecretBytesSink sink("--input ds/big", /*max_bytes=*/10000);
  ASSERT_OK(sink.Append(Pattern(6000, 1)));
  EXPECT_THAT(sink.Append(Pattern(6000, 2)),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("--input ds/big")));
  // (A declared size over the limit stops its sink for good:
  // AnOversizedDeclarationRefusesTheRestOfTheStream.)
  SecretBytesSink declared("--input ds/big", /*max_bytes=*/10000);
  EXPECT_THAT(declared.Reserve(10001), StatusIs(absl::StatusCode::kResourceExhausted));
  // A declared size beyond the machine's memory is refused, not attempted
  // (a locked mapping that size would abort the worker).
  const uint64_t memory =
      static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  SecretBytesSink huge("--model ds/huge", /*max_bytes=*/memory * 2);
  EXPECT_THAT(huge.Reserve(memory + 4096),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("--model ds/huge: " + std::to_string(memory + 4096) +
                                 " bytes is more than this machine's")));
  ASSERT_OK(sink.Append(Pattern(4000, 3)));  // exactly up to the limit
  EXPECT_EQ(sink.size(), 10000u);
}

// MemAvailable from /proc/meminfo, in bytes (0 when unreadable).
uint64_t MemInfo(const std::string& field) {
  std::ifstream meminfo("/proc/meminfo");
  std::string name, unit;
  uint64_t kib = 0;
  while (meminfo >> name >> kib >> unit) {
    if (name == field + ":") return kib * 1024;
  }
  return 0;
}

// The worker locks all its memory, so a declared size the machine has but
// cannot give now (between MemAvailable and MemTotal) is refused before a
// mapping is made, and the refusal stops the rest of the stream as one over
// the limit does.
TEST(SecretBytesSinkTest, ADeclarationPastTheMemoryAvailableNowRefusesTheStream) {
  const uint64_t total = MemInfo("MemTotal"), available = MemInfo("MemAvailable");
  if (available == 0 || total < available + (uint64_t{256} << 20)) {
    GTEST_SKIP() << "MemAvailable " << available << " too close to MemTotal " << total;
  }
  const uint64_t declared = available + (total - available) / 2;
  SecretBytesSink sink("--input ds/big", /*max_bytes=*/total * 2);
  EXPECT_THAT(sink.Reserve(declared),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("--input ds/big: " + std::to_string(declared) +
                                 " bytes is more than the ")));
  EXPECT_THAT(sink.Append(Pattern(100, 1)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("bytes of memory available now (the size declared for it)")));
  EXPECT_THAT(sink.Lend(100).status(), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(sink.size(), 0u);
}

TEST(SecretBytesSinkTest, LendsItsBufferForCommittedWrites) {
  SecretBytesSink sink("--model ds/m", /*max_bytes=*/20000);
  EXPECT_THAT(sink.Commit(1), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK(sink.Append(Pattern(100, 1)));
  const std::vector<uint8_t> part = Pattern(9000, 2);
  ASSERT_OK_AND_ASSIGN(std::span<uint8_t> room, sink.Lend(part.size()));  // grows
  ASSERT_EQ(room.size(), part.size());
  std::copy(part.begin(), part.end(), room.begin());
  EXPECT_EQ(sink.size(), 100u);  // not contents before Commit
  EXPECT_THAT(sink.Commit(part.size() + 1), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK(sink.Commit(part.size()));
  EXPECT_THAT(sink.Commit(1), StatusIs(absl::StatusCode::kFailedPrecondition));  // once
  // A loan not committed is overwritten by what comes next.
  ASSERT_OK(sink.Lend(50).status());
  ASSERT_OK(sink.Append(Pattern(10, 3)));
  EXPECT_THAT(sink.Commit(1), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(sink.Lend(20000), StatusIs(absl::StatusCode::kResourceExhausted,
                                         HasSubstr("--model ds/m")));
  std::vector<uint8_t> want = Pattern(100, 1);
  want.insert(want.end(), part.begin(), part.end());
  const std::vector<uint8_t> tail = Pattern(10, 3);
  want.insert(want.end(), tail.begin(), tail.end());
  SecretBytes got = sink.Take();
  ASSERT_EQ(got.size(), want.size());
  EXPECT_TRUE(std::equal(want.begin(), want.end(), got.Reveal().begin()));
}

TEST(SecretBytesSourceTest, ReadsEverythingThenZero) {
  const std::vector<uint8_t> data = Pattern(5000, 9);
  SecretBytes secret = SecretBytes::CopyFrom(data);
  SecretBytesSource source(secret.Reveal());
  std::vector<uint8_t> got, buf(1024);
  for (;;) {
    ASSERT_OK_AND_ASSIGN(size_t n, source.Read(buf));
    if (n == 0) break;
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(n));
  }
  EXPECT_EQ(got, data);
  ASSERT_OK_AND_ASSIGN(size_t again, source.Read(buf));
  EXPECT_EQ(again, 0u);
}

}  // namespace
}  // namespace strongroom::worker
