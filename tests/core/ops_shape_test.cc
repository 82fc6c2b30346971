// Shape and data-movement ops through RunOp; expected values worked out by hand.
#include <gtest/gtest.h>

#include <limits>

#include "op_values.h"
#include "ops/op_util.h"

namespace qclip::test {
namespace {

const int64_t kMax = std::numeric_limits<int64_t>::max();
const int64_t kMin = std::numeric_limits<int64_t>::min();

// The shape of the one output of `op` (its Infer only, with data where inputs have it).
Shape OutShape(const std::string& op, std::vector<Tensor> inputs,
               std::map<std::string, Attribute> attrs = {}, int opset = 18) {
  return Run1(op, std::move(inputs), std::move(attrs), opset).shape();
}

// Runs a kernel's Infer with `runtime` inputs replaced by data-less descriptions, the way the
// planner sees inputs that are not constant.
void InferOnly(const std::string& op, std::vector<Tensor> inputs, const std::vector<bool>& runtime,
               std::map<std::string, Attribute> attrs = {}, int opset = 18) {
  Node node;
  node.name = op;
  node.op_type = op;
  node.attrs = std::move(attrs);
  node.outputs = {0};
  const OpSchema* schema = BuiltinOps().Find("", op, opset);
  ASSERT_NE(schema, nullptr);
  KernelInit init{node, schema->since_version, std::vector<const Tensor*>(inputs.size(), nullptr)};
  std::vector<Tensor> meta;
  std::vector<const Tensor*> in;
  for (size_t i = 0; i < inputs.size(); ++i) {
    meta.push_back(runtime[i] ? Tensor::Meta(inputs[i].dtype(), inputs[i].shape()) : inputs[i]);
  }
  for (const Tensor& t : meta) in.push_back(&t);
  std::vector<Tensor> out(1);
  schema->make(init)->Infer(in, &out);
}

// --- Shape, Size ------------------------------------------------------------------------------

TEST(ShapeOpsTest, ShapeWithStartEnd) {
  EXPECT_EQ(Values<int64_t>(Run1("Shape", {Iota({2, 3, 4, 5})})),
            (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(Values<int64_t>(Run1("Shape", {Iota({2, 3, 4, 5})}, {{"start", IntAttr(1)}})),
            (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(Values<int64_t>(Run1("Shape", {Iota({2, 3, 4, 5})},
                                 {{"start", IntAttr(-3)}, {"end", IntAttr(-1)}})),
            (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(Run1("Shape", {Iota({2, 3})}, {{"start", IntAttr(5)}}).shape(), (Shape{0}));
  EXPECT_EQ(Values<int64_t>(Run1("Size", {Iota({2, 3, 4})})), (std::vector<int64_t>{24}));
  EXPECT_EQ(Run1("Size", {Iota({2, 3, 4})}).shape(), (Shape{}));
}

TEST(ShapeOpsTest, ShapeInferReturnsData) {
  // Infer alone must give real data for a data-less input, so the planner can fold.
  Node node;
  node.op_type = "Shape";
  const OpSchema* schema = BuiltinOps().Find("", "Shape", 15);
  KernelInit init{node, schema->since_version, {nullptr}};
  const Tensor x = Tensor::Meta(DType::kFloat32, {7, 0, 3});
  std::vector<Tensor> out(1);
  schema->make(init)->Infer({&x}, &out);
  ASSERT_TRUE(out[0].has_data());
  EXPECT_EQ(Values<int64_t>(out[0]), (std::vector<int64_t>{7, 0, 3}));
}

// --- Reshape, Flatten, Squeeze, Unsqueeze -----------------------------------------------------

TEST(ShapeOpsTest, Reshape) {
  const Tensor y = Run1("Reshape", {Iota({2, 3, 4}), Ints({0, -1})});
  EXPECT_EQ(y.shape(), (Shape{2, 12}));
  EXPECT_EQ(Values<float>(y)[11], 11.0f);
  EXPECT_EQ(OutShape("Reshape", {Iota({2, 3, 4}), Ints({4, 0, 2})}), (Shape{4, 3, 2}));
  EXPECT_EQ(OutShape("Reshape", {Iota({2, 3, 4}), Ints({-1})}), (Shape{24}));
  EXPECT_EQ(OutShape("Reshape", {Iota({0, 4}), Ints({0, 2, 2})}), (Shape{0, 2, 2}));
  // allowzero=1: 0 is a real zero-size dim.
  EXPECT_EQ(OutShape("Reshape", {Iota({0, 4}), Ints({2, 0})}, {{"allowzero", IntAttr(1)}}),
            (Shape{2, 0}));
  EXPECT_THROW(Run1("Reshape", {Iota({2, 3}), Ints({4, -1})}), Error);
  EXPECT_THROW(Run1("Reshape", {Iota({2, 3}), Ints({-1, -1})}), Error);
  EXPECT_THROW(Run1("Reshape", {Iota({2, 3}), Ints({5})}), Error);
  EXPECT_THROW(Run1("Reshape", {Iota({2, 3}), Ints({0, 0, 6})}), Error);  // copies a missing dim
  EXPECT_THROW(Run1("Reshape", {Iota({0, 4}), Ints({0, -1})}, {{"allowzero", IntAttr(1)}}), Error);
  EXPECT_THROW(InferOnly("Reshape", {Iota({2, 3}), Ints({6})}, {false, true}), Error);
}

TEST(ShapeOpsTest, Flatten) {
  EXPECT_EQ(OutShape("Flatten", {Iota({2, 3, 4, 5})}), (Shape{2, 60}));
  EXPECT_EQ(OutShape("Flatten", {Iota({2, 3, 4, 5})}, {{"axis", IntAttr(2)}}), (Shape{6, 20}));
  EXPECT_EQ(OutShape("Flatten", {Iota({2, 3, 4, 5})}, {{"axis", IntAttr(-1)}}), (Shape{24, 5}));
  EXPECT_EQ(OutShape("Flatten", {Iota({2, 3})}, {{"axis", IntAttr(0)}}), (Shape{1, 6}));
  EXPECT_EQ(OutShape("Flatten", {Iota({2, 3})}, {{"axis", IntAttr(2)}}), (Shape{6, 1}));
  EXPECT_THROW(Run1("Flatten", {Iota({2, 3})}, {{"axis", IntAttr(3)}}), Error);
}

TEST(ShapeOpsTest, SqueezeUnsqueezeAcrossOpsets) {
  // Opset 13+: axes input.
  EXPECT_EQ(OutShape("Squeeze", {Iota({1, 3, 1, 2}), Ints({-2})}), (Shape{1, 3, 2}));
  EXPECT_EQ(OutShape("Squeeze", {Iota({1, 3, 1, 2})}), (Shape{3, 2}));
  EXPECT_EQ(OutShape("Unsqueeze", {Iota({3, 2}), Ints({0, -1})}), (Shape{1, 3, 2, 1}));
  EXPECT_EQ(OutShape("Unsqueeze", {Iota({}), Ints({0})}), (Shape{1}));
  // Opset 11: axes attribute.
  EXPECT_EQ(OutShape("Squeeze", {Iota({1, 3, 1})}, {{"axes", IntsAttr({0})}}, 11), (Shape{3, 1}));
  EXPECT_EQ(OutShape("Unsqueeze", {Iota({3})}, {{"axes", IntsAttr({1, 0})}}, 11), (Shape{1, 1, 3}));
  const Tensor y = Run1("Unsqueeze", {Iota({2, 2}), Ints({1})});
  EXPECT_EQ(Values<float>(y), (std::vector<float>{0, 1, 2, 3}));
  EXPECT_THROW(Run1("Squeeze", {Iota({1, 3}), Ints({1})}), Error);    // dim is not 1
  EXPECT_THROW(Run1("Unsqueeze", {Iota({3}), Ints({0, 0})}), Error);  // repeated
  EXPECT_THROW(Run1("Unsqueeze", {Iota({3}), Ints({3})}), Error);     // out of range
  EXPECT_THROW(Run1("Unsqueeze", {Iota({3})}, {}, 13), Error);        // axes input missing
  EXPECT_THROW(InferOnly("Unsqueeze", {Iota({3}), Ints({0})}, {false, true}), Error);
}

// --- Concat, Split ----------------------------------------------------------------------------

TEST(ShapeOpsTest, Concat) {
  const Tensor y = Run1("Concat", {Iota({2, 1}), F32({2, 2}, {10, 11, 12, 13}), Iota({2, 0})},
                        {{"axis", IntAttr(-1)}});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{0, 10, 11, 1, 12, 13}));
  // Shape arithmetic: int64 1-D concat.
  EXPECT_EQ(Values<int64_t>(
                Run1("Concat", {Ints({1}), Ints({}), Ints({-1, 64})}, {{"axis", IntAttr(0)}})),
            (std::vector<int64_t>{1, -1, 64}));
  EXPECT_THROW(Run1("Concat", {Iota({2, 1}), Iota({3, 1})}, {{"axis", IntAttr(1)}}), Error);
  EXPECT_THROW(Run1("Concat", {Iota({2}), Ints({1})}, {{"axis", IntAttr(0)}}), Error);
  EXPECT_THROW(Run1("Concat", {Iota({2})}, {{"axis", IntAttr(1)}}), Error);
}

TEST(ShapeOpsTest, Split) {
  OpCall c;
  c.op_type = "Split";
  c.attrs = {{"axis", IntAttr(1)}};
  c.inputs = {Iota({2, 5}), Ints({2, 3})};
  c.num_outputs = 2;
  std::vector<Tensor> y = RunOp(c);
  EXPECT_EQ(Values<float>(y[0]), (std::vector<float>{0, 1, 5, 6}));
  EXPECT_EQ(Values<float>(y[1]), (std::vector<float>{2, 3, 4, 7, 8, 9}));
  // Opset 18 num_outputs: ceil(5 / 3) = 2, 2, 1.
  c.inputs = {Iota({2, 5})};
  c.attrs = {{"axis", IntAttr(-1)}, {"num_outputs", IntAttr(3)}};
  c.num_outputs = 3;
  y = RunOp(c);
  EXPECT_EQ(y[2].shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<float>(y[2]), (std::vector<float>{4, 9}));
  // Opset 11: even split by output count, or the split attribute.
  c.opset = 11;
  c.attrs = {{"axis", IntAttr(0)}};
  c.inputs = {Iota({6})};
  y = RunOp(c);
  EXPECT_EQ(Values<float>(y[1]), (std::vector<float>{2, 3}));
  c.attrs = {{"split", IntsAttr({1, 0, 5})}};
  y = RunOp(c);
  EXPECT_EQ(y[1].shape(), (Shape{0}));
  EXPECT_EQ(Values<float>(y[2]), (std::vector<float>{1, 2, 3, 4, 5}));
  c.attrs = {{"split", IntsAttr({1, 2, 2})}};
  EXPECT_THROW(RunOp(c), Error);
  c.attrs = {};
  c.inputs = {Iota({7})};
  EXPECT_THROW(RunOp(c), Error);  // 7 does not split evenly in 3
}

// --- Slice ------------------------------------------------------------------------------------

TEST(ShapeOpsTest, SliceClampsAndSteps) {
  const Tensor x = Iota({3, 4});
  EXPECT_EQ(Values<float>(Run1("Slice", {x, Ints({1}), Ints({kMax}), Ints({1})})),
            (std::vector<float>{1, 2, 3, 5, 6, 7, 9, 10, 11}));
  EXPECT_EQ(
      Values<float>(Run1("Slice", {x, Ints({-2, 0}), Ints({10, 3}), Ints({0, 1}), Ints({1, 2})})),
      (std::vector<float>{4, 6, 8, 10}));
  // Negative step from the end to before the start: reverses.
  EXPECT_EQ(Values<float>(Run1("Slice", {x, Ints({-1}), Ints({kMin}), Ints({1}), Ints({-1})})),
            (std::vector<float>{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8}));
  EXPECT_EQ(
      Values<float>(Run1("Slice", {x, Ints({2, 3}), Ints({0, 0}), Ints({0, 1}), Ints({-2, -2})})),
      (std::vector<float>{11, 9}));
  // Empty results and huge steps.
  EXPECT_EQ(OutShape("Slice", {x, Ints({3}), Ints({1}), Ints({1})}), (Shape{3, 0}));
  EXPECT_EQ(Values<float>(Run1("Slice", {x, Ints({1}), Ints({kMax}), Ints({0}), Ints({kMax})})),
            (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(Values<float>(Run1("Slice", {x, Ints({kMax}), Ints({kMin}), Ints({0}), Ints({kMin})})),
            (std::vector<float>{8, 9, 10, 11}));
  EXPECT_EQ(OutShape("Slice", {Iota({0, 2}), Ints({-1}), Ints({kMin}), Ints({0}), Ints({-1})}),
            (Shape{0, 2}));
  // Opset 9: attributes.
  EXPECT_EQ(Values<float>(Run1(
                "Slice", {x},
                {{"starts", IntsAttr({1})}, {"ends", IntsAttr({-1})}, {"axes", IntsAttr({1})}}, 9)),
            (std::vector<float>{1, 2, 5, 6, 9, 10}));
  EXPECT_THROW(Run1("Slice", {x, Ints({0}), Ints({1}), Ints({0}), Ints({0})}), Error);
  EXPECT_THROW(Run1("Slice", {x, Ints({0, 0}), Ints({1, 1}), Ints({1, -1})}), Error);
  EXPECT_THROW(Run1("Slice", {x, Ints({0}), Ints({1, 2})}), Error);
  EXPECT_THROW(InferOnly("Slice", {x, Ints({0}), Ints({1})}, {false, false, true}), Error);
}

// --- Transpose, Expand, Tile ------------------------------------------------------------------

TEST(ShapeOpsTest, Transpose) {
  const Tensor y = Run1("Transpose", {Iota({2, 3})});
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  // [B,S,H,D] -> [B,H,S,D].
  const Tensor bshd = Run1("Transpose", {Iota({1, 2, 3, 2})}, {{"perm", IntsAttr({0, 2, 1, 3})}});
  EXPECT_EQ(bshd.shape(), (Shape{1, 3, 2, 2}));
  EXPECT_EQ(Values<float>(bshd), (std::vector<float>{0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11}));
  // Last two dims swapped.
  const Tensor last = Run1("Transpose", {Iota({2, 2, 3})}, {{"perm", IntsAttr({0, 2, 1})}});
  EXPECT_EQ(Values<float>(last), (std::vector<float>{0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11}));
  // ViT qkv split: [B,S,3,H,D] -> [3,B,H,S,D].
  const Tensor qkv =
      Run1("Transpose", {Iota({1, 2, 3, 1, 2})}, {{"perm", IntsAttr({2, 0, 3, 1, 4})}});
  EXPECT_EQ(qkv.shape(), (Shape{3, 1, 1, 2, 2}));
  EXPECT_EQ(Values<float>(qkv), (std::vector<float>{0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11}));
  EXPECT_THROW(Run1("Transpose", {Iota({2, 3})}, {{"perm", IntsAttr({0, 0})}}), Error);
  EXPECT_THROW(Run1("Transpose", {Iota({2, 3})}, {{"perm", IntsAttr({0})}}), Error);
}

TEST(ShapeOpsTest, Expand) {
  const Tensor y = Run1("Expand", {F32({3, 1}, {1, 2, 3}), Ints({2, 1, 2})});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  // Bidirectional: a 1 in shape keeps the input's dim.
  EXPECT_EQ(OutShape("Expand", {Iota({2, 3}), Ints({1, 1})}), (Shape{2, 3}));
  EXPECT_EQ(Values<uint8_t>(Run1("Expand", {Bool({1}, {1}), Ints({3})})),
            (std::vector<uint8_t>{1, 1, 1}));
  EXPECT_THROW(Run1("Expand", {Iota({2, 3}), Ints({4, 3})}), Error);
  EXPECT_THROW(InferOnly("Expand", {Iota({2}), Ints({2})}, {false, true}), Error);
}

TEST(ShapeOpsTest, Tile) {
  const Tensor y = Run1("Tile", {Iota({2, 2}), Ints({2, 3})});
  EXPECT_EQ(y.shape(), (Shape{4, 6}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3,
                                                  0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3}));
  EXPECT_EQ(OutShape("Tile", {Iota({2, 2}), Ints({0, 1})}), (Shape{0, 2}));
  EXPECT_THROW(Run1("Tile", {Iota({2, 2}), Ints({2})}), Error);
  EXPECT_THROW(Run1("Tile", {Iota({2}), Ints({-1})}), Error);
}

// --- ConstantOfShape, Range -------------------------------------------------------------------

TEST(ShapeOpsTest, ConstantOfShape) {
  const Tensor zeros = Run1("ConstantOfShape", {Ints({2, 3})});
  EXPECT_EQ(zeros.dtype(), DType::kFloat32);
  EXPECT_EQ(Values<float>(zeros), std::vector<float>(6, 0.0f));
  Attribute value;
  value.type = Attribute::Type::kTensor;
  value.t = I64({1}, {7});
  const Tensor sevens = Run1("ConstantOfShape", {Ints({3})}, {{"value", value}});
  EXPECT_EQ(Values<int64_t>(sevens), (std::vector<int64_t>{7, 7, 7}));
  EXPECT_EQ(Run1("ConstantOfShape", {Ints({})}, {{"value", value}}).shape(), (Shape{}));
  EXPECT_EQ(Run1("ConstantOfShape", {Ints({0})}).size(), 0);
  EXPECT_THROW(Run1("ConstantOfShape", {Ints({-1})}), Error);
  value.t = I64({2}, {1, 2});
  EXPECT_THROW(Run1("ConstantOfShape", {Ints({1})}, {{"value", value}}), Error);
}

TEST(ShapeOpsTest, Range) {
  EXPECT_EQ(Values<int64_t>(Run1("Range", {I64({}, {0}), I64({}, {5}), I64({}, {2})})),
            (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(Values<int32_t>(Run1("Range", {I32({}, {10}), I32({}, {4}), I32({}, {-3})})),
            (std::vector<int32_t>{10, 7}));
  EXPECT_EQ(Run1("Range", {I64({}, {5}), I64({}, {0}), I64({}, {1})}).shape(), (Shape{0}));
  // Float values accumulate like ONNX Runtime: 0.1 + 0.1 + 0.1 in float.
  const std::vector<float> f =
      Values<float>(Run1("Range", {F32({}, {0}), F32({}, {0.35f}), F32({}, {0.1f})}));
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[3], 0.1f + 0.1f + 0.1f);
  EXPECT_THROW(Run1("Range", {I64({}, {0}), I64({}, {5}), I64({}, {0})}), Error);
  EXPECT_THROW(Run1("Range", {I64({}, {0}), I32({}, {5}), I64({}, {1})}), Error);
  EXPECT_THROW(Run1("Range", {I64({}, {0}), I64({}, {kMax}), I64({}, {1})}), Error);  // too long
  EXPECT_THROW(InferOnly("Range", {I64({}, {0}), I64({}, {5}), I64({}, {1})}, {false, true, false}),
               Error);
}

// --- Gather family ----------------------------------------------------------------------------

TEST(ShapeOpsTest, Gather) {
  // Embedding lookup: [V, D] by [B, S] ids, with a negative id.
  const Tensor y = Run1("Gather", {Iota({4, 2}), I64({2, 2}, {3, 0, -1, 1})});
  EXPECT_EQ(y.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{6, 7, 0, 1, 6, 7, 2, 3}));
  // Axis 1 with int32 indices and a scalar index (drops the axis).
  EXPECT_EQ(Values<float>(Run1("Gather", {Iota({2, 3}), I32({2}, {2, 0})}, {{"axis", IntAttr(1)}})),
            (std::vector<float>{2, 0, 5, 3}));
  const Tensor scalar = Run1("Gather", {Ints({5, 6, 7}), I64({}, {-1})});
  EXPECT_EQ(scalar.shape(), (Shape{}));
  EXPECT_EQ(Values<int64_t>(scalar), (std::vector<int64_t>{7}));
  EXPECT_EQ(OutShape("Gather", {Iota({3, 2}), I64({0}, {})}), (Shape{0, 2}));
  EXPECT_THROW(Run1("Gather", {Iota({3, 2}), I64({1}, {3})}), Error);
  EXPECT_THROW(Run1("Gather", {Iota({3, 2}), I64({1}, {-4})}), Error);
  EXPECT_THROW(Run1("Gather", {Iota({3, 2}), F32({1}, {0})}), Error);
  EXPECT_THROW(Run1("Gather", {Iota({3, 2}), I64({1}, {0})}, {{"axis", IntAttr(2)}}), Error);
}

TEST(ShapeOpsTest, GatherOutOfRangeAtRunTimeWritesZeros) {
  // Indices that are not constant pass Infer; Run must not read out of bounds or throw.
  Node node;
  node.op_type = "Gather";
  const OpSchema* schema = BuiltinOps().Find("", "Gather", 13);
  KernelInit init{node, schema->since_version, {nullptr, nullptr}};
  const std::unique_ptr<OpKernel> kernel = schema->make(init);
  const Tensor data = Iota({3, 2});
  const Tensor ids = I64({3}, {1, 3, -7});
  const Tensor ids_meta = Tensor::Meta(DType::kInt64, {3});
  std::vector<Tensor> meta(1);
  kernel->Infer({&data, &ids_meta}, &meta);
  Tensor y(meta[0].dtype(), meta[0].shape());
  ThreadPool pool(1);
  RunContext ctx{&pool, false};
  kernel->Run({&data, &ids}, {&y}, ctx);
  EXPECT_EQ(Values<float>(y), (std::vector<float>{2, 3, 0, 0, 0, 0}));
}

TEST(ShapeOpsTest, GatherElements) {
  // The pooling pattern: pick one position per row along axis 1.
  const Tensor y =
      Run1("GatherElements", {Iota({2, 3}), I64({2, 1}, {2, -3})}, {{"axis", IntAttr(1)}});
  EXPECT_EQ(y.shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{2, 3}));
  EXPECT_EQ(Values<float>(Run1("GatherElements", {Iota({3, 2}), I64({2, 2}, {1, 2, 0, 0})})),
            (std::vector<float>{2, 5, 0, 1}));
  EXPECT_THROW(Run1("GatherElements", {Iota({2, 3}), I64({2, 1}, {3, 0})}, {{"axis", IntAttr(1)}}),
               Error);
  EXPECT_THROW(
      Run1("GatherElements", {Iota({2, 3}), I64({3, 1}, {0, 0, 0})}, {{"axis", IntAttr(1)}}),
      Error);
  EXPECT_THROW(Run1("GatherElements", {Iota({2, 3}), I64({2}, {0, 0})}), Error);
}

TEST(ShapeOpsTest, GatherND) {
  // CLIP pooling: hidden [B, S, D] at (batch, eos position) pairs.
  const Tensor y = Run1("GatherND", {Iota({2, 3, 2}), I64({2, 2}, {0, 2, 1, -3})});
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{4, 5, 6, 7}));
  // Full coordinates pick scalars.
  EXPECT_EQ(Values<float>(Run1("GatherND", {Iota({2, 2}), I64({2, 2}, {0, 0, 1, 1})})),
            (std::vector<float>{0, 3}));
  // batch_dims = 1: per batch, index into [S, D].
  const Tensor b =
      Run1("GatherND", {Iota({2, 3, 2}), I64({2, 1}, {2, 0})}, {{"batch_dims", IntAttr(1)}});
  EXPECT_EQ(b.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(b), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_THROW(Run1("GatherND", {Iota({2, 2}), I64({1, 2}, {0, 2})}), Error);
  EXPECT_THROW(Run1("GatherND", {Iota({2, 2}), I64({1, 3}, {0, 0, 0})}), Error);
  EXPECT_THROW(
      Run1("GatherND", {Iota({2, 2}), I64({3, 1}, {0, 0, 0})}, {{"batch_dims", IntAttr(1)}}),
      Error);
}

// --- big copies: the fast paths agree with a plain loop and with any thread count ------------

TEST(ShapeOpsTest, LargeTransposeMatchesNaiveLoop) {
  const int64_t B = 2, S = 67, H = 3, D = 129;  // odd sizes, > 64K elements
  const Tensor x = Iota({B, S, H, D});
  for (const std::vector<int64_t>& perm :
       {std::vector<int64_t>{0, 2, 1, 3}, {0, 1, 3, 2}, {3, 1, 0, 2}}) {
    OpCall c;
    c.op_type = "Transpose";
    c.attrs = {{"perm", IntsAttr(perm)}};
    c.inputs = {x};
    c.threads = 3;
    const Tensor y = RunOp(c)[0];
    const std::vector<int64_t> dims = {B, S, H, D};
    const std::vector<int64_t> strides = DenseStrides(x.shape());
    int64_t o = 0;
    int64_t idx[4];
    for (idx[0] = 0; idx[0] < dims[perm[0]]; ++idx[0])
      for (idx[1] = 0; idx[1] < dims[perm[1]]; ++idx[1])
        for (idx[2] = 0; idx[2] < dims[perm[2]]; ++idx[2])
          for (idx[3] = 0; idx[3] < dims[perm[3]]; ++idx[3], ++o) {
            int64_t src = 0;
            for (int k = 0; k < 4; ++k) src += idx[k] * strides[perm[k]];
            ASSERT_EQ(y.data<float>()[o], static_cast<float>(src));
          }
  }
}

}  // namespace
}  // namespace qclip::test
