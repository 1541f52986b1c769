// RunInferenceJob over an in-memory store: mnist-8 from the shared vectors
// end to end, the attest-first order (a refused worker fetches and stores
// nothing), output naming, --batch, usage errors and step names.
#include "worker/inference_job.h"

#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/onnx_test_util.h"
#include "worker/onnx/compare.h"

namespace strongroom::worker {
namespace {

using onnx::Tensor;
using onnx::testing::ReadFile;
using onnx::testing::VectorPath;
using ::strongroom::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Objects by "ds/name" (latest only); datasets in `refuse` fail Attest as
// the broker does; every call is recorded.
class FakeStore final : public JobObjectStore {
 public:
  absl::Status Attest(absl::string_view dataset) override {
    calls.push_back(absl::StrCat("attest ", dataset));
    if (refuse.count(std::string(dataset)) > 0) {
      return absl::PermissionDeniedError("refused: policy_denied (audit 7)");
    }
    attested.insert(std::string(dataset));
    return absl::OkStatus();
  }
  absl::StatusOr<strongroom::v1::ObjectInfo> Get(
      const ObjectRef& ref, storage::ByteSink& out,
      const std::function<void(uint64_t)>& on_size) override {
    calls.push_back(absl::StrCat("get ", FormatObjectRef(ref)));
    if (attested.count(ref.dataset) == 0) return absl::PermissionDeniedError("no token");
    auto it = objects.find(absl::StrCat(ref.dataset, "/", ref.name));
    if (it == objects.end()) return absl::NotFoundError(absl::StrCat("GetObject: no ", ref.name));
    auto declared = declared_size.find(absl::StrCat(ref.dataset, "/", ref.name));
    on_size(declared != declared_size.end() ? declared->second : it->second.size());
    // In two parts, like segments.
    const std::string& d = it->second;
    RETURN_IF_ERROR(out.Append(AsSpan(d).first(d.size() / 2)));
    RETURN_IF_ERROR(out.Append(AsSpan(d).subspan(d.size() / 2)));
    strongroom::v1::ObjectInfo info;
    info.set_dataset(ref.dataset);
    info.set_name(ref.name);
    info.set_version(3);
    info.set_size(d.size());
    return info;
  }
  absl::StatusOr<Staged> Stage(const ObjectRef& ref, const std::map<std::string, std::string>& l,
                               uint64_t size, storage::ByteSource& in) override {
    calls.push_back(absl::StrCat("stage ", FormatObjectRef(ref)));
    if (attested.count(ref.dataset) == 0) return absl::PermissionDeniedError("no token");
    if (fail_put.count(ref.name) > 0) {
      return absl::ResourceExhaustedError("quota of 100 bytes reached");
    }
    const std::string key = absl::StrCat(ref.dataset, "/", ref.name);
    ASSIGN_OR_RETURN(std::string data, ReadAll(in));
    EXPECT_EQ(data.size(), size);
    Staged s;
    s.upload_id = absl::StrCat("upload-", staged_data.size());
    s.info.set_dataset(ref.dataset);
    s.info.set_name(ref.name);
    s.info.set_version(versions[key] + 1);
    s.info.set_size(data.size());
    staged_data[s.upload_id] = {key, data, l};
    return s;
  }
  absl::StatusOr<std::vector<strongroom::v1::ObjectInfo>> CommitStaged(
      absl::string_view dataset, const std::vector<Staged>& staged) override {
    calls.push_back(absl::StrCat("commit ", dataset, " ", staged.size()));
    if (fail_commit) return absl::Status(fail_commit_code, "the store went away");
    std::vector<strongroom::v1::ObjectInfo> out;
    for (const Staged& s : staged) {
      const auto& [key, data, l] = staged_data.at(s.upload_id);
      objects[key] = data;
      labels[key] = l;
      strongroom::v1::ObjectInfo info = s.info;
      info.set_version(++versions[key]);
      out.push_back(info);
    }
    return out;
  }
  absl::Status DiscardStaged(absl::string_view dataset,
                             const std::vector<Staged>& staged) override {
    calls.push_back(absl::StrCat("discard ", dataset, " ", staged.size()));
    for (const Staged& s : staged) staged_data.erase(s.upload_id);
    return absl::OkStatus();
  }
  static absl::StatusOr<std::string> ReadAll(storage::ByteSource& in) {
    std::string data;
    uint8_t buf[1000];
    for (;;) {
      auto n = in.Read(buf);
      if (!n.ok()) return n.status();
      if (*n == 0) return data;
      data.append(reinterpret_cast<const char*>(buf), *n);
    }
  }
  absl::StatusOr<strongroom::v1::ObjectInfo> Put(const ObjectRef& ref,
                                                 const std::map<std::string, std::string>& l,
                                                 uint64_t size, storage::ByteSource& in) override {
    calls.push_back(absl::StrCat("put ", FormatObjectRef(ref)));
    if (attested.count(ref.dataset) == 0) return absl::PermissionDeniedError("no token");
    if (fail_put.count(ref.name) > 0) {
      return absl::ResourceExhaustedError("quota of 100 bytes reached");
    }
    if (put_answer_lost) return absl::UnavailableError("connection reset");
    std::string data;
    uint8_t buf[1000];
    for (;;) {
      auto n = in.Read(buf);
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      data.append(reinterpret_cast<const char*>(buf), *n);
    }
    EXPECT_EQ(data.size(), size);
    const std::string key = absl::StrCat(ref.dataset, "/", ref.name);
    objects[key] = data;
    labels[key] = l;
    strongroom::v1::ObjectInfo info;
    info.set_version(++versions[key]);
    info.set_size(data.size());
    return info;
  }

