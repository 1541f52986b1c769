// strongroom-worker run-local, through its command function: exit codes,
// --expect comparison, written outputs.
#include "worker/run_local.h"

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "tests/worker/onnx_test_util.h"
#include "worker/onnx/compare.h"

namespace strongroom::worker {
namespace {

using onnx::testing::VectorPath;

std::string Mnist(const std::string& rel) { return VectorPath("onnx-models/mnist-8/" + rel); }

TEST(RunLocalTest, MatchingExpectExitsZeroAndWritesOutputs) {
  const std::string dir = ::testing::TempDir() + "/run_local_out";
  std::filesystem::remove_all(dir);
  EXPECT_EQ(
      RunLocalCommand({"--model", Mnist("model.onnx"), "--input",
                       Mnist("test_data_set_0/input_0.pb"), "--expect",
                       Mnist("test_data_set_0/output_0.pb"), "--output-dir", dir, "--threads=2"}),
      kExitOk);
  ASSERT_OK_AND_ASSIGN(onnx::Tensor written, onnx::testing::ReadTensorFile(dir + "/output_0.pb"));
  ASSERT_OK_AND_ASSIGN(onnx::Tensor expected,
                       onnx::testing::ReadTensorFile(Mnist("test_data_set_0/output_0.pb")));
  EXPECT_TRUE(
      onnx::CompareTensors(written, expected, onnx::kDefaultRtol, onnx::kDefaultAtol).match);
}

// The output folder holds one run's set: a write that fails removes the
// outputs this run wrote before it, and a later run with fewer outputs
// removes the earlier run's extra files.
TEST(RunLocalTest, OutputFolderNeverMixesTwoRuns) {
  const std::string dir = ::testing::TempDir() + "/run_local_set";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  onnx::testing::GraphBuilder g(13);
  g.Input("x", onnx::DataType::kFloat, {1, 3});
  g.Node("Relu", {"x"}, {"r"});
  g.Node("Identity", {"x"}, {"n"});
  g.Output("r", onnx::DataType::kFloat).Output("n", onnx::DataType::kFloat);
  const std::string model = dir + "/two.onnx";
  const std::string input = dir + "/x.pb";
  ASSERT_OK(WriteFileAtomically(model, g.Serialize(), 0600, "model"));
  ASSERT_OK(WriteFileAtomically(
      input, onnx::testing::Floats({1, 3}, {-1.f, 2.f, -3.f}).SerializeAsTensorProto("x"), 0600,
      "input"));
  const std::string out = dir + "/out";
  // output_1.pb cannot be written (a folder with something in it is there).
  std::filesystem::create_directories(out + "/output_1.pb/x");
  EXPECT_EQ(RunLocalCommand({"--model", model, "--input", input, "--output-dir", out}),
            kExitFailed);
  EXPECT_FALSE(std::filesystem::exists(out + "/output_0.pb"));
  std::filesystem::remove_all(out + "/output_1.pb");
  // A stale third output from an earlier run goes; the two are written.
  ASSERT_OK(WriteFileAtomically(out + "/output_2.pb", "old", 0600, "stale"));
  EXPECT_EQ(RunLocalCommand({"--model", model, "--input", input, "--output-dir", out}), kExitOk);
  EXPECT_TRUE(std::filesystem::exists(out + "/output_0.pb"));
  EXPECT_TRUE(std::filesystem::exists(out + "/output_1.pb"));
  EXPECT_FALSE(std::filesystem::exists(out + "/output_2.pb"));
  // Run B fails at its second output after replacing the first of run A's
  // set: nothing of either run stays (A's third output neither), rather
  // than a set that is half A's.
  ASSERT_OK(WriteFileAtomically(out + "/output_2.pb", "run A", 0600, "stale"));
  std::filesystem::remove(out + "/output_1.pb");
  std::filesystem::create_directories(out + "/output_1.pb/x");
  EXPECT_EQ(RunLocalCommand({"--model", model, "--input", input, "--output-dir", out}),
            kExitFailed);
  EXPECT_FALSE(std::filesystem::exists(out + "/output_0.pb"));
  EXPECT_FALSE(std::filesystem::exists(out + "/output_2.pb"));
  EXPECT_TRUE(std::filesystem::exists(out + "/output_1.pb/x"));  // not ours to remove
}

TEST(RunLocalTest, DifferentOutputsExitOne) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunLocalCommand({"--model", Mnist("model.onnx"), "--input",
                             Mnist("test_data_set_0/input_0.pb"), "--expect",
                             Mnist("test_data_set_1/output_0.pb")}),
            kExitFailed);
  // The largest difference is printed, where it is, and how many differ.
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("output 0 'Plus214_Output_0': FLOAT [1,10]: DIFFERS, max |diff| "),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("worst at flat index"), std::string::npos) << out;
  EXPECT_NE(out.find("elements outside rtol 0.001 atol 1e-07"), std::string::npos) << out;
  // A loose enough tolerance accepts the same pair.
  EXPECT_EQ(RunLocalCommand({"--model", Mnist("model.onnx"), "--input",
                             Mnist("test_data_set_0/input_0.pb"), "--expect",
                             Mnist("test_data_set_1/output_0.pb"), "--atol", "1e6"}),
            kExitOk);
}

