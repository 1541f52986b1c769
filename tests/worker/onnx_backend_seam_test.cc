// The Session's device-backend protocol (worker/onnx/backend.h), checked on
// the CPU with a backend that keeps the values it makes to itself: it runs
// Relu and Add into its own storage and leaves NaN in the host tensors, so
// a CPU node or a graph output that the Session forgot to Sync comes out
// wrong. A separate binary: it registers this backend as Device::kCuda.
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/onnx_test_util.h"
#include "worker/onnx/backend.h"
#include "worker/onnx/compare.h"

namespace strongroom::worker::onnx {
namespace {

using ::strongroom::testing::StatusIs;
using testing::Floats;
using testing::GraphBuilder;
using ::testing::HasSubstr;

struct Log {
  int runs = 0, nodes = 0, syncs = 0, releases = 0, begins = 0, ends = 0;
  std::vector<size_t> held_at_end;
};
Log* g_log = nullptr;

class HostSideBackend final : public Backend {
 public:
  bool Handles(const Node& node, std::span<const Tensor* const> in) const override {
    if (node.op_type == "Identity") return true;  // any type
    if (node.op_type != "Relu" && node.op_type != "Add") return false;
    for (const Tensor* t : in) {
      if (t->dtype() != DataType::kFloat) return false;
    }
    return true;
  }
  void BeginRun(bool) override {
    ++g_log->begins;
    EXPECT_TRUE(held_.empty()) << "values held across runs";
  }
  absl::Status Run(const Node& node, const ExecContext&, std::span<const Tensor* const> in,
                   std::span<const int> in_ids, std::span<const bool> constant,
                   std::span<Tensor* const> out, std::span<const int> out_ids) override {
    ++g_log->nodes;
    if (node.name == "fail") return absl::InternalError("device fault");
    // Input i's bytes: the backend's copy when it holds the value.
    auto read = [&](size_t i) {
      auto it = held_.find(in_ids[i]);
      if (!constant[i] && it != held_.end()) return it->second.data;
      const auto d = in[i]->bytes();
      return std::vector<uint8_t>(d.begin(), d.end());
    };
    std::vector<uint8_t> y = read(0);
    if (node.op_type != "Identity") {
      std::vector<float> a(y.size() / sizeof(float));
      std::memcpy(a.data(), y.data(), y.size());
      std::vector<float> r(static_cast<size_t>(out[0]->num_elements()));
      if (node.op_type == "Relu") {
        for (size_t i = 0; i < r.size(); ++i) r[i] = a[i] < 0 ? 0 : a[i];
      } else {  // Add of equal shapes or a one-element b
        const std::vector<uint8_t> b_bytes = read(1);
        std::vector<float> b(b_bytes.size() / sizeof(float));
        std::memcpy(b.data(), b_bytes.data(), b_bytes.size());
        for (size_t i = 0; i < r.size(); ++i) r[i] = a[i] + b[b.size() == 1 ? 0 : i];
      }
      y.resize(r.size() * sizeof(float));
      std::memcpy(y.data(), r.data(), y.size());
    }
    // The host tensor goes stale: all bits set (NaN as float, -1 as int64).
    std::memset(out[0]->mutable_bytes().data(), 0xFF, out[0]->byte_size());
    held_[out_ids[0]] = Held{std::move(y), false};
    return absl::OkStatus();
  }
  absl::Status Sync(int id, Tensor* host) override {
    auto it = held_.find(id);
    if (it == held_.end() || it->second.synced) return absl::OkStatus();
    ++g_log->syncs;
    std::memcpy(host->mutable_bytes().data(), it->second.data.data(), it->second.data.size());
    it->second.synced = true;
    return absl::OkStatus();
  }
  void Release(int id) override { g_log->releases += static_cast<int>(held_.erase(id)); }
  absl::Status EndRun() override {
    ++g_log->ends;
    g_log->held_at_end.push_back(held_.size());
    held_.clear();
    return absl::OkStatus();
  }

 private:
  struct Held {
    std::vector<uint8_t> data;
    bool synced = false;
  };
  std::map<int, Held> held_;
};

absl::StatusOr<std::unique_ptr<Backend>> MakeHostSide() {
  return std::unique_ptr<Backend>(new HostSideBackend());
}

class OnnxBackendSeamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_log = &log_;
    RegisterDeviceBackend(Device::kCuda, MakeHostSide);
  }
  void TearDown() override { g_log = nullptr; }
  Log log_;
};

// x -> Relu a -> Add(a, w) b -> Sigmoid (CPU) c -> Relu d -> Add(d, b) e;
// outputs b and e. Device-only: a, d. Synced: b (Sigmoid reads it, and an
// output) and e (an output). c is the CPU's and goes up for the last Relu.
Model Chain() {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2, 3}).Output("b").Output("e");
  g.Initializer("w", Floats({1}, {0.5f}));
  g.Node("Relu", {"x"}, {"a"});
  g.Node("Add", {"a", "w"}, {"b"});
  g.Node("Sigmoid", {"b"}, {"c"});
  g.Node("Relu", {"c"}, {"d"});
  g.Node("Add", {"d", "b"}, {"e"});
  auto m = g.Load();
  EXPECT_TRUE(m.ok()) << m.status();
  return *std::move(m);
}