  static std::span<const uint8_t> AsSpan(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }
  std::map<std::string, std::string> objects;
  std::map<std::string, std::map<std::string, std::string>> labels;
  std::map<std::string, uint64_t> versions;
  std::set<std::string> refuse, attested;
  std::set<std::string> fail_put;  // object names whose Put or Stage fails
  bool put_answer_lost = false;    // Put fails as when its answer does not arrive
  bool fail_commit = false;        // CommitStaged fails
  absl::StatusCode fail_commit_code = absl::StatusCode::kUnavailable;
  // Staged uploads by id: (ds/name, data, labels).
  std::map<std::string, std::tuple<std::string, std::string, std::map<std::string, std::string>>>
      staged_data;
  // "ds/name" -> the size Get declares (on_size) instead of the true one.
  std::map<std::string, uint64_t> declared_size;
  std::vector<std::string> calls;
};

ObjectRef Ref(const std::string& dataset, const std::string& name) {
  ObjectRef r;
  r.dataset = dataset;
  r.name = name;
  return r;
}

class InferenceJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = SetLogSink([this](absl::string_view line) { log_.push_back(std::string(line)); });
    ASSERT_OK_AND_ASSIGN(store_.objects["models/mnist-8.onnx"],
                         ReadFile(VectorPath("onnx-models/mnist-8/model.onnx")));
    ASSERT_OK_AND_ASSIGN(store_.objects["inputs/digit.pb"],
                         ReadFile(VectorPath("onnx-models/mnist-8/test_data_set_0/input_0.pb")));
    spec_.model = Ref("models", "mnist-8.onnx");
    spec_.inputs = {Ref("inputs", "digit.pb")};
    spec_.output = Ref("results", "digit");
    spec_.session.threads = 1;
  }
  void TearDown() override { SetLogSink(previous_); }

  std::string Log() const {
    std::string all;
    for (const std::string& l : log_) absl::StrAppend(&all, l, "\n");
    return all;
  }

  // Model "models/two" (Relu and Identity of x, two outputs; x's batch
  // dimension `batch`) on one row, inputs/row.pb = [-1, 2, -3].
  void UseTwoOutputModel(int64_t batch) {
    onnx::testing::GraphBuilder g(13);
    g.Input("x", onnx::DataType::kFloat, {batch, 3});
    g.Node("Relu", {"x"}, {"r"});
    g.Node("Identity", {"x"}, {"n"});
    g.Output("r", onnx::DataType::kFloat).Output("n", onnx::DataType::kFloat);
    store_.objects["models/two"] = g.Serialize();
    store_.objects["inputs/row.pb"] =
        onnx::testing::Floats({1, 3}, {-1.f, 2.f, -3.f}).SerializeAsTensorProto("x");
    spec_.model = Ref("models", "two");
    spec_.inputs = {Ref("inputs", "row.pb")};
  }

  FakeStore store_;
  JobSpec spec_;
  std::vector<std::string> log_;
  LogSink previous_;
};

