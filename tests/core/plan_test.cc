// The planner's memory decisions on small hand-built graphs: views (Reshape, Squeeze...) share
// their input's arena memory and drop their step unless the input lives outside the arena;
// steps whose outputs only folded nodes read are dropped; kernel scratch is planned per step. Each
// case also runs, so that the answers are checked, not only the plan.
#include "graph/plan.h"

#include <gtest/gtest.h>

#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "graph/interpreter.h"
#include "op_test_util.h"
#include "ops/op.h"
#include "util/thread_pool.h"

namespace qclip {
namespace {

using test::MakeTensor;

// A graph built node by node; values are named, and created on first mention.
struct Builder {
  Graph g = [] {
    Graph graph;
    graph.opsets[""] = 18;
    return graph;
  }();
  int Value(const std::string& name) {
    const int v = g.FindValue(name);
    return v >= 0 ? v : g.AddValue(name);
  }
  void Input(const std::string& name) { g.inputs.push_back(Value(name)); }
  void Output(const std::string& name) { g.outputs.push_back(Value(name)); }
  void Constant(const std::string& name, Tensor t) {
    const int v = Value(name);
    g.values[v].dtype = t.dtype();
    g.values[v].constant = std::move(t);
  }
  void Node(const std::string& op, const std::vector<std::string>& in,
            const std::vector<std::string>& out) {
    qclip::Node n;
    n.name = op + std::to_string(g.nodes.size());
    n.op_type = op;
    for (const std::string& s : in) n.inputs.push_back(s.empty() ? -1 : Value(s));
    for (const std::string& s : out) n.outputs.push_back(Value(s));
    g.nodes.push_back(std::move(n));
  }
};

Tensor Iota(Shape shape) {
  Tensor t(DType::kFloat32, std::move(shape));
  std::iota(t.data<float>(), t.data<float>() + t.size(), 1.0f);
  return t;
}

// The plan for `inputs` (kernels built as the interpreter builds them).
std::shared_ptr<const Plan> PlanFor(const Graph& g, const std::vector<Tensor>& inputs) {
  std::vector<std::unique_ptr<OpKernel>> kernels;
  for (const Node& n : g.nodes) {
    const OpSchema* schema = BuiltinOps().Find(n.domain, n.op_type, 18);
    KernelInit init{n, schema->since_version, {}};
    for (int v : n.inputs) {
      init.constants.push_back(v >= 0 && g.values[v].is_constant() ? &g.values[v].constant
                                                                   : nullptr);
    }
    kernels.push_back(schema->make(init));
  }
  ThreadPool pool(1);
  std::vector<Tensor> meta;
  for (const Tensor& t : inputs) meta.push_back(Tensor::Meta(t.dtype(), t.shape()));
  return MakePlan(g, kernels, meta, pool);
}

std::vector<std::string> StepOps(const Graph& g, const Plan& plan) {
  std::vector<std::string> ops;
  for (const PlanStep& s : plan.steps) ops.push_back(g.nodes[s.node].op_type);
  return ops;
}

std::vector<float> Values(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.size());
}

TEST(Plan, ViewsOfActivationsShareMemoryAndRunNoStep) {
  // y = Reshape(Squeeze(Unsqueeze(x + 1)) * 2): only Add and Mul run.
  Builder b;
  b.Input("x");
  b.Constant("one", MakeTensor(DType::kFloat32, {}, std::vector<float>{1.0f}));
  b.Constant("two", MakeTensor(DType::kFloat32, {}, std::vector<float>{2.0f}));
  b.Constant("axes", MakeTensor(DType::kInt64, {1}, std::vector<int64_t>{0}));
  b.Constant("shape", MakeTensor(DType::kInt64, {2}, std::vector<int64_t>{3, 4}));
  b.Node("Add", {"x", "one"}, {"a"});
  b.Node("Unsqueeze", {"a", "axes"}, {"u"});
  b.Node("Squeeze", {"u", "axes"}, {"s"});
  b.Node("Mul", {"s", "two"}, {"m"});
  b.Node("Reshape", {"m", "shape"}, {"y"});
  b.Output("y");
  const Tensor x = Iota({2, 6});
  const auto plan = PlanFor(b.g, {x});
  EXPECT_EQ(StepOps(b.g, *plan), (std::vector<std::string>{"Add", "Mul"}));
  EXPECT_EQ(plan->slots[b.Value("s")].offset, plan->slots[b.Value("a")].offset);
  EXPECT_EQ(plan->slots[b.Value("y")].offset, plan->slots[b.Value("m")].offset);
  // Add's output is still being read (through the views) when Mul writes: different memory.
  EXPECT_NE(plan->slots[b.Value("m")].offset, plan->slots[b.Value("a")].offset);

  Interpreter interpreter(b.g, InterpreterOptions{});
  const Tensor y = interpreter.Run({x})[0];
  EXPECT_EQ(y.shape(), (Shape{3, 4}));
  std::vector<float> want(12);
  for (int i = 0; i < 12; ++i) want[i] = 2.0f * (i + 2);
  EXPECT_EQ(Values(y), want);
}

TEST(Plan, ViewsOfGraphInputsAndConstantsStillCopy) {
  Builder b;
  b.Input("x");
  b.Constant("c", Iota({2, 2}));
  b.Constant("shape", MakeTensor(DType::kInt64, {1}, std::vector<int64_t>{4}));
  b.Node("Reshape", {"x", "shape"}, {"y"});  // x is the caller's buffer: copied
  b.Node("Identity", {"c"}, {"z"});          // c is folded at plan time
  b.Output("y");
  b.Output("z");
  const Tensor x = Iota({2, 2});
  const auto plan = PlanFor(b.g, {x});
  EXPECT_EQ(StepOps(b.g, *plan), (std::vector<std::string>{"Reshape"}));
  Interpreter interpreter(b.g, InterpreterOptions{});
  const std::vector<Tensor> out = interpreter.Run({x});
  EXPECT_EQ(Values(out[0]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(out[0].shape(), (Shape{4}));
  EXPECT_EQ(Values(out[1]), (std::vector<float>{1, 2, 3, 4}));
}

TEST(Plan, StepsOnlyFoldedNodesReadAreDropped) {
  // Neg(x) feeds only Shape, which folds: Neg does not run. y = x + float(x.shape[1]).
  Builder b;
  b.Input("x");
  b.Constant("one", MakeTensor(DType::kInt64, {1}, std::vector<int64_t>{1}));
  b.Node("Neg", {"x"}, {"n"});
  b.Node("Shape", {"n"}, {"shape"});
  b.Node("Gather", {"shape", "one"}, {"dim"});
  b.g.nodes.push_back(Node{});  // Cast(dim) to float
  b.g.nodes.back().name = "cast";
  b.g.nodes.back().op_type = "Cast";
  b.g.nodes.back().inputs = {b.Value("dim")};
  b.g.nodes.back().outputs = {b.Value("dimf")};
  b.g.nodes.back().attrs["to"] = test::IntAttr(static_cast<int64_t>(DType::kFloat32));
  b.Node("Add", {"x", "dimf"}, {"y"});
  b.Output("y");
  const Tensor x = Iota({2, 3});
  const auto plan = PlanFor(b.g, {x});
  EXPECT_EQ(StepOps(b.g, *plan), (std::vector<std::string>{"Add"}));
  Interpreter interpreter(b.g, InterpreterOptions{});
  EXPECT_EQ(Values(interpreter.Run({x})[0]), (std::vector<float>{4, 5, 6, 7, 8, 9}));
}

TEST(Plan, KernelScratchIsPlannedBesideTheStepsTensors) {
  // y = QuantizedLinear(x + 1): its quantized activations live in planned scratch, apart from
  // its input and output, and the answer is the one the kernel gives with scratch of its own.
  const int64_t rows = 5, K = 64, N = 16;
  std::vector<int8_t> w(K * N);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 255) - 127);
  Builder b;
  b.Input("x");
  b.Constant("one", MakeTensor(DType::kFloat32, {}, std::vector<float>{1.0f}));
  b.Constant("w", MakeTensor(DType::kInt8, {K, N}, w));
  b.Constant("w_scale", MakeTensor(DType::kFloat32, {}, std::vector<float>{0.01f}));
  b.Node("Add", {"x", "one"}, {"a"});
  b.Node("QuantizedLinear", {"a", "w", "w_scale"}, {"y"});
  b.g.nodes.back().domain = "qclip";
  b.Output("y");
  const Tensor x = Iota({rows, K});
  const auto plan = PlanFor(b.g, {x});
  ASSERT_EQ(StepOps(b.g, *plan), (std::vector<std::string>{"Add", "QuantizedLinear"}));
  const PlanStep& step = plan->steps[1];
  EXPECT_GE(step.scratch_bytes, static_cast<size_t>(rows * K));  // at least the uint8 copy
  for (const char* name : {"a", "y"}) {
    const ValueSlot& slot = plan->slots[b.Value(name)];
    const bool disjoint = slot.offset + slot.tensor.bytes() <= step.scratch_offset ||
                          step.scratch_offset + step.scratch_bytes <= slot.offset;
    EXPECT_TRUE(disjoint) << name;
  }
  EXPECT_GE(plan->arena_bytes, step.scratch_offset + step.scratch_bytes);

  Interpreter interpreter(b.g, InterpreterOptions{});
  const Tensor y = interpreter.Run({x})[0];
  test::OpCall c;
  c.op_type = "QuantizedLinear";
  c.domain = "qclip";
  c.opset = 1;
  Tensor a = Iota({rows, K});
  for (int64_t i = 0; i < a.size(); ++i) a.data<float>()[i] += 1.0f;
  c.inputs = {a, MakeTensor(DType::kInt8, {K, N}, w),
              MakeTensor(DType::kFloat32, {}, std::vector<float>{0.01f})};
  c.constant_at_load = {false, true, true};
  EXPECT_EQ(Values(y), Values(test::RunOp(c)[0]));
}

}  // namespace
}  // namespace qclip
