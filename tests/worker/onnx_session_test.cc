// Session: input checks, thread-count invariance, buffer reuse across runs,
// limits, profiles, constant folding, concurrency and device selection.
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/onnx_test_util.h"
#include "worker/onnx/compare.h"
#include "worker/onnx/thread_pool.h"

namespace strongroom::worker::onnx {
namespace {

using ::strongroom::testing::StatusIs;
using testing::GraphBuilder;
using ::testing::HasSubstr;
using testing::Int64s;
using ::testing::Not;
using testing::RandomFloats;
using testing::SetAttr;

struct MnistSet {
  Tensor input, output;
};

class OnnxSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bytes = testing::ReadFile(testing::VectorPath("onnx-models/mnist-8/model.onnx"));
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    auto model = Model::Load(AsBytes(*bytes));
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::make_unique<Model>(*std::move(model));
    for (int i = 0; i < 3; ++i) {
      const std::string dir =
          testing::VectorPath("onnx-models/mnist-8/test_data_set_") + std::to_string(i);
      auto in = testing::ReadTensorFile(dir + "/input_0.pb");
      auto out = testing::ReadTensorFile(dir + "/output_0.pb");
      ASSERT_TRUE(in.ok() && out.ok());
      sets_.push_back({*std::move(in), *std::move(out)});
    }
  }

