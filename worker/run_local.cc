#include "worker/run_local.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/file.h"
#include "worker/flags.h"
#include "worker/onnx/compare.h"
#include "worker/onnx/gemm.h"
#include "worker/onnx/model.h"
#include "worker/onnx/session.h"

namespace strongroom::worker {

const char kRunLocalUsage[] =
    "usage: strongroom-worker run-local --model FILE.onnx [--input input_0.pb]...\n"
    "         [--expect output_0.pb]... [--rtol R] [--atol A] [--output-dir DIR]\n"
    "         [--device cpu|cuda] [--threads N] [--repeat N] [--fuse on|off] [--profile]\n";

namespace {

using onnx::Tensor;
using Clock = std::chrono::steady_clock;

int Usage(const std::string& message) {
  std::fprintf(stderr, "strongroom-worker run-local: %s\n%s", message.c_str(), kRunLocalUsage);
  return kExitUsage;
}

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "strongroom-worker run-local: %s\n", message.c_str());
  return code;
}

double Ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

absl::StatusOr<std::vector<Tensor>> ReadTensors(const std::vector<std::string>& paths,
                                                absl::string_view flag) {
  std::vector<Tensor> out;
  for (const std::string& path : paths) {
    auto bytes = ReadFileToString(path, absl::StrCat("--", flag));
    if (!bytes.ok()) return bytes.status();
    auto t = Tensor::FromTensorProto(AsBytes(*bytes), absl::StrCat("--", flag, " ", path));
    if (!t.ok()) return t.status();
    out.push_back(*std::move(t));
  }
  return out;
}

}  // namespace

