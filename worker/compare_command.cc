#include "worker/compare_command.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/file.h"
#include "worker/flags.h"
#include "worker/onnx/compare.h"
#include "worker/onnx/tensor.h"
#include "worker/run_local.h"

namespace strongroom::worker {
namespace {

constexpr char kCompareUsage[] =
    "usage: strongroom-worker compare ACTUAL.pb EXPECTED.pb [--rtol R] [--atol A]\n";

int Usage(const std::string& message) {
  std::fprintf(stderr, "strongroom-worker compare: %s\n%s", message.c_str(), kCompareUsage);
  return kExitUsage;
}

absl::StatusOr<onnx::Tensor> ReadTensor(const std::string& path) {
  auto bytes = ReadFileToString(path, path);
  if (!bytes.ok()) return bytes.status();
  return onnx::Tensor::FromTensorProto(AsBytes(*bytes), path);
}

bool ParseTolerance(const ParsedFlags& f, const char* name, double* out) {
  return !f.Has(name) || (absl::SimpleAtod(f.Get(name), out) && *out >= 0);
}

}  // namespace

int CompareCommand(const std::vector<std::string>& args) {
  FlagSpec spec;
  spec.values = {"rtol", "atol"};
  spec.switches = {"help"};
  auto flags = ParseFlags(args, spec, /*allow_positional=*/true);
  if (!flags.ok()) return Usage(std::string(flags.status().message()));
  if (flags->Has("help")) {
    std::printf("%s", kCompareUsage);
    return kExitOk;
  }
  if (flags->positional.size() != 2) return Usage("give ACTUAL.pb and EXPECTED.pb");
  double rtol = onnx::kDefaultRtol, atol = onnx::kDefaultAtol;
  if (!ParseTolerance(*flags, "rtol", &rtol)) {
    return Usage(absl::StrCat("--rtol '", flags->Get("rtol"), "' is not a non-negative number"));
  }
  if (!ParseTolerance(*flags, "atol", &atol)) {
    return Usage(absl::StrCat("--atol '", flags->Get("atol"), "' is not a non-negative number"));
  }
  auto actual = ReadTensor(flags->positional[0]);
  if (!actual.ok()) return Usage(std::string(actual.status().message()));
  auto expected = ReadTensor(flags->positional[1]);
  if (!expected.ok()) return Usage(std::string(expected.status().message()));
  const onnx::Comparison c = onnx::CompareTensors(*actual, *expected, rtol, atol);
  std::printf("%s %s: %s, %s\n", std::string(onnx::DataTypeName(actual->dtype())).c_str(),
              onnx::ShapeToString(actual->shape()).c_str(), c.match ? "matches" : "DIFFERS",
              c.detail.c_str());
  return c.match ? kExitOk : kExitFailed;
}

}  // namespace strongroom::worker