  std::unique_ptr<Session> NewSession(int threads) {
    SessionOptions options;
    options.threads = threads;
    auto s = Session::Create(*model_, options);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  std::unique_ptr<Model> model_;
  std::vector<MnistSet> sets_;
};

TEST_F(OnnxSessionTest, RepeatedRunsReuseBuffersCorrectly) {
  auto session = NewSession(2);
  ASSERT_NE(session, nullptr);
  for (int round = 0; round < 3; ++round) {
    for (int i : {0, 2, 1}) {
      ASSERT_OK_AND_ASSIGN(auto out, session->Run({sets_[static_cast<size_t>(i)].input}));
      const Comparison c =
          CompareTensors(out[0], sets_[static_cast<size_t>(i)].output, kDefaultRtol, kDefaultAtol);
      EXPECT_TRUE(c.match) << "set " << i << " round " << round << ": " << c.detail;
    }
  }
}

TEST_F(OnnxSessionTest, ThreadCountsAgree) {
  ASSERT_OK_AND_ASSIGN(auto one, NewSession(1)->Run({sets_[0].input}));
  for (int threads : {2, 3, 8}) {
    ASSERT_OK_AND_ASSIGN(auto many, NewSession(threads)->Run({sets_[0].input}));
    const Comparison c = CompareTensors(many[0], one[0], 1e-5, 1e-6);
    EXPECT_TRUE(c.match) << threads << " threads: " << c.detail;
  }
}

TEST_F(OnnxSessionTest, InputsAreChecked) {
  auto session = NewSession(1);
  EXPECT_THAT(session->Run({}), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("the model takes 1 inputs, got 0")));
  EXPECT_THAT(session->Run({RandomFloats({1, 1, 28, 27}, 1)}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("input 0 'Input3': got FLOAT [1,1,28,27], the model wants FLOAT "
                                 "[1,1,28,28]")));
  EXPECT_THAT(session->Run({Int64s({1}, {1})}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got INT64 [1]")));
}

TEST_F(OnnxSessionTest, ProfileListsEveryNode) {
  auto session = NewSession(2);
  RunProfile profile;
  ASSERT_OK(session->Run({sets_[1].input}, &profile).status());
  EXPECT_EQ(profile.nodes.size() + session->folded_nodes() + session->fused_nodes(),
            model_->nodes().size());
  EXPECT_GT(profile.total, absl::ZeroDuration());
  bool has_conv = false;
  for (const auto& [op, time] : profile.ByOpType()) has_conv |= op.rfind("Conv", 0) == 0;
  EXPECT_TRUE(has_conv);
}

// Regression: Run used to push every released (already empty) slot back into
// the buffer pool at its end, so the pool grew by one entry per value per
// run and every allocation scanned it (mnist-8 slowed from 0.08 to 0.3 ms
// per run over 3,000 runs). Counts, not timings: after a warm-up the pool
// keeps its size and each run allocates at most one buffer per graph output
// (the outputs leave with the results).
TEST_F(OnnxSessionTest, BufferPoolStaysBoundedOverManyRuns) {
  for (int threads : {1, 2}) {
    auto session = NewSession(threads);
    ASSERT_NE(session, nullptr);
    constexpr int kWarmup = 3, kRuns = 500;
    for (int i = 0; i < kWarmup; ++i) ASSERT_OK(session->Run({sets_[0].input}).status());
    const size_t pooled = session->pooled_buffers();
    const uint64_t allocations = session->buffer_allocations();
    EXPECT_GT(pooled, 0u);  // intermediates are recycled at all
    for (int i = 0; i < kRuns; ++i) {
      ASSERT_OK_AND_ASSIGN(auto out, session->Run({sets_[static_cast<size_t>(i % 3)].input}));
      ASSERT_EQ(out.size(), model_->outputs().size());
      ASSERT_LE(session->pooled_buffers(), pooled) << "run " << i << ", " << threads << " threads";
    }
    EXPECT_LE(session->buffer_allocations() - allocations, kRuns * model_->outputs().size());
  }
}

TEST_F(OnnxSessionTest, SessionOutlivesModelAndRunsConcurrently) {
  auto session = NewSession(2);
  model_.reset();
  std::vector<std::thread> threads;
  std::vector<bool> ok(4, false);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const MnistSet& set = sets_[static_cast<size_t>(t % 3)];
      auto out = session->Run({set.input});
      ok[static_cast<size_t>(t)] =
          out.ok() && CompareTensors((*out)[0], set.output, kDefaultRtol, kDefaultAtol).match;
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < 4; ++t) EXPECT_TRUE(ok[static_cast<size_t>(t)]) << "thread " << t;
}

TEST(OnnxSessionLimitsTest, MaxTensorBytesIsEnforced) {
  GraphBuilder g(13);
  g.Input("s", DataType::kInt64, {2}).Output("y");
  g.Node("ConstantOfShape", {"s"}, {"y"}, "fill");
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  SessionOptions options;
  options.max_tensor_bytes = 1 << 20;
  ASSERT_OK_AND_ASSIGN(auto session, Session::Create(m, options));
  ASSERT_OK(session->Run({Int64s({2}, {256, 256})}).status());
  // The output's shape is the run's data (the input's values): not shown.
  absl::StatusOr<std::vector<Tensor>> big = session->Run({Int64s({2}, {1024, 1023})});
  EXPECT_THAT(big, StatusIs(absl::StatusCode::kResourceExhausted,
                            HasSubstr("node 'fill' (ConstantOfShape): output 0 exceeds "
                                      "max_tensor_bytes 1048576")));
  EXPECT_THAT(big.status().message(), Not(HasSubstr("1023")));
  absl::StatusOr<std::vector<Tensor>> huge =
      session->Run({Int64s({2}, {int64_t{1} << 40, 987654321})});
  EXPECT_THAT(huge, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("node 'fill'")));
  EXPECT_THAT(huge.status().message(), Not(HasSubstr("987654321")));
}