int RunLocalCommand(const std::vector<std::string>& args) {
  FlagSpec spec;
  spec.values = {"model",      "input",  "expect",  "rtol",   "atol",
                 "output-dir", "device", "threads", "repeat", "fuse"};
  spec.switches = {"help", "profile"};
  auto flags = ParseFlags(args, spec);
  if (!flags.ok()) return Usage(std::string(flags.status().message()));
  if (flags->Has("help")) {
    std::printf("%s", kRunLocalUsage);
    return kExitOk;
  }
  if (!flags->Has("model")) return Usage("--model is required");
  double rtol = onnx::kDefaultRtol, atol = onnx::kDefaultAtol;
  if (flags->Has("rtol") && (!absl::SimpleAtod(flags->Get("rtol"), &rtol) || !(rtol >= 0))) {
    return Usage(absl::StrCat("--rtol '", flags->Get("rtol"), "' is not a non-negative number"));
  }
  if (flags->Has("atol") && (!absl::SimpleAtod(flags->Get("atol"), &atol) || !(atol >= 0))) {
    return Usage(absl::StrCat("--atol '", flags->Get("atol"), "' is not a non-negative number"));
  }
  onnx::SessionOptions options;
  if (flags->Has("threads") && (!absl::SimpleAtoi(flags->Get("threads"), &options.threads) ||
                                options.threads < 1 || options.threads > 1024)) {
    return Usage(absl::StrCat("--threads '", flags->Get("threads"), "' is not in 1..1024"));
  }
  int repeat = 1;
  if (flags->Has("repeat") &&
      (!absl::SimpleAtoi(flags->Get("repeat"), &repeat) || repeat < 1 || repeat > 10000)) {
    return Usage(absl::StrCat("--repeat '", flags->Get("repeat"), "' is not in 1..10000"));
  }
  const std::string fuse = flags->Get("fuse", "on");
  if (fuse != "on" && fuse != "off") return Usage("--fuse '" + fuse + "' is not on or off");
  options.fuse_operators = fuse == "on";
  auto device = onnx::ParseDevice(flags->Get("device", "cpu"));
  if (!device.ok()) return Usage(std::string(device.status().message()));
  options.device = *device;

  const Clock::time_point load_start = Clock::now();
  auto model_bytes = ReadFileToString(flags->Get("model"), "--model");
  if (!model_bytes.ok()) return Fail(kExitUsage, std::string(model_bytes.status().message()));
  auto model = onnx::Model::Load(AsBytes(*model_bytes));
  if (!model.ok()) {
    return Fail(kExitUsage, absl::StrCat(flags->Get("model"), ": ", model.status().message()));
  }
  const double load_ms = Ms(load_start);
  auto inputs = ReadTensors(flags->All("input"), "input");
  if (!inputs.ok()) return Fail(kExitUsage, std::string(inputs.status().message()));
  auto expected = ReadTensors(flags->All("expect"), "expect");
  if (!expected.ok()) return Fail(kExitUsage, std::string(expected.status().message()));
  if (inputs->size() != model->inputs().size()) {
    return Usage(absl::StrCat("the model takes ", model->inputs().size(), " inputs; ",
                              inputs->size(), " --input given"));
  }
  // With --expect, every output is checked: one file per output, or none.
  if (!expected->empty() && expected->size() != model->outputs().size()) {
    return Usage(absl::StrCat("the model has ", model->outputs().size(), " outputs; ",
                              expected->size(),
                              " --expect given (give one per output, in order, or none)"));
  }

  const Clock::time_point create_start = Clock::now();
  auto session = onnx::Session::Create(*model, options);
  if (!session.ok()) return Fail(kExitFailed, std::string(session.status().message()));
  const double create_ms = Ms(create_start);
  // The first run pays one-time costs (a device backend uploads the
  // weights); with --repeat the later runs are timed apart, and the profile
  // and the outputs checked are the last run's.
  onnx::RunProfile profile;
  std::vector<double> run_ms;
  absl::StatusOr<std::vector<Tensor>> outputs;
  for (int r = 0; r < repeat; ++r) {
    const Clock::time_point run_start = Clock::now();
    outputs =
        (*session)->Run(*inputs, flags->Has("profile") && r + 1 == repeat ? &profile : nullptr);
    if (!outputs.ok()) return Fail(kExitFailed, std::string(outputs.status().message()));
    run_ms.push_back(Ms(run_start));
  }
  std::printf(
      "model %s: ir %lld, opset %lld, %zu nodes (%zu folded); device %s, %d threads, "
      "OpenBLAS %s\n",
      flags->Get("model").c_str(), static_cast<long long>(model->ir_version()),
      static_cast<long long>(model->opset()), model->nodes().size(), (*session)->folded_nodes(),
      std::string(onnx::DeviceName(options.device)).c_str(), (*session)->num_threads(),
      onnx::BlasCoreName().c_str());
  std::printf("time: load %.2f ms, session %.2f ms, run %.2f ms", load_ms, create_ms, run_ms[0]);
  if (repeat > 1) {
    std::vector<double> later(run_ms.begin() + 1, run_ms.end());
    std::sort(later.begin(), later.end());
    std::printf("; runs 2-%d: median %.2f ms, min %.2f ms, max %.2f ms", repeat,
                later[later.size() / 2], later.front(), later.back());
  }
  std::printf("\n");
  for (const auto& [op, time] : profile.ByOpType()) {
    std::printf("  %-20s %9.3f ms\n", op.c_str(), absl::ToDoubleMilliseconds(time));
  }

  if (flags->Has("output-dir")) {
    const std::filesystem::path dir = flags->Get("output-dir");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return Fail(kExitUsage, absl::StrCat("--output-dir ", dir.string(), ": ", ec.message()));
    // Whole files, 0600 (outputs are the model's plaintext results), as one
    // set: the folder never mixes two runs. Files of an earlier run with
    // more outputs go; a failed write removes every output file there (this
    // run's, and an earlier run's whose set this run already broke into).
    const auto remove_from = [&](size_t first) {
      std::vector<std::filesystem::path> stale;
      for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        size_t k = 0;
        if (absl::StartsWith(name, "output_") && absl::EndsWith(name, ".pb") &&
            absl::SimpleAtoi(absl::string_view(name).substr(7, name.size() - 10), &k) &&
            name == absl::StrCat("output_", k, ".pb") && k >= first && entry.is_regular_file(ec)) {
          stale.push_back(entry.path());
        }
      }
      for (const auto& path : stale) std::filesystem::remove(path, ec);
    };
    for (size_t i = 0; i < outputs->size(); ++i) {
      const auto path = dir / absl::StrCat("output_", i, ".pb");
      auto s = WriteFileAtomically(path.string(),
                                   (*outputs)[i].SerializeAsTensorProto(model->outputs()[i].name),
                                   0600, "--output-dir");
      if (!s.ok()) {
        remove_from(0);
        return Fail(kExitFailed,
                    absl::StrCat(s.message(), i == 0 ? ""
                                                     : " (the output files already in the "
                                                       "folder were removed)"));
      }
    }
    remove_from(outputs->size());
  }
  bool all_match = true;
  for (size_t i = 0; i < outputs->size(); ++i) {
    const Tensor& out = (*outputs)[i];
    std::string line =
        absl::StrCat("output ", i, " '", model->outputs()[i].name,
                     "': ", onnx::DataTypeName(out.dtype()), " ", onnx::ShapeToString(out.shape()));
    if (i < expected->size()) {
      const onnx::Comparison c = onnx::CompareTensors(out, (*expected)[i], rtol, atol);
      absl::StrAppend(&line, c.match ? ": matches, " : ": DIFFERS, ", c.detail);
      all_match &= c.match;
    }
    std::printf("%s\n", line.c_str());
  }
  return all_match ? kExitOk : kExitFailed;
}

}  // namespace strongroom::worker