TEST_F(InferenceJobTest, Mnist8EndToEnd) {
  ASSERT_OK_AND_ASSIGN(JobResult r, RunInferenceJob(spec_, store_));
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(FormatObjectRef(r.outputs[0].object), "results/digit@1");
  // Every dataset is attested before any object moves.
  EXPECT_THAT(store_.calls,
              ElementsAre("attest models", "attest inputs", "attest results",
                          "get models/mnist-8.onnx", "get inputs/digit.pb", "put results/digit"));
  ASSERT_OK_AND_ASSIGN(
      Tensor got,
      Tensor::FromTensorProto(FakeStore::AsSpan(store_.objects["results/digit"]), "stored output"));
  ASSERT_OK_AND_ASSIGN(
      Tensor want,
      onnx::testing::ReadTensorFile(VectorPath("onnx-models/mnist-8/test_data_set_0/output_0.pb")));
  const onnx::Comparison c =
      onnx::CompareTensors(got, want, onnx::kDefaultRtol, onnx::kDefaultAtol);
  EXPECT_TRUE(c.match) << c.detail;
  EXPECT_EQ(store_.labels["results/digit"].at("strongroom.worker.model"), "models/mnist-8.onnx@3");
  EXPECT_EQ(store_.labels["results/digit"].at("strongroom.worker.output"), "0");

  // One log line per step, with a duration.
  const std::string log = Log();
  for (const char* event : {"worker.attest", "worker.get", "worker.load", "worker.parse",
                            "worker.infer", "worker.serialize", "worker.put", "worker.done"}) {
    EXPECT_THAT(log, HasSubstr(absl::StrCat("\"event\":\"", event, "\""))) << event;
  }
  for (const std::string& line : log_) EXPECT_THAT(line, HasSubstr("ms\":")) << line;
  // The graph's output name is model content: it is not logged.
  EXPECT_THAT(log, Not(HasSubstr("Plus214_Output_0")));
}

TEST_F(InferenceJobTest, RefusedWorkerFetchesAndStoresNothing) {
  store_.refuse = {"inputs"};
  JobError error;
  auto r = RunInferenceJob(spec_, store_, &error);
  EXPECT_THAT(r.status(), StatusIs(absl::StatusCode::kPermissionDenied,
                                   HasSubstr("attest datasets/inputs: refused: policy_denied")));
  EXPECT_EQ(error.step, "attest datasets/inputs");
  EXPECT_FALSE(error.usage);
  EXPECT_THAT(store_.calls, ElementsAre("attest models", "attest inputs"));
  EXPECT_EQ(store_.objects.count("results/digit"), 0u);
  EXPECT_THAT(Log(), HasSubstr("worker.failed"));
}

TEST_F(InferenceJobTest, StepsAreNamedInErrors) {
  JobError error;
  spec_.inputs = {Ref("inputs", "missing.pb")};
  EXPECT_THAT(RunInferenceJob(spec_, store_, &error).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("input 0 inputs/missing.pb: ")));
  EXPECT_FALSE(error.usage);

  store_.objects["models/garbage"] = "not a model";
  spec_.model = Ref("models", "garbage");
  EXPECT_THAT(RunInferenceJob(spec_, store_, &error).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("load models/garbage: ")));
  EXPECT_FALSE(error.usage);

  spec_.model = Ref("models", "mnist-8.onnx");
  store_.objects["inputs/bad.pb"] = "\xff\xff";
  spec_.inputs = {Ref("inputs", "bad.pb")};
  EXPECT_THAT(RunInferenceJob(spec_, store_, &error).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("input 0 inputs/bad.pb: ")));
  EXPECT_EQ(store_.objects.count("results/digit"), 0u);
}

// A model or input larger than protobuf can parse (INT_MAX bytes) is refused
// on its declared size, before a buffer for it is made.
TEST_F(InferenceJobTest, AnObjectTooLargeToParseIsRefusedBeforeItsBufferIsMade) {
  store_.declared_size["models/mnist-8.onnx"] = uint64_t{1} << 40;
  JobError error;
  EXPECT_THAT(RunInferenceJob(spec_, store_, &error).status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("model models/mnist-8.onnx: more than 2147483647 bytes")));
  EXPECT_EQ(store_.objects.count("results/digit"), 0u);
}