// Integer inputs of a run are data (a data owner's, in a worker): an
// operator that reads them as a shape or as axes fails without repeating
// them, naming the node and the input shapes instead.
TEST(OnnxSessionLimitsTest, ErrorsDoNotRepeatTheValuesOfRunInputs) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {1}).Input("s", DataType::kInt64, {3}).Output("y");
  g.Node("Reshape", {"x", "s"}, {"y"}, "secret_shape");
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  ASSERT_OK_AND_ASSIGN(auto session, Session::Create(m, SessionOptions{}));
  ASSERT_OK(session->Run({testing::Floats({1}, {2}), Int64s({3}, {1, 1, 1})}).status());
  for (const std::vector<int64_t>& secret :
       {std::vector<int64_t>{7, 13, 424242}, std::vector<int64_t>{-5, 1, 424242}}) {
    absl::StatusOr<std::vector<Tensor>> got =
        session->Run({testing::Floats({1}, {2}), Int64s({3}, secret)});
    EXPECT_THAT(got, StatusIs(absl::StatusCode::kInvalidArgument,
                              HasSubstr("node 'secret_shape' (Reshape): the values of its integer "
                                        "inputs (shapes [1], [3]) do not fit")));
    EXPECT_THAT(got.status().message(), Not(HasSubstr("424242")));
  }
  // A constant shape is the model's own and is still explained in full.
  GraphBuilder c(13);
  c.Input("x", DataType::kFloat, {1}).Initializer("s", Int64s({2}, {3, 5})).Output("y");
  c.Node("Reshape", {"x", "s"}, {"y"}, "fixed");
  const absl::Status fixed = [&] {
    absl::StatusOr<Model> cm = c.Load();  // shapes are inferred at load
    if (!cm.ok()) return cm.status();
    absl::StatusOr<std::unique_ptr<Session>> made = Session::Create(*cm, SessionOptions{});
    if (!made.ok()) return made.status();
    return (*made)->Run({testing::Floats({1}, {2})}).status();
  }();
  EXPECT_THAT(fixed, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[3,5]")));
}

// A shape made from the run's integer data (ConstantOfShape of an input)
// carries those values to every node after it: an error further down names
// the node, never that shape.
TEST(OnnxSessionLimitsTest, ShapesMadeFromRunValuesAreWithheldDownstream) {
  GraphBuilder g(13);
  g.Input("s", DataType::kInt64, {2}).Initializer("c", testing::Floats({3}, {1, 2, 3})).Output("z");
  g.Node("ConstantOfShape", {"s"}, {"y"}, "fill");
  g.Node("Add", {"y", "c"}, {"z"}, "add");
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  ASSERT_OK_AND_ASSIGN(auto session, Session::Create(m, SessionOptions{}));
  ASSERT_OK(session->Run({Int64s({2}, {2, 3})}).status());
  absl::StatusOr<std::vector<Tensor>> got = session->Run({Int64s({2}, {7, 9173})});
  EXPECT_THAT(got, StatusIs(absl::StatusCode::kInvalidArgument,
                            HasSubstr("node 'add' (Add): the shapes of its inputs "
                                      "((withheld), [3]) do not fit")));
  EXPECT_THAT(got.status().message(), Not(HasSubstr("9173")));
}

// Constant folding keeps its results for the session: their total is
// bounded too, not only each one (a few bytes of model fanning out into many
// tensors of the per-tensor limit).
TEST(OnnxSessionLimitsTest, FoldedConstantsAreBoundedInAll) {
  GraphBuilder g(13);
  g.Initializer("s", Int64s({1}, {100000})).Output("a").Output("b").Output("c");
  for (const char* out : {"a", "b", "c"}) g.Node("ConstantOfShape", {"s"}, {out}, out);
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  SessionOptions options;
  options.max_tensor_bytes = 1 << 20;  // each 400 KB output fits; the three do not
  EXPECT_THAT(Session::Create(m, options),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("node 'c' (ConstantOfShape): constant-folded values reach")));
  options.max_tensor_bytes = 2 << 20;
  EXPECT_OK(Session::Create(m, options).status());
}