TEST(RunLocalTest, UsageErrorsAndUnreadableFilesExitTwo) {
  const std::string in = Mnist("test_data_set_0/input_0.pb");
  EXPECT_EQ(RunLocalCommand({"--input", in}), kExitUsage);
  EXPECT_EQ(RunLocalCommand({"--model", Mnist("model.onnx"), "--input", in, "--bogus", "1"}),
            kExitUsage);
  EXPECT_EQ(RunLocalCommand({"--model", Mnist("model.onnx"), "--input", "/nonexistent.pb"}),
            kExitUsage);
  EXPECT_EQ(RunLocalCommand({"--model", "/nonexistent.onnx", "--input", in}), kExitUsage);
  EXPECT_EQ(RunLocalCommand({"--model", in, "--input", in}), kExitUsage);    // not a model
  EXPECT_EQ(RunLocalCommand({"--model", Mnist("model.onnx")}), kExitUsage);  // no input
  EXPECT_EQ(RunLocalCommand({"--model", Mnist("model.onnx"), "--input", in, "--rtol", "x"}),
            kExitUsage);
  EXPECT_EQ(RunLocalCommand({"--model", Mnist("model.onnx"), "--input", in, "--threads", "0"}),
            kExitUsage);
  EXPECT_EQ(RunLocalCommand({"--model", Mnist("model.onnx"), "--input", in, "--device", "tpu"}),
            kExitUsage);
  EXPECT_EQ(RunLocalCommand({"--model", Mnist("model.onnx"), "--input", in, "--fuse", "yes"}),
            kExitUsage);
  for (const char* bad : {"0", "-1", "x", "10001"}) {
    EXPECT_EQ(RunLocalCommand({"--model", Mnist("model.onnx"), "--input", in, "--repeat", bad}),
              kExitUsage)
        << bad;
  }
}

// With --expect, every output is checked: fewer files than outputs is a
// usage error, not a pass on the first output alone.
TEST(RunLocalTest, ExpectGivesOneFilePerOutput) {
  const std::string dir = VectorPath("onnx-node/test_layer_normalization_2d_axis0");
  std::vector<std::string> args = {"--model", dir + "/model.onnx"};
  for (int i = 0; i < 3; ++i) {
    args.insert(args.end(), {"--input", absl::StrCat(dir, "/test_data_set_0/input_", i, ".pb")});
  }
  std::vector<std::string> one = args;
  one.insert(one.end(), {"--expect", dir + "/test_data_set_0/output_0.pb"});
  EXPECT_EQ(RunLocalCommand(one), kExitUsage);
  std::vector<std::string> all = args;
  for (int i = 0; i < 3; ++i) {
    all.insert(all.end(), {"--expect", absl::StrCat(dir, "/test_data_set_0/output_", i, ".pb")});
  }
  EXPECT_EQ(RunLocalCommand(all), kExitOk);
  EXPECT_EQ(RunLocalCommand(args), kExitOk);  // no --expect: ran, nothing compared
}

TEST(RunLocalTest, FuseOffRunsNodeByNode) {
  for (const char* fuse : {"on", "off"}) {
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(RunLocalCommand({"--model", Mnist("model.onnx"), "--input",
                               Mnist("test_data_set_0/input_0.pb"), "--expect",
                               Mnist("test_data_set_0/output_0.pb"), "--fuse", fuse, "--profile"}),
              kExitOk);
    const std::string out = ::testing::internal::GetCapturedStdout();
    // mnist-8's Conv -> Add(bias) -> Relu is one step when fused.
    EXPECT_EQ(out.find("Conv+Add+Relu") != std::string::npos, std::string(fuse) == "on") << out;
  }
}

TEST(RunLocalTest, RepeatRunsAgainAndChecksTheLastRun) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunLocalCommand({"--model", Mnist("model.onnx"), "--input",
                             Mnist("test_data_set_0/input_0.pb"), "--expect",
                             Mnist("test_data_set_0/output_0.pb"), "--repeat", "3", "--profile"}),
            kExitOk);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("runs 2-3: median"), std::string::npos) << out;
  EXPECT_NE(out.find("Conv"), std::string::npos) << out;  // the last run's profile
  EXPECT_NE(out.find("matches"), std::string::npos) << out;
}

TEST(RunLocalTest, UnavailableDeviceExitsOne) {
  if (onnx::CudaBackendBuilt()) GTEST_SKIP() << "a CUDA build may have a device here";
  EXPECT_EQ(RunLocalCommand({"--model", Mnist("model.onnx"), "--input",
                             Mnist("test_data_set_0/input_0.pb"), "--device", "cuda"}),
            kExitFailed);
}

}  // namespace
}  // namespace strongroom::worker
