// Turning model outputs into one embedding per input: pooling and L2 normalisation.
#pragma once

#include <cstdint>
#include <vector>

#include "qclip/encoder.h"
#include "qclip/tensor.h"

namespace qclip {

// `output`: float32 [batch, dim] or [batch, sequence, dim]; `mask`: [batch * sequence] 0/1
// (ignored for rank-2 outputs). Returns [batch, dim]. kAuto: rank 2 as is, rank 3 mean.
Tensor Pool(const Tensor& output, const std::vector<int64_t>& mask, Pooling pooling);

// x / max(||x||, 1e-12), as torch.nn.functional.normalize.
void NormalizeL2(float* x, int64_t n);

}  // namespace qclip
