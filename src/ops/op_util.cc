#include "ops/op_util.h"

#include <algorithm>
#include <cstring>

namespace qclip {

void CopyData(const Tensor& src, Tensor& dst) {
  if (dst.raw() != src.raw() && src.bytes() != 0) std::memcpy(dst.raw(), src.raw(), src.bytes());
}

int NormalizeAxis(int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) {
    throw Error("axis " + std::to_string(axis) + " is out of range for rank " +
                std::to_string(rank));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

Shape BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw Error("shapes " + ShapeToString(a) + " and " + ShapeToString(b) +
                  " cannot be broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> BroadcastStrides(const Shape& shape, int out_rank) {
  std::vector<int64_t> strides(static_cast<size_t>(out_rank), 0);
  int64_t stride = 1;
  const int offset = out_rank - static_cast<int>(shape.size());
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    const int64_t d = shape[static_cast<size_t>(i)];
    strides[static_cast<size_t>(i + offset)] = d == 1 ? 0 : stride;
    stride *= d;
  }
  return strides;
}

int64_t DimProduct(const Shape& shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end; ++i) n *= shape[i];
  return n;
}

std::vector<int64_t> DenseStrides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i > 1; --i) strides[i - 2] = strides[i - 1] * shape[i - 1];
  return strides;
}

std::vector<int64_t> ReadInts(const Tensor* t, const char* what) {
  if (t == nullptr) throw Error(std::string(what) + " is missing");
  if (!t->has_data()) {
    throw Error(std::string(what) +
                " must be a constant or computed from input shapes only; qclip does not support "
                "data-dependent shapes");
  }
  std::vector<int64_t> v(static_cast<size_t>(t->size()));
  if (t->dtype() == DType::kInt64) {
    std::copy(t->data<int64_t>(), t->data<int64_t>() + t->size(), v.begin());
  } else if (t->dtype() == DType::kInt32) {
    std::copy(t->data<int32_t>(), t->data<int32_t>() + t->size(), v.begin());
  } else {
    throw Error(std::string(what) + " must be int64 or int32, got " + DTypeName(t->dtype()));
  }
  return v;
}

std::vector<int> NormalizeAxes(const std::vector<int64_t>& axes, int rank) {
  std::vector<int> out;
  for (int64_t axis : axes) {
    const int a = NormalizeAxis(axis, rank);
    if (std::find(out.begin(), out.end(), a) != out.end()) {
      throw Error("axis " + std::to_string(axis) + " is repeated");
    }
    out.push_back(a);
  }
  return out;
}

void RequireDType(const Tensor& t, std::initializer_list<DType> allowed, const char* what) {
  for (DType d : allowed) {
    if (t.dtype() == d) return;
  }
  std::string names;
  for (DType d : allowed) names += std::string(names.empty() ? "" : "/") + DTypeName(d);
  throw Error(std::string(what) + " has dtype " + DTypeName(t.dtype()) + ", expected " + names);
}

void RequireInputs(const std::vector<const Tensor*>& in, size_t min_inputs, size_t max_inputs) {
  if (in.size() < min_inputs || in.size() > max_inputs) {
    const std::string range = max_inputs == SIZE_MAX     ? "at least " + std::to_string(min_inputs)
                              : max_inputs == min_inputs ? std::to_string(min_inputs)
                                                         : std::to_string(min_inputs) + " to " +
                                                               std::to_string(max_inputs);
    throw Error("expected " + range + " inputs, got " + std::to_string(in.size()));
  }
  for (size_t i = 0; i < min_inputs; ++i) {
    if (in[i] == nullptr) throw Error("required input " + std::to_string(i) + " is missing");
  }
}

UnaryOp ReadActivation(const Node& node) {
  const std::string name = node.GetString("activation", "");
  if (name.empty()) return UnaryOp::kIdentity;
  if (name == "gelu") return UnaryOp::kGeluErf;
  if (name == "gelu_tanh") return UnaryOp::kGeluTanh;
  throw Error("activation must be \"gelu\" or \"gelu_tanh\", got \"" + name + "\"");
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float32.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  // Normal: rebias the exponent (15 -> 127); infinity and NaN keep the all-ones exponent.
  const uint32_t bits =
      sign | (exponent == 0x1F ? 0x7F800000u : (exponent + 112) << 23) | (mantissa << 13);
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

uint16_t FloatToHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) {  // NaN: keep the top payload bits, force quiet
    return static_cast<uint16_t>(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
  }
  // 65520 (0x477FF000) lies halfway between 65504, the largest half, and 2^16: ties-to-even
  // rounds it, and everything above, to infinity.
  if (magnitude >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);
  if (magnitude >= 0x38800000u) {  // >= 2^-14: a normal half
    // Rebias the exponent (127 -> 15) and round 23 mantissa bits to 10, to nearest even; a
    // carry out of the mantissa correctly bumps the exponent.
    const uint32_t rebased = magnitude - 0x38000000u;
    const uint32_t rounded = rebased + 0xFFFu + ((rebased >> 13) & 1u);
    return static_cast<uint16_t>(sign | (rounded >> 13));
  }
  // Subnormal half (or zero): the value in units of 2^-24, rounded to nearest even. 1024 units
  // encodes as the smallest normal, which is also correct.
  const uint32_t exponent = magnitude >> 23;
  if (exponent < 102) return sign;                                // below 2^-25: rounds to zero
  const uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;  // value = mantissa * 2^(e-150)
  const uint32_t shift = 126 - exponent;                          // in [14, 24]
  uint32_t units = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (units & 1u))) ++units;
  return static_cast<uint16_t>(sign | units);
}

}  // namespace qclip
