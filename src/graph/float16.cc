#include <cstring>

#include "graph/passes.h"

namespace qclip {

namespace {

bool Is(const Node& n, const char* op) { return n.domain.empty() && n.op_type == op; }

}  // namespace

void PromoteFloat16(Graph& g) {
  for (Value& v : g.values) {
    if (v.dtype == DType::kFloat16) v.dtype = DType::kFloat32;
    if (!v.is_constant() || v.constant.dtype() != DType::kFloat16) continue;
    const Tensor& h = v.constant;
    Tensor f(DType::kFloat32, h.shape());
    const uint16_t* src = h.data<uint16_t>();
    for (int64_t i = 0; i < h.size(); ++i) {
      // IEEE binary16 -> binary32, exact for every value (subnormals, inf and NaN included).
      const uint32_t sign = (src[i] & 0x8000u) << 16;
      uint32_t exp = (src[i] >> 10) & 0x1f;
      uint32_t man = src[i] & 0x3ffu;
      uint32_t bits;
      if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
      } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
      } else if (man == 0) {
        bits = sign;
      } else {
        exp = 113;
        while ((man & 0x400u) == 0) {
          man <<= 1;
          --exp;
        }
        bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
      }
      std::memcpy(&f.data<float>()[i], &bits, 4);
    }
    v.constant = std::move(f);
  }
  for (Node& n : g.nodes) {
    if (Is(n, "Cast") && n.GetInt("to") == static_cast<int64_t>(DType::kFloat16)) {
      n.attrs["to"].i = static_cast<int64_t>(DType::kFloat32);
    }
    if (Is(n, "ConstantOfShape") && n.has("value") &&
        n.GetTensor("value").dtype() == DType::kFloat16) {
      Graph tmp;  // reuse the conversion above on the attribute tensor
      tmp.values.resize(1);
      tmp.values[0].constant = n.GetTensor("value");
      PromoteFloat16(tmp);
      n.attrs["value"].t = tmp.values[0].constant;
    }
  }
}

}  // namespace qclip