// Malformed graphs found by a review: each refused with the node named, or
// run correctly, rather than crashing the worker.
TEST(OnnxSessionLimitsTest, HostileShapesAreRefusedOrRun) {
  // Sum with an input left out.
  GraphBuilder sum(13);
  sum.Input("a", DataType::kFloat, {2}).Output("s");
  sum.Node("Sum", {"a", ""}, {"s"}, "sum");
  EXPECT_THAT(sum.Load(), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("node 'sum' (Sum): input 1 is empty")));
  // Transpose of a scalar, run and folded.
  GraphBuilder tr(13);
  tr.Input("x", DataType::kFloat, {}).Output("y");
  tr.Node("Transpose", {"x"}, {"y"});
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> y,
                       testing::RunOnce(tr.Serialize(), {testing::Floats({}, {7})}));
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].data<float>()[0], 7.0f);
  // An empty tensor's other dimensions are bounded as if it were not empty.
  EXPECT_THAT(Tensor::Create(DataType::kFloat, {0, int64_t{1} << 61}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exceed")));
  // Within the bound, an empty input runs without its kernel (LayerNorm's
  // scratch would be sized from the 2^34 other values: 128 GiB).
  GraphBuilder ln_ok(17);
  ln_ok.Input("x", DataType::kFloat, {0, int64_t{1} << 34}).Output("y");
  ln_ok.Initializer("scale", testing::Floats({1}, {1}));
  ln_ok.Node("LayerNormalization", {"x", "scale"}, {"y"});
  ASSERT_OK_AND_ASSIGN(Tensor empty, Tensor::Create(DataType::kFloat, {0, int64_t{1} << 34}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> ln_out, testing::RunOnce(ln_ok.Serialize(), {empty}));
  ASSERT_EQ(ln_out.size(), 1u);
  EXPECT_EQ(ln_out[0].shape(), (Shape{0, int64_t{1} << 34}));
  GraphBuilder ln(17);
  ln.Input("x", DataType::kFloat, {0, int64_t{1} << 61}).Output("y");
  ln.Initializer("scale", testing::Floats({1}, {1}));
  ln.Node("LayerNormalization", {"x", "scale"}, {"y"});
  EXPECT_THAT(ln.Load(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exceed")));
  // A Conv whose one filter would make a 32 GiB im2col buffer.
  GraphBuilder conv(13);
  conv.Input("x", DataType::kFloat, {1, int64_t{1} << 24, 1, 4});
  conv.Input("w", DataType::kFloat, {1, int64_t{1} << 24, 1, 2}).Output("y");
  SetAttr(conv.Node("Conv", {"x", "w"}, {"y"}, "conv"), "pads", std::vector<int64_t>{0, 1, 0, 1});
  EXPECT_THAT(conv.Load(), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("node 'conv' (Conv): weights W")));
  // MatMul whose stacked batches would overflow BLAS's int.
  GraphBuilder mm(13);
  mm.Input("a", DataType::kFloat, {4, int64_t{1} << 29, 1}).Input("b", DataType::kFloat, {1, 1});
  mm.Output("y");
  mm.Node("MatMul", {"a", "b"}, {"y"}, "mm");
  EXPECT_THAT(mm.Load(), StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("node 'mm' (MatMul): dimension 2147483648")));
  // With a batched right side each batch is its own GEMM: not refused.
  GraphBuilder mm_batched(13);
  mm_batched.Input("a", DataType::kFloat, {4, int64_t{1} << 29, 1});
  mm_batched.Input("b", DataType::kFloat, {4, 1, 1}).Output("y");
  mm_batched.Node("MatMul", {"a", "b"}, {"y"}, "mm");
  EXPECT_OK(mm_batched.Load().status());
}

TEST(OnnxSessionFoldingTest, FoldedAndUnfoldedAgree) {
  // w = ConstantOfShape([3,4]) * 0.5 is constant; y = x @ w^T is not.
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2, 4}).Initializer("shape", Int64s({2}, {3, 4}));
  g.Initializer("half", testing::Floats({}, {0.5f})).Output("y");
  SetAttr(g.Node("ConstantOfShape", {"shape"}, {"ones"}), "value", testing::Floats({1}, {1.0f}));
  g.Node("Mul", {"ones", "half"}, {"w"});
  SetAttr(g.Node("Gemm", {"x", "w"}, {"y"}), "transB", int64_t{1});
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  const Tensor x = RandomFloats({2, 4}, 3);
  SessionOptions folded, unfolded;
  unfolded.fold_constants = false;
  ASSERT_OK_AND_ASSIGN(auto a, Session::Create(m, folded));
  ASSERT_OK_AND_ASSIGN(auto b, Session::Create(m, unfolded));
  EXPECT_EQ(a->folded_nodes(), 2u);
  EXPECT_EQ(b->folded_nodes(), 0u);
  ASSERT_OK_AND_ASSIGN(auto ya, a->Run({x}));
  ASSERT_OK_AND_ASSIGN(auto yb, b->Run({x}));
  EXPECT_TRUE(CompareTensors(ya[0], yb[0], 0, 0).match);
  auto xv = x.data<float>();
  EXPECT_NEAR(ya[0].data<float>()[0], 0.5f * (xv[0] + xv[1] + xv[2] + xv[3]), 1e-6);
}

