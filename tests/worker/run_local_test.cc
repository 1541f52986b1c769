// strongroom-worker run-local, through its command function: exit codes,
// --expect comparison, written outputs.
#include "worker/run_local.h"

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
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