// A model whose outputs come from its initializers alone runs with no
// input; one that takes an input and gets none is a usage error.
TEST_F(InferenceJobTest, AModelWithoutInputsRunsWithNone) {
  onnx::testing::GraphBuilder g(13);
  g.Initializer("a", onnx::testing::Floats({2}, {1.5f, -2.f}));
  g.Initializer("b", onnx::testing::Floats({2}, {0.5f, 4.f}));
  g.Node("Add", {"a", "b"}, {"y"});
  g.Output("y", onnx::DataType::kFloat);
  store_.objects["models/constant"] = g.Serialize();
  spec_.model = Ref("models", "constant");
  spec_.inputs.clear();
  ASSERT_OK_AND_ASSIGN(JobResult r, RunInferenceJob(spec_, store_));
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_THAT(store_.calls, ElementsAre("attest models", "attest results", "get models/constant",
                                        "put results/digit"));
  ASSERT_OK_AND_ASSIGN(
      Tensor y,
      Tensor::FromTensorProto(FakeStore::AsSpan(store_.objects["results/digit"]), "stored output"));
  EXPECT_THAT(y.data<float>(), ElementsAre(2.f, 2.f));

  // Nothing to repeat: --batch is refused, not ignored.
  JobError error;
  spec_.batch = 3;
  store_.objects.erase("results/digit");
  EXPECT_THAT(RunInferenceJob(spec_, store_, &error).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--batch 3: the model takes no inputs to repeat")));
  EXPECT_TRUE(error.usage);
  EXPECT_EQ(store_.objects.count("results/digit"), 0u);
  spec_.batch = 1;

  spec_.model = Ref("models", "mnist-8.onnx");
  EXPECT_THAT(RunInferenceJob(spec_, store_, &error).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("the model takes 1 inputs; 0 --input given")));
  EXPECT_TRUE(error.usage);
}

TEST_F(InferenceJobTest, InputCountAndFixedBatchAreUsageErrors) {
  JobError error;
  spec_.inputs = {Ref("inputs", "digit.pb"), Ref("inputs", "digit.pb")};
  EXPECT_THAT(RunInferenceJob(spec_, store_, &error).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("the model takes 1 inputs; 2 --input given")));
  EXPECT_TRUE(error.usage);

  spec_.inputs = {Ref("inputs", "digit.pb")};
  spec_.batch = 4;  // mnist-8's input is [1,1,28,28]
  EXPECT_THAT(RunInferenceJob(spec_, store_, &error).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("has a fixed batch dimension [1,1,28,28]")));
  EXPECT_TRUE(error.usage);
  EXPECT_EQ(store_.objects.count("results/digit"), 0u);

  // An input of another shape or type than the model's: the caller's mistake
  // too, found before the session is made.
  spec_.batch = 1;
  store_.objects["inputs/half.pb"] =
      onnx::testing::Floats({1, 1, 14, 28}, std::vector<float>(14 * 28, 0.f))
          .SerializeAsTensorProto("Input3");
  spec_.inputs = {Ref("inputs", "half.pb")};
  error = JobError();
  EXPECT_THAT(RunInferenceJob(spec_, store_, &error).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("got FLOAT [1,1,14,28]"), HasSubstr("[1,1,28,28]"))));
  EXPECT_TRUE(error.usage);
  EXPECT_EQ(error.step, "input 0 inputs/half.pb");
  EXPECT_EQ(store_.objects.count("results/digit"), 0u);
}

// A model with a symbolic batch dim and two outputs: --batch repeats the
// input, each output lands in NAME/output_<i>.
TEST_F(InferenceJobTest, BatchAndSeveralOutputs) {
  UseTwoOutputModel(/*batch=*/-1);
  spec_.batch = 3;
  ASSERT_OK_AND_ASSIGN(JobResult r, RunInferenceJob(spec_, store_));
  ASSERT_EQ(r.outputs.size(), 2u);
  EXPECT_EQ(FormatObjectRef(r.outputs[0].object), "results/digit/output_0@1");
  EXPECT_EQ(FormatObjectRef(r.outputs[1].object), "results/digit/output_1@1");
  EXPECT_EQ(r.outputs[1].graph_output, "n");
  ASSERT_OK_AND_ASSIGN(
      Tensor relu,
      Tensor::FromTensorProto(FakeStore::AsSpan(store_.objects["results/digit/output_0"]), "o0"));
  ASSERT_OK_AND_ASSIGN(
      Tensor same,
      Tensor::FromTensorProto(FakeStore::AsSpan(store_.objects["results/digit/output_1"]), "o1"));
  EXPECT_THAT(relu.shape(), ElementsAre(3, 3));
  EXPECT_THAT(relu.data<float>(), ElementsAre(0, 2, 0, 0, 2, 0, 0, 2, 0));
  EXPECT_THAT(same.data<float>(), ElementsAre(-1, 2, -3, -1, 2, -3, -1, 2, -3));
  EXPECT_EQ(store_.labels["results/digit/output_1"].at("strongroom.worker.output"), "1");
  // Both outputs carry the run's id and the count, so a set is told from a mix.
  const std::string job = store_.labels["results/digit/output_0"].at("strongroom.worker.job");
  EXPECT_EQ(job.size(), 24u);
  EXPECT_EQ(store_.labels["results/digit/output_1"].at("strongroom.worker.job"), job);
  EXPECT_EQ(store_.labels["results/digit/output_1"].at("strongroom.worker.outputs"), "2");
  ASSERT_OK(RunInferenceJob(spec_, store_).status());
  EXPECT_NE(store_.labels["results/digit/output_0"].at("strongroom.worker.job"), job);
}