TEST(OnnxSessionOutputsTest, InputsAndRepeatedValuesCanBeOutputs) {
  // Outputs: the input itself, y twice, and a constant-only subgraph.
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {3}).Initializer("c", testing::Floats({3}, {1, 2, 3}));
  g.Output("x").Output("y").Output("y").Output("k");
  g.Node("Relu", {"x"}, {"y"});
  g.Node("Neg", {"c"}, {"n"});
  ASSERT_FALSE(g.Load().ok());  // Neg is not implemented...
  g.proto().mutable_graph()->mutable_node(1)->set_op_type("Sigmoid");  // ...Sigmoid is
  g.proto().mutable_graph()->mutable_node(1)->set_output(0, "k");
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  ASSERT_OK_AND_ASSIGN(auto session, Session::Create(m, {}));
  const Tensor x = testing::Floats({3}, {-1, 0, 2});
  for (int run = 0; run < 2; ++run) {
    ASSERT_OK_AND_ASSIGN(auto out, session->Run({x}));
    ASSERT_EQ(out.size(), 4u);
    EXPECT_TRUE(CompareTensors(out[0], x, 0, 0).match);
    EXPECT_TRUE(CompareTensors(out[1], testing::Floats({3}, {0, 0, 2}), 0, 0).match);
    EXPECT_TRUE(CompareTensors(out[2], out[1], 0, 0).match);
    EXPECT_NEAR(out[3].data<float>()[0], 1 / (1 + std::exp(-1.0)), 1e-6);
  }
}

