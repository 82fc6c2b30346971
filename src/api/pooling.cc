#include "api/pooling.h"

#include <cmath>

#include "qclip/error.h"

namespace qclip {

Tensor Pool(const Tensor& output, const std::vector<int64_t>& mask, Pooling pooling) {
  if (output.dtype() != DType::kFloat32) throw Error("the model's output must be float32");
  if (output.rank() == 2) {
    if (pooling == Pooling::kCls || pooling == Pooling::kMean) {
      throw Error("the model's output is already one vector per input " +
                  ShapeToString(output.shape()) + "; use pooling none");
    }
    return output;
  }
  if (output.rank() != 3) {
    throw Error("the model's output " + ShapeToString(output.shape()) +
                " is neither [batch, dim] nor [batch, sequence, dim]");
  }
  if (pooling == Pooling::kNone) {
    throw Error("the model outputs token states " + ShapeToString(output.shape()) +
                "; choose cls or mean pooling");
  }
  const int64_t batch = output.dim(0), seq = output.dim(1), dim = output.dim(2);
  if (static_cast<int64_t>(mask.size()) != batch * seq) {
    throw Error("the model's output " + ShapeToString(output.shape()) +
                " does not match the token batch");
  }
  Tensor pooled(DType::kFloat32, {batch, dim});
  for (int64_t b = 0; b < batch; ++b) {
    float* dst = pooled.data<float>() + b * dim;
    const float* states = output.data<float>() + b * seq * dim;
    if (pooling == Pooling::kCls) {
      for (int64_t d = 0; d < dim; ++d) dst[d] = states[d];
      continue;
    }
    // Mean over kept tokens, as sentence-transformers: sum(h * mask) / max(sum(mask), 1e-9).
    std::vector<double> sum(static_cast<size_t>(dim), 0.0);
    double count = 0;
    for (int64_t s = 0; s < seq; ++s) {
      if (mask[static_cast<size_t>(b * seq + s)] == 0) continue;
      count += 1;
      for (int64_t d = 0; d < dim; ++d) sum[static_cast<size_t>(d)] += states[s * dim + d];
    }
    for (int64_t d = 0; d < dim; ++d) {
      dst[d] = static_cast<float>(sum[static_cast<size_t>(d)] / std::max(count, 1e-9));
    }
  }
  return pooled;
}

void NormalizeL2(float* x, int64_t n) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::max(std::sqrt(ss), 1e-12));
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace qclip