// Several outputs are staged, then committed together: when a later one
// cannot be staged, or the commit fails, no output is stored.
// More outputs than one commit takes: refused before any input is fetched.
TEST_F(InferenceJobTest, MoreOutputsThanOneCommitTakesAreRefusedUpFront) {
  onnx::testing::GraphBuilder g(13);
  g.Input("x", onnx::DataType::kFloat, {1, 3});
  for (int i = 0; i < 33; ++i) {
    g.Node("Identity", {"x"}, {absl::StrCat("o", i)});
    g.Output(absl::StrCat("o", i), onnx::DataType::kFloat);
  }
  store_.objects["models/wide"] = g.Serialize();
  spec_.model = Ref("models", "wide");
  JobError error;
  EXPECT_THAT(RunInferenceJob(spec_, store_, &error).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("33 outputs; at most 32 are stored together")));
  EXPECT_TRUE(error.usage);
  EXPECT_THAT(store_.calls, Not(Contains(HasSubstr("get inputs"))));
}

TEST_F(InferenceJobTest, SeveralOutputsAreStoredTogetherOrNotAtAll) {
  UseTwoOutputModel(/*batch=*/1);
  store_.fail_put = {"digit/output_1"};
  absl::StatusOr<JobResult> r = RunInferenceJob(spec_, store_);
  EXPECT_THAT(r.status(), StatusIs(absl::StatusCode::kResourceExhausted,
                                   AllOf(HasSubstr("output results/digit/output_1"),
                                         HasSubstr("no output was stored"))));
  EXPECT_EQ(store_.objects.count("results/digit/output_0"), 0u);
  EXPECT_EQ(store_.objects.count("results/digit/output_1"), 0u);
  EXPECT_THAT(store_.calls, Not(Contains(HasSubstr("commit"))));
  // The one staged before is dropped.
  EXPECT_THAT(store_.calls, Contains("discard results 1"));
  EXPECT_TRUE(store_.staged_data.empty());
  EXPECT_THAT(store_.calls, Not(Contains(HasSubstr("put "))));

  store_.fail_put.clear();
  store_.fail_commit = true;
  store_.calls.clear();
  r = RunInferenceJob(spec_, store_);
  // The answer did not arrive: the commit may have happened.
  EXPECT_THAT(r.status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("outputs: the store went away"),
                             HasSubstr("all of them or none; which is not known: look "
                                       "for versions labelled strongroom.worker.job="))));
  EXPECT_THAT(store_.calls, Contains("discard results 2"));
  // A refusal: nothing was stored.
  store_.fail_commit_code = absl::StatusCode::kNotFound;
  r = RunInferenceJob(spec_, store_);
  EXPECT_THAT(r.status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("commit together: none was stored")));
  EXPECT_EQ(store_.objects.count("results/digit/output_0"), 0u);
  EXPECT_EQ(store_.objects.count("results/digit/output_1"), 0u);

  store_.fail_commit = false;
  ASSERT_OK_AND_ASSIGN(JobResult ok, RunInferenceJob(spec_, store_));
  EXPECT_THAT(store_.calls, Contains("commit results 2"));
  EXPECT_EQ(FormatObjectRef(ok.outputs[1].object), "results/digit/output_1@1");
  EXPECT_EQ(store_.objects.count("results/digit/output_0"), 1u);
}

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

