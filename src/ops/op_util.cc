#include "ops/op_util.h"

#include <algorithm>

namespace qclip {

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
    throw Error("expected " + std::to_string(min_inputs) +
                (max_inputs != min_inputs ? ".." + std::to_string(max_inputs) : "") +
                " inputs, got " + std::to_string(in.size()));
  }
  for (size_t i = 0; i < min_inputs; ++i) {
    if (in[i] == nullptr) throw Error("required input " + std::to_string(i) + " is missing");
  }
}

}  // namespace qclip
