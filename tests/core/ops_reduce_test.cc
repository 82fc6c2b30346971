// Reductions, ArgMax/ArgMin and AveragePool through RunOp; expected values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "op_values.h"
#include "ops/op_util.h"

namespace qclip::test {
namespace {

const float kInf = std::numeric_limits<float>::infinity();

// A reduce op with axes as an attribute (opset 17) and as an input (opset 18) must agree.
Tensor ReduceBothForms(const std::string& op, const Tensor& x, const std::vector<int64_t>& axes,
                       int64_t keepdims = 1) {
  std::map<std::string, Attribute> attrs = {{"keepdims", IntAttr(keepdims)}};
  std::map<std::string, Attribute> with_axes = attrs;
  if (!axes.empty()) with_axes["axes"] = IntsAttr(axes);
  const Tensor old_form = Run1(op, {x}, with_axes, 17);
  const Tensor new_form =
      axes.empty() ? Run1(op, {x}, attrs, 18) : Run1(op, {x, Ints(axes)}, attrs, 18);
  EXPECT_EQ(old_form.shape(), new_form.shape());
  EXPECT_EQ(old_form.bytes(), new_form.bytes());
  EXPECT_EQ(std::memcmp(old_form.raw(), new_form.raw(), old_form.bytes()), 0);
  return new_form;
}

TEST(ReduceTest, LastAxis) {
  const Tensor x = Iota({2, 3});
  const Tensor mean = ReduceBothForms("ReduceMean", x, {-1});
  EXPECT_EQ(mean.shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<float>(mean), (std::vector<float>{1, 4}));
  EXPECT_EQ(Values<float>(ReduceBothForms("ReduceSum", x, {1}, 0)), (std::vector<float>{3, 12}));
  EXPECT_EQ(Values<float>(ReduceBothForms("ReduceMax", x, {1})), (std::vector<float>{2, 5}));
  EXPECT_EQ(Values<float>(ReduceBothForms("ReduceMin", x, {1})), (std::vector<float>{0, 3}));
  EXPECT_EQ(Values<float>(ReduceBothForms("ReduceProd", x, {1})), (std::vector<float>{0, 60}));
  const std::vector<float> l2 = Values<float>(ReduceBothForms("ReduceL2", x, {-1}));
  EXPECT_FLOAT_EQ(l2[0], std::sqrt(5.0f));
  EXPECT_FLOAT_EQ(l2[1], std::sqrt(50.0f));
}

TEST(ReduceTest, OtherAxesAndAll) {
  const Tensor x = Iota({2, 3, 2});
  const Tensor middle = ReduceBothForms("ReduceSum", x, {1}, 0);
  EXPECT_EQ(middle.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(middle), (std::vector<float>{6, 9, 24, 27}));
  const Tensor outer = ReduceBothForms("ReduceMax", x, {0, 2});
  EXPECT_EQ(outer.shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(Values<float>(outer), (std::vector<float>{7, 9, 11}));
  const Tensor all = ReduceBothForms("ReduceMean", x, {});
  EXPECT_EQ(all.shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(Values<float>(all), (std::vector<float>{5.5f}));
  EXPECT_EQ(ReduceBothForms("ReduceSum", x, {}, 0).shape(), (Shape{}));
}

TEST(ReduceTest, LongRowsMatchSequentialSumClosely) {
  // 1000-element rows: the 8-lane sum of integers is exact.
  Tensor x(DType::kFloat32, {3, 1000});
  for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = static_cast<float>(i % 1000);
  EXPECT_EQ(Values<float>(Run1("ReduceSum", {x, Ints({1})})), std::vector<float>(3, 499500.0f));
  EXPECT_EQ(Values<float>(Run1("ReduceMean", {x, Ints({1})})), std::vector<float>(3, 499.5f));
}

TEST(ReduceTest, EveryAxisSetMatchesNaiveLoop) {
  // Odd sizes cross the 64-output column blocks and the 8-lane runs; integer-valued floats keep
  // every summation order exact.
  const int64_t A = 3, B = 70, C = 130;
  Tensor x(DType::kFloat32, {A, B, C});
  for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = static_cast<float>(i % 13);
  for (int mask = 1; mask < 8; ++mask) {
    std::vector<int64_t> axes;
    for (int d = 0; d < 3; ++d) {
      if (mask & (1 << d)) axes.push_back(d);
    }
    OpCall c;
    c.op_type = "ReduceSum";
    c.inputs = {x, Ints(axes)};
    c.threads = 3;
    const Tensor y = RunOp(c)[0];
    std::vector<float> expected(static_cast<size_t>(y.size()), 0.0f);
    for (int64_t a = 0; a < A; ++a) {
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t k = 0; k < C; ++k) {
          const int64_t oa = (mask & 1) ? 0 : a, ob = (mask & 2) ? 0 : b, ok = (mask & 4) ? 0 : k;
          const int64_t nb = (mask & 2) ? 1 : B, nk = (mask & 4) ? 1 : C;
          expected[static_cast<size_t>((oa * nb + ob) * nk + ok)] +=
              x.data<float>()[(a * B + b) * C + k];
        }
      }
    }
    EXPECT_EQ(Values<float>(y), expected) << "mask " << mask;
  }
}

TEST(ReduceTest, NoopWithEmptyAxesAndIntegers) {
  const Tensor x = I64({2, 2}, {1, -2, 3, 4});
  const Tensor same = Run1("ReduceSum", {x, Ints({})}, {{"noop_with_empty_axes", IntAttr(1)}});
  EXPECT_EQ(same.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<int64_t>(same), (std::vector<int64_t>{1, -2, 3, 4}));
  const Tensor absent = Run1("ReduceProd", {x}, {{"noop_with_empty_axes", IntAttr(1)}});
  EXPECT_EQ(Values<int64_t>(absent), (std::vector<int64_t>{1, -2, 3, 4}));
  EXPECT_EQ(Values<int64_t>(Run1("ReduceSum", {x, Ints({0})}, {{"keepdims", IntAttr(0)}}, 13)),
            (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(Values<int64_t>(ReduceBothForms("ReduceMean", x, {1}, 0)),
            (std::vector<int64_t>{0, 3}));
}

TEST(ReduceTest, EmptyReductions) {
  const Tensor x = F32({2, 0}, {});
  EXPECT_EQ(Values<float>(Run1("ReduceSum", {x, Ints({1})})), (std::vector<float>{0, 0}));
  EXPECT_EQ(Values<float>(Run1("ReduceMax", {x, Ints({1})})), (std::vector<float>{-kInf, -kInf}));
  EXPECT_EQ(Values<float>(Run1("ReduceProd", {x, Ints({1})})), (std::vector<float>{1, 1}));
  EXPECT_TRUE(std::isnan(Values<float>(Run1("ReduceMean", {x, Ints({1})}))[0]));
  EXPECT_EQ(Run1("ReduceSum", {x, Ints({0})}).shape(), (Shape{1, 0}));
}

TEST(ReduceTest, Float16) {
  Tensor x(DType::kFloat16, {1, 3});
  for (int i = 0; i < 3; ++i) x.data<uint16_t>()[i] = FloatToHalf(static_cast<float>(i + 1));
  const Tensor y = Run1("ReduceMean", {x, Ints({1})});
  ASSERT_EQ(y.dtype(), DType::kFloat16);
  EXPECT_EQ(HalfToFloat(y.data<uint16_t>()[0]), 2.0f);
}

TEST(ReduceTest, Errors) {
  EXPECT_THROW(Run1("ReduceSum", {Iota({2, 3}), Ints({2})}), Error);
  EXPECT_THROW(Run1("ReduceSum", {Iota({2, 3}), Ints({1, -1})}), Error);
  EXPECT_THROW(Run1("ReduceMean", {Iota({2, 3}), Ints({1})}, {}, 17), Error);  // no input form yet
  EXPECT_THROW(Run1("ReduceMax", {Bool({1}, {1}), Ints({0})}), Error);
  // A non-constant axes input cannot be planned.
  Node node;
  node.op_type = "ReduceSum";
  const OpSchema* schema = BuiltinOps().Find("", "ReduceSum", 13);
  KernelInit init{node, schema->since_version, {nullptr, nullptr}};
  const Tensor x = Iota({2});
  const Tensor axes = Tensor::Meta(DType::kInt64, {1});
  std::vector<Tensor> out(1);
  EXPECT_THROW(schema->make(init)->Infer({&x, &axes}, &out), Error);
}

TEST(ReduceTest, ArgMaxArgMin) {
  const Tensor x = F32({2, 3}, {1, 5, 5, 7, 0, 7});
  const Tensor first = Run1("ArgMax", {x}, {{"axis", IntAttr(-1)}, {"keepdims", IntAttr(0)}});
  EXPECT_EQ(first.dtype(), DType::kInt64);
  EXPECT_EQ(first.shape(), (Shape{2}));
  EXPECT_EQ(Values<int64_t>(first), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(Values<int64_t>(
                Run1("ArgMax", {x}, {{"axis", IntAttr(1)}, {"select_last_index", IntAttr(1)}})),
            (std::vector<int64_t>{2, 2}));
  const Tensor columns = Run1("ArgMin", {x});
  EXPECT_EQ(columns.shape(), (Shape{1, 3}));
  EXPECT_EQ(Values<int64_t>(columns), (std::vector<int64_t>{0, 1, 0}));
  // CLIP pooling: argmax of the token ids finds <|endoftext|>.
  EXPECT_EQ(Values<int64_t>(Run1("ArgMax", {I64({1, 4}, {49406, 320, 49407, 49407})},
                                 {{"axis", IntAttr(-1)}, {"keepdims", IntAttr(0)}})),
            (std::vector<int64_t>{2}));
  EXPECT_THROW(Run1("ArgMax", {F32({2, 0}, {})}, {{"axis", IntAttr(1)}}), Error);
}

// --- AveragePool ------------------------------------------------------------------------------

Tensor Pool(const Tensor& x, std::map<std::string, Attribute> attrs) {
  return Run1("AveragePool", {x}, std::move(attrs), 18);
}

TEST(PoolTest, TwoByTwo) {
  // The MedGemma-style 2x2 / stride 2 pool on a 4x4 plane.
  const Tensor y = Pool(Iota({1, 1, 4, 4}), {{"kernel_shape", IntsAttr({2, 2})},
                                             {"strides", IntsAttr({2, 2})},
                                             {"pads", IntsAttr({0, 0, 0, 0})},
                                             {"count_include_pad", IntAttr(1)}});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f}));
}

TEST(PoolTest, PaddingAndCeilMode) {
  const Tensor x = Iota({1, 1, 3, 3});  // 0..8
  // Pad 1 on every side, 2x2 windows, stride 2 -> 2x2 outputs.
  std::map<std::string, Attribute> attrs = {{"kernel_shape", IntsAttr({2, 2})},
                                            {"strides", IntsAttr({2, 2})},
                                            {"pads", IntsAttr({1, 1, 1, 1})}};
  // Excluding pads: the corner window covers only x[0][0].
  EXPECT_EQ(Values<float>(Pool(x, attrs)), (std::vector<float>{0.0f, 1.5f, 4.5f, 6.0f}));
  attrs["count_include_pad"] = IntAttr(1);
  EXPECT_EQ(Values<float>(Pool(x, attrs)), (std::vector<float>{0.0f, 0.75f, 2.25f, 6.0f}));
  // ceil_mode: 3x3 input, 2x2 kernel, stride 2, no pads -> 2x2 with partial last windows.
  const Tensor ceil = Pool(x, {{"kernel_shape", IntsAttr({2, 2})},
                               {"strides", IntsAttr({2, 2})},
                               {"ceil_mode", IntAttr(1)}});
  EXPECT_EQ(ceil.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(Values<float>(ceil), (std::vector<float>{2.0f, 3.5f, 6.5f, 8.0f}));
  const Tensor floor = Pool(x, {{"kernel_shape", IntsAttr({2, 2})}, {"strides", IntsAttr({2, 2})}});
  EXPECT_EQ(floor.shape(), (Shape{1, 1, 1, 1}));
  // SAME_UPPER with stride 1 keeps the size.
  EXPECT_EQ(
      Pool(x, {{"kernel_shape", IntsAttr({2, 2})}, {"auto_pad", StringAttr("SAME_UPPER")}}).shape(),
      (Shape{1, 1, 3, 3}));
}

TEST(PoolTest, OneDimensionalAndChannels) {
  const Tensor y =
      Pool(Iota({1, 2, 4}), {{"kernel_shape", IntsAttr({2})}, {"strides", IntsAttr({2})}});
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{0.5f, 2.5f, 4.5f, 6.5f}));
}

TEST(PoolTest, Errors) {
  EXPECT_THROW(Pool(Iota({1, 1, 4, 4}), {}), Error);
  EXPECT_THROW(Pool(Iota({1, 4, 4}), {{"kernel_shape", IntsAttr({2, 2})}}), Error);
  EXPECT_THROW(Pool(Iota({1, 1, 1, 1}), {{"kernel_shape", IntsAttr({2, 2})}}), Error);
  EXPECT_THROW(
      Pool(Iota({1, 1, 4, 4}), {{"kernel_shape", IntsAttr({2, 2})}, {"strides", IntsAttr({0, 1})}}),
      Error);
  EXPECT_THROW(
      Pool(Iota({1, 1, 4, 4}), {{"kernel_shape", IntsAttr({2, 2})}, {"pads", IntsAttr({1, 1})}}),
      Error);
}

}  // namespace
}  // namespace qclip::test