// NAME/output_<i> must be a valid object name: refused after the model is
// loaded (its output count known), before any input moves or work is done.
// One output: a refused put stored nothing; one whose answer was lost may
// have stored it, and the error says how to find out.
TEST_F(InferenceJobTest, AnOutputWhoseStoreAnswerWasLostSaysItMayBeStored) {
  store_.put_answer_lost = true;
  EXPECT_THAT(RunInferenceJob(spec_, store_).status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("output results/digit: connection reset"),
                             HasSubstr("whether the output was stored is not known: look for a "
                                       "version labelled strongroom.worker.job="))));
  store_.put_answer_lost = false;
  store_.fail_put = {"digit"};
  EXPECT_THAT(RunInferenceJob(spec_, store_).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, Not(HasSubstr("is not known"))));
}

TEST_F(InferenceJobTest, DerivedOutputNamesMustBeValid) {
  UseTwoOutputModel(/*batch=*/-1);
  spec_.output = Ref("results", std::string(1020, 'n'));
  JobError error;
  EXPECT_THAT(RunInferenceJob(spec_, store_, &error).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--output")));
  EXPECT_TRUE(error.usage);
  EXPECT_EQ(error.step, "load");
  for (const std::string& call : store_.calls) EXPECT_THAT(call, Not(HasSubstr("inputs/")));
}

TEST(RepeatAlongBatchTest, RulesForDimZero) {
  const Tensor one = onnx::testing::Floats({1, 2}, {5, 6});
  onnx::ValueInfo free_dim{"x", onnx::DataType::kFloat, true, {-1, 2}, {"N", ""}};
  onnx::ValueInfo fixed{"y", onnx::DataType::kFloat, true, {1, 2}, {}};
  ASSERT_OK_AND_ASSIGN(Tensor same, RepeatAlongBatch(one, fixed, 1, kNoLimit));
  EXPECT_THAT(same.shape(), ElementsAre(1, 2));
  ASSERT_OK_AND_ASSIGN(Tensor two, RepeatAlongBatch(one, free_dim, 2, kNoLimit));
  EXPECT_THAT(two.data<float>(), ElementsAre(5, 6, 5, 6));
  EXPECT_THAT(RepeatAlongBatch(one, fixed, 2, kNoLimit).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("'y'")));
  const Tensor scalar = onnx::testing::Floats({}, {1});
  onnx::ValueInfo no_shape{"s", onnx::DataType::kFloat, false, {}, {}};
  EXPECT_THAT(RepeatAlongBatch(scalar, no_shape, 2, kNoLimit).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // An empty input with a large batch dimension (the largest a tensor may
  // have) and a batch count that would overflow it: refused, not wrapped.
  const Tensor huge = onnx::testing::Floats({int64_t{1} << 38, 0}, {});
  onnx::ValueInfo free_empty{"z", onnx::DataType::kFloat, true, {-1, 0}, {"N", ""}};
  EXPECT_THAT(
      RepeatAlongBatch(huge, free_empty, std::numeric_limits<int>::max(), kNoLimit).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("overflow")));
  ASSERT_OK_AND_ASSIGN(Tensor fits, RepeatAlongBatch(huge, free_empty, 1, kNoLimit));
  EXPECT_EQ(fits.shape()[0], int64_t{1} << 38);
}

// A batch whose tensor the session would refuse is refused before anything
// is allocated (an allocation that fails under mlockall aborts the worker).
TEST(RepeatAlongBatchTest, ABatchOverTheTensorLimitIsRefusedBeforeAllocating) {
  const Tensor one = onnx::testing::Floats({1, 2}, {5, 6});  // 8 bytes
  onnx::ValueInfo free_dim{"x", onnx::DataType::kFloat, true, {-1, 2}, {"N", ""}};
  ASSERT_OK_AND_ASSIGN(Tensor at_limit, RepeatAlongBatch(one, free_dim, 4, 32));
  EXPECT_EQ(at_limit.byte_size(), 32u);
  EXPECT_THAT(RepeatAlongBatch(one, free_dim, 5, 32).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--batch 5"), HasSubstr("more than the 32"))));
}

TEST(OutputObjectTest, Naming) {
  ObjectRef out = Ref("res", "run/7");
  EXPECT_EQ(FormatObjectRef(OutputObject(out, 0, 1)), "res/run/7");
  EXPECT_EQ(FormatObjectRef(OutputObject(out, 2, 3)), "res/run/7/output_2");
}

}  // namespace
}  // namespace strongroom::worker