TEST(OnnxSessionDeviceTest, CudaIsRefusedClearlyWithoutADevice) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2}).Output("y");
  g.Node("Relu", {"x"}, {"y"});
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  SessionOptions options;
  options.device = Device::kCuda;
  auto s = Session::Create(m, options);
  if (!CudaBackendBuilt()) {
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("no CUDA backend")));
  } else if (!s.ok()) {
    // Built with CUDA on a machine without a GPU (as in CI).
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no CUDA device")));
  }
  EXPECT_THAT(ParseDevice("tpu"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ThreadPoolTest, CoversTheRangeOnceAndNests) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> hits(10000);
  pool.ParallelFor(10000, 7, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    // A nested loop runs inline instead of deadlocking.
    pool.ParallelFor(3, 1, [](int64_t, int64_t) {});
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(ThreadPoolTest, ThreadIndexIsDistinctAmongConcurrentChunks) {
  ThreadPool pool(3), other(2);
  std::array<std::atomic<int>, 3> inside{};
  std::atomic<int> bad{0}, foreign{0};
  std::atomic<int64_t> chunks{0};
  for (int round = 0; round < 50; ++round) {
    pool.ParallelFor(64, 1, [&](int64_t, int64_t) {
      const int t = pool.ThreadIndex();
      if (t < 0 || t >= 3 || inside[static_cast<size_t>(t)].fetch_add(1) != 0) ++bad;
      // Some work, so that chunks overlap.
      volatile double x = 0;
      for (int i = 0; i < 2000; ++i) x = x + i;
      inside[static_cast<size_t>(t)].fetch_sub(1);
      ++chunks;
      // Another pool's index on this thread is its caller's: 0.
      if (other.ThreadIndex() != 0) ++foreign;
    });
  }
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(foreign.load(), 0);
  EXPECT_GT(chunks.load(), 0);
  EXPECT_EQ(pool.ThreadIndex(), 0);  // the caller
}

// The hand-off: jobs back to back (workers still polling), after pauses
// long enough that they sleep, each job's state on the caller's stack and
// gone once ParallelFor returns; a pool destroyed while its workers sleep.
TEST(ThreadPoolTest, HandsOffBackToBackAndAfterSleeping) {
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    for (int round = 0; round < 400; ++round) {
      const int64_t n = 1 + round % 37;
      std::vector<int> hits(static_cast<size_t>(n), 0);  // this job's, on this stack
      std::atomic<int64_t> covered{0};
      pool.ParallelFor(n, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
        covered += e - b;
        volatile double x = 0;
        for (int i = 0; i < 500; ++i) x = x + i;
      });
      ASSERT_EQ(covered.load(), n) << "round " << round;
      for (int h : hits) ASSERT_EQ(h, 1) << "round " << round;
      if (round % 50 == 49) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // Workers take part (they are not merely tolerated by the caller): the
    // caller's chunk waits, off the CPU, until a worker has run the other.
    // (Whether a woken worker helps with short jobs is up to the scheduler:
    // it may queue it behind the caller on one CPU.)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::atomic<bool> worker_ran{false};
    pool.ParallelFor(2, 1, [&](int64_t, int64_t) {
      if (pool.ThreadIndex() != 0) {
        worker_ran = true;
        return;
      }
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!worker_ran && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    });
    EXPECT_TRUE(worker_ran.load()) << threads << " threads";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// ParallelForByOwner: every item once, one at a time; thread t starts on
// part t; a thread done with its part takes the rest of a slow one's.
TEST(ThreadPoolTest, ByOwnerCoversOnceAndTakesOverASlowPart) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 7, 64}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.ParallelForByOwner(n, [&](int64_t b, int64_t e) {
        ASSERT_EQ(e, b + 1);
        hits[static_cast<size_t>(b)]++;
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1) << threads << " threads, n " << n;
    }
  }
  ThreadPool pool(2);
  std::atomic<int> by_caller{0}, total{0};
  std::atomic<bool> slept{false};
  pool.ParallelForByOwner(8, [&](int64_t, int64_t) {
    ++total;
    if (pool.ThreadIndex() == 0) {
      ++by_caller;
    } else if (!slept.exchange(true)) {
      // The worker stalls on its first item (part 1 is items 4..7).
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
  });
  EXPECT_EQ(total.load(), 8);
  // The caller ran its own 4 and took over at least one of the worker's.
  EXPECT_GE(by_caller.load(), 5);
}

// Destruction right after a job the caller ran alone: a worker that saw the
// job's bump but not yet the stop must still notice the stop. A missed one
// leaves join() waiting forever: with the stop checked before the bump was
// read, this loop hung in 3 of 4 runs (ctest's 120 s timeout fails it).
TEST(ThreadPoolTest, DestructionRightAfterAJobDoesNotHang) {
  for (int i = 0; i < 30000; ++i) {
    ThreadPool pool(3);
    std::atomic<int64_t> covered{0};
    pool.ParallelFor(2, 1, [&](int64_t b, int64_t e) { covered += e - b; });
    ASSERT_EQ(covered.load(), 2);
  }
}

}  // namespace
}  // namespace strongroom::worker::onnx