TEST_F(OnnxBackendSeamTest, DeviceValuesCrossOnlyWhereTheCpuReadsThem) {
  const Model m = Chain();
  const Tensor x = Floats({2, 3}, {-2, -1, 0, 1, 2, 3});
  ASSERT_OK_AND_ASSIGN(auto cpu, Session::Create(m, {}));
  ASSERT_OK_AND_ASSIGN(auto want, cpu->Run({x}));
  SessionOptions options;
  options.device = Device::kCuda;
  ASSERT_OK_AND_ASSIGN(auto session, Session::Create(m, options));
  for (int run = 1; run <= 3; ++run) {
    RunProfile profile;
    ASSERT_OK_AND_ASSIGN(auto got, session->Run({x}, &profile));
    ASSERT_EQ(got.size(), 2u);
    ASSERT_EQ(profile.nodes.size(), 5u);
    for (const NodeTiming& t : profile.nodes) {
      EXPECT_EQ(t.on_device, t.op_type != "Sigmoid") << t.name;
    }
    for (size_t i = 0; i < 2; ++i) {
      const Comparison c = CompareTensors(got[i], want[i], 0, 0);
      EXPECT_TRUE(c.match) << "run " << run << " output " << i << ": " << c.detail;
    }
    EXPECT_EQ(log_.nodes, 4 * run);     // Relu, Add, Relu, Add; Sigmoid on the CPU
    EXPECT_EQ(log_.syncs, 2 * run);     // b and e, once each
    EXPECT_EQ(log_.releases, 2 * run);  // a and d after their last reader
    EXPECT_EQ(log_.begins, run);
    EXPECT_EQ(log_.ends, run);
    EXPECT_EQ(log_.held_at_end.back(), 2u);  // the outputs b and e
  }
}

TEST_F(OnnxBackendSeamTest, ShapeAndTypeDecideAtRunTime) {
  // An int64 Add is the CPU's: Handles sees the input types.
  GraphBuilder g(13);
  g.Input("x", DataType::kInt64, {3}).Output("y");
  g.Initializer("one", testing::Int64s({1}, {1}));
  g.Node("Add", {"x", "one"}, {"y"});
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  SessionOptions options;
  options.device = Device::kCuda;
  ASSERT_OK_AND_ASSIGN(auto session, Session::Create(m, options));
  ASSERT_OK_AND_ASSIGN(auto got, session->Run({testing::Int64s({3}, {1, 2, 3})}));
  EXPECT_EQ(log_.nodes, 0);
  EXPECT_EQ(got[0].data<int64_t>()[2], 4);
}

TEST_F(OnnxBackendSeamTest, AShapeTheDeviceMadeIsOnTheHostBeforeInfer) {
  // Reshape's Infer reads its shape input's data: an int64 value the
  // backend made (Identity) must be synced before the CPU infers.
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2, 3}).Input("s", DataType::kInt64, {2}).Output("y");
  g.Node("Identity", {"s"}, {"t"});
  g.Node("Reshape", {"x", "t"}, {"y"});
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  SessionOptions options;
  options.device = Device::kCuda;
  ASSERT_OK_AND_ASSIGN(auto session, Session::Create(m, options));
  const Tensor x = Floats({2, 3}, {1, 2, 3, 4, 5, 6});
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{3, 2}, {1, 6}}) {
    ASSERT_OK_AND_ASSIGN(auto got, session->Run({x, testing::Int64s({2}, shape)}));
    EXPECT_EQ(got[0].shape(), Shape(shape.begin(), shape.end()));
  }
  EXPECT_EQ(log_.nodes, 2);
  EXPECT_EQ(log_.syncs, 2);
}

TEST_F(OnnxBackendSeamTest, ADeviceErrorNamesTheNodeAndTheNextRunIsClean) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2}).Output("z");
  g.Node("Relu", {"x"}, {"y"});
  g.Node("Relu", {"y"}, {"z"}, "fail");
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  SessionOptions options;
  options.device = Device::kCuda;
  ASSERT_OK_AND_ASSIGN(auto session, Session::Create(m, options));
  EXPECT_THAT(session->Run({Floats({2}, {-1, 1})}),
              StatusIs(absl::StatusCode::kInternal,
                       ::testing::AllOf(HasSubstr("fail"), HasSubstr("device fault"))));
  EXPECT_EQ(log_.ends, 1);  // EndRun on the error path too
  EXPECT_EQ(log_.held_at_end.back(), 1u);
  EXPECT_EQ(log_.begins, 1);
  // BeginRun checks that nothing is held from the failed run.
  EXPECT_FALSE(session->Run({Floats({2}, {-1, 1})}).ok());
  EXPECT_EQ(log_.begins, 2);
}

}  // namespace
}  // namespace strongroom::worker::onnx
