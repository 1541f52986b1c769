#include "bench/infer_ort.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/status_macros.h"

extern char** environ;

namespace strongroom::bench {
namespace {

using worker::onnx::Tensor;
using Clock = std::chrono::steady_clock;

std::string ErrnoText(int err) { return std::strerror(err); }

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<OrtProcess>> OrtProcess::Start(const std::string& node,
                                                              const std::string& script,
                                                              double timeout_s) {
  const std::filesystem::path script_path(script);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(script_path, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("onnxruntime child script '", script, "' does not exist"));
  }
  const std::filesystem::path package =
      script_path.parent_path() / "node_modules" / "onnxruntime-node" / "package.json";
  if (!std::filesystem::is_regular_file(package, ec)) {
    return absl::FailedPreconditionError(absl::StrCat("onnxruntime-node is not installed ('",
                                                      package.string(),
                                                      "' is missing): run deploy/bench-deps.sh"));
  }
  // A child that dies must surface as a failed write, not kill the bench.
  signal(SIGPIPE, SIG_IGN);

  int in_pipe[2], out_pipe[2];  // [0] read end, [1] write end
  if (pipe2(in_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", ErrnoText(errno)));
  }
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    close(in_pipe[0]);
    close(in_pipe[1]);
    return absl::InternalError(absl::StrCat("pipe2: ", ErrnoText(err)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears O_CLOEXEC on the child's stdin and stdout; every other pipe
  // end closes on exec.
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  std::string node_arg = node, script_arg = script;
  char* argv[] = {node_arg.data(), script_arg.data(), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, node.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in_pipe[0]);
  close(out_pipe[1]);
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    return absl::InternalError(
        absl::StrCat("starting '", node, "' on '", script, "': ", ErrnoText(rc)));
  }
  std::unique_ptr<OrtProcess> p(new OrtProcess(pid, in_pipe[1], out_pipe[0], timeout_s));
  ASSIGN_OR_RETURN(p->hello_, p->Call({{"cmd", "hello"}}));
  return p;
}

OrtProcess::~OrtProcess() {
  CloseFd(to_child_);
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CloseFd(from_child_);
}

absl::Status OrtProcess::WriteLine(const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = write(to_child_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::InternalError(absl::StrCat("write to the child: ", ErrnoText(errno)));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> OrtProcess::ReadLine() {
  const Clock::time_point deadline =
      Clock::now() + std::chrono::microseconds(static_cast<int64_t>(timeout_s_ * 1e6));
  for (;;) {
    const size_t newline = buffered_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return line;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("no answer from the child within ", timeout_s_, " s"));
    }
    pollfd pfd = {from_child_, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return absl::InternalError(absl::StrCat("poll: ", ErrnoText(errno)));
    if (ready == 0) continue;
    char chunk[1 << 16];
    const ssize_t n = read(from_child_, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("read from the child: ", ErrnoText(errno)));
    if (n == 0) return absl::InternalError("the child exited (its stderr is above)");
    buffered_.append(chunk, static_cast<size_t>(n));
  }
}

absl::StatusOr<nlohmann::json> OrtProcess::Call(const nlohmann::json& request) {
  RETURN_IF_ERROR(error_);
  const std::string what = absl::StrCat(
      "onnxruntime child, cmd '", request.value("cmd", ""), "'",
      request.contains("id") ? absl::StrCat(" id '", request.value("id", ""), "'") : std::string());
  auto fail = [&](const absl::Status& s) {
    error_ = absl::InternalError(absl::StrCat(what, ": ", s.message()));
    return error_;
  };
  if (absl::Status s = WriteLine(request.dump() + "\n"); !s.ok()) return fail(s);
  absl::StatusOr<std::string> line = ReadLine();
  if (!line.ok()) return fail(line.status());
  nlohmann::json answer = nlohmann::json::parse(*line, nullptr, /*allow_exceptions=*/false);
  if (!answer.is_object() || !answer.contains("ok")) {
    return fail(absl::InternalError(
        absl::StrCat("answer is not a JSON object with \"ok\" (", line->size(), " bytes)")));
  }
  if (answer["ok"] != true) {
    const std::string message = answer.contains("error") && answer["error"].is_string()
                                    ? answer["error"].get<std::string>()
                                    : std::string("no message");
    return fail(absl::InternalError(message));
  }
  return answer;
}

absl::StatusOr<double> OrtProcess::Load(const std::string& id, const std::string& model_path,
                                        int threads, const std::string& input_name,
                                        const Tensor& input) {
  if (input.dtype() != worker::onnx::DataType::kFloat) {
    return absl::InvalidArgumentError(absl::StrCat("input '", input_name, "': not FLOAT"));
  }
  nlohmann::json request = {
      {"cmd", "load"},
      {"id", id},
      {"model", model_path},
      {"threads", threads},
      {"input",
       {{"name", input_name}, {"dims", input.shape()}, {"data_b64", Base64Encode(input.bytes())}}}};
  ASSIGN_OR_RETURN(nlohmann::json answer, Call(request));
  if (!answer.contains("create_ms") || !answer["create_ms"].is_number()) {
    return absl::InternalError(absl::StrCat("onnxruntime child, load '", id, "': no create_ms"));
  }
  return answer["create_ms"].get<double>();
}

absl::StatusOr<OrtRunBlock> OrtProcess::Run(const std::string& id, int n) {
  ASSIGN_OR_RETURN(nlohmann::json answer, Call({{"cmd", "run"}, {"id", id}, {"n", n}}));
  OrtRunBlock block;
  if (!answer.contains("us") || !answer["us"].is_array() || answer["us"].size() != size_t(n) ||
      !answer.contains("block_us") || !answer["block_us"].is_number()) {
    return absl::InternalError(
        absl::StrCat("onnxruntime child, run '", id, "': expected ", n, " timings and block_us"));
  }
  for (const nlohmann::json& us : answer["us"]) block.run_us.push_back(us.get<double>());
  block.block_us = answer["block_us"].get<double>();
  return block;
}

absl::StatusOr<std::vector<Tensor>> OrtProcess::Outputs(const std::string& id) {
  ASSIGN_OR_RETURN(nlohmann::json answer, Call({{"cmd", "output"}, {"id", id}}));
  std::vector<Tensor> outputs;
  if (!answer.contains("outputs") || !answer["outputs"].is_array()) {
    return absl::InternalError(absl::StrCat("onnxruntime child, output '", id, "': no outputs"));
  }
  for (const nlohmann::json& o : answer["outputs"]) {
    const std::string name = o.value("name", "");
    const std::string field = absl::StrCat("onnxruntime output '", name, "'");
    if (o.value("type", "") != "float32") {
      return absl::UnimplementedError(
          absl::StrCat(field, ": type '", o.value("type", ""), "', only float32 is compared"));
    }
    ASSIGN_OR_RETURN(Bytes data, Base64Decode(o.value("data_b64", ""), field));
    if (data.size() % sizeof(float) != 0) {
      return absl::InternalError(absl::StrCat(field, ": ", data.size(), " bytes of float32"));
    }
    std::vector<float> values(data.size() / sizeof(float));
    std::memcpy(values.data(), data.data(), data.size());
    ASSIGN_OR_RETURN(Tensor t, Tensor::FromFloats(o.value("dims", worker::onnx::Shape{}), values));
    outputs.push_back(std::move(t));
  }
  return outputs;
}

}  // namespace strongroom::bench
