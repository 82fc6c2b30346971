// FP32 GEMM: register-blocked microkernel over packed panels of B, and the tile loop around it.
// Included per SIMD target by kernels/gemm_f32.cc and by fused kernels built on the tile loop.

// Per-target include guard.
#if defined(QCLIP_KERNELS_GEMM_F32_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QCLIP_KERNELS_GEMM_F32_INL_H_
#undef QCLIP_KERNELS_GEMM_F32_INL_H_
#else
#define QCLIP_KERNELS_GEMM_F32_INL_H_
#endif

#include <stddef.h>

#include <string.h>

#include <algorithm>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/activation-inl.h"
#include "kernels/gemm_f32.h"
#include "kernels/partial_vector-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qclip {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The microkernel keeps a kGemmRows x kGemmVectors block of C in registers: 24 of AVX-512's 32
// registers (plus 4 for the B row and 1 for the broadcast A value), 12 of the 16 on other x86
// targets. Per k it loads kGemmVectors vectors of B and broadcasts kGemmRows values of A for
// kGemmRows * kGemmVectors independent FMAs, enough to cover the FMA latency on two pipes.
constexpr size_t kGemmRows = 6;
#if HWY_ARCH_X86 && HWY_TARGET > HWY_AVX3
constexpr size_t kGemmVectors = 2;
#else
constexpr size_t kGemmVectors = 4;
#endif

// K is split into blocks of kGemmDepth: a block of a B panel (kGemmDepth x 64 floats, 128 KiB)
// stays in L2 while the tile's row blocks stream past it, and each row block's slice of A
// (6 x kGemmDepth) stays in L1. Deeper blocks reload C less often; 512 measured best on Zen 5
// for K = 768 and 3072 (256 and 768 within a few percent).
constexpr size_t kGemmDepth = 512;

// Lanes [0, count) of a vector at p, for count possibly past the vector's end; zero elsewhere.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V LoadUpTo(D d, const float* p, size_t count) {
  return LoadFirstN(d, p, std::min(count, hn::Lanes(d)));
}

template <class D, class V = hn::Vec<D>>
HWY_INLINE void StoreUpTo(D d, V v, float* p, size_t count) {
  StoreFirstN(v, d, p, std::min(count, hn::Lanes(d)));
}

// Rows of B that the microkernel asks the cache for while it computes, one per k step: a share of
// the block of B that comes next (kGemmPanelWidth floats per row, rows ld floats apart), so that
// the first row group to use that block does not wait for memory. `rows` may be 0.
struct PrefetchRows {
  const float* data = nullptr;
  size_t ld = 0;
  size_t rows = 0;
};

// C[0:kRows, 0:width] = init + bias + A[0:kRows, 0:kc] · B[0:kc, 0:width] with B rows
// kGemmPanelWidth floats apart (a slice of a packed panel), width <= kVecs * Lanes(d), and
// init and bias zero where null; init has row stride ld_init and may equal C. Prefetches `next`.
template <size_t kRows, size_t kVecs, class D>
HWY_INLINE void MicroKernel(D d, const float* a, size_t lda, const float* HWY_RESTRICT b, size_t kc,
                            const PrefetchRows& next, const float* init, size_t ld_init,
                            const float* bias, float* c, size_t ldc, size_t width) {
  using V = hn::Vec<D>;
  const size_t N = hn::Lanes(d);
  // Valid lanes of vector j of a row: N except in the last, partial panel.
  auto lanes = [width, N](size_t j) { return width > j * N ? width - j * N : 0; };

  V acc[kRows][kVecs];
  for (size_t j = 0; j < kVecs; ++j) {
    const V bias_j = bias != nullptr ? LoadUpTo(d, bias + j * N, lanes(j)) : hn::Zero(d);
    for (size_t r = 0; r < kRows; ++r) {
      const V init_rj =
          init != nullptr ? LoadUpTo(d, init + r * ld_init + j * N, lanes(j)) : hn::Zero(d);
      acc[r][j] = hn::Add(init_rj, bias_j);
    }
  }

  for (size_t k = 0; k < kc; ++k) {
    if (k < next.rows) {
      for (size_t col = 0; col < kGemmPanelWidth; col += 64 / sizeof(float)) {
        hwy::Prefetch(next.data + k * next.ld + col);
      }
    }
    V b_k[kVecs];
    for (size_t j = 0; j < kVecs; ++j) {
      b_k[j] = hn::LoadU(d, b + k * kGemmPanelWidth + j * N);
    }
    for (size_t r = 0; r < kRows; ++r) {
      const V a_rk = hn::Set(d, a[r * lda + k]);
      for (size_t j = 0; j < kVecs; ++j) acc[r][j] = hn::MulAdd(a_rk, b_k[j], acc[r][j]);
    }
  }

  for (size_t r = 0; r < kRows; ++r) {
    for (size_t j = 0; j < kVecs; ++j) {
      StoreUpTo(d, acc[r][j], c + r * ldc + j * N, lanes(j));
    }
  }
}

// MicroKernel<kRows, kVecs> for `rows` <= kGemmRows rows.
template <size_t kVecs, class D>
HWY_INLINE void MicroKernelRowsOf(D d, size_t rows, const float* a, size_t lda, const float* b,
                                  size_t kc, const PrefetchRows& next, const float* init,
                                  size_t ld_init, const float* bias, float* c, size_t ldc,
                                  size_t width) {
  switch (rows) {
    case 6:
      return MicroKernel<6, kVecs>(d, a, lda, b, kc, next, init, ld_init, bias, c, ldc, width);
    case 5:
      return MicroKernel<5, kVecs>(d, a, lda, b, kc, next, init, ld_init, bias, c, ldc, width);
    case 4:
      return MicroKernel<4, kVecs>(d, a, lda, b, kc, next, init, ld_init, bias, c, ldc, width);
    case 3:
      return MicroKernel<3, kVecs>(d, a, lda, b, kc, next, init, ld_init, bias, c, ldc, width);
    case 2:
      return MicroKernel<2, kVecs>(d, a, lda, b, kc, next, init, ld_init, bias, c, ldc, width);
    case 1:
      return MicroKernel<1, kVecs>(d, a, lda, b, kc, next, init, ld_init, bias, c, ldc, width);
  }
}

// MicroKernel for `rows` <= kGemmRows rows (the last row block of a tile may be partial) and
// width <= kGemmVectors * Lanes(d): one vector's columns take the one-vector kernel, so that the
// last, narrow panel of an attention's scores (197 = 3 x 64 + 5 keys; a short query's 8) is not
// computed 64 columns wide. Same bits: a column's sum does not depend on its neighbours.
template <class D>
HWY_INLINE void MicroKernelRows(D d, size_t rows, const float* a, size_t lda, const float* b,
                                size_t kc, const PrefetchRows& next, const float* init,
                                size_t ld_init, const float* bias, float* c, size_t ldc,
                                size_t width) {
  static_assert(kGemmRows == 6, "one case per row count");
  if (width <= hn::Lanes(d) && kGemmVectors > 1) {
    return MicroKernelRowsOf<1>(d, rows, a, lda, b, kc, next, init, ld_init, bias, c, ldc, width);
  }
  MicroKernelRowsOf<kGemmVectors>(d, rows, a, lda, b, kc, next, init, ld_init, bias, c, ldc, width);
}

// Computes C[rows, cols] for rows [row0, row1) and columns [col0, col1), col0 a multiple of
// kGemmPanelWidth. panel(p, k0, kc) returns rows [k0, k0 + kc) of B's panel p (kc x 64 floats),
// and source(p, k0) where those rows lie before any packing, as {first row, row stride}: while
// one block's row groups pass, each prefetches its share of the next block's source rows (the
// hardware prefetcher alone leaves the first pass over a block waiting for memory).
// Every output sums over k in the same order (k blocks in turn, k ascending within a block),
// independent of the tile bounds.
template <class D, class PanelSource, class SourceRows>
HWY_INLINE void GemmTileLoop(D d, const float* a, size_t lda, size_t k, const PanelSource& panel,
                             const SourceRows& source, float* c, size_t ldc, size_t row0,
                             size_t row1, size_t col0, size_t col1, const GemmEpilogue& epilogue) {
  const size_t pass_width = kGemmVectors * hn::Lanes(d);
  const size_t k_blocks = k == 0 ? 1 : (k + kGemmDepth - 1) / kGemmDepth;  // k = 0: C = bias + R
  const size_t groups = (row1 - row0 + kGemmRows - 1) / kGemmRows;
  for (size_t kb = 0; kb < k_blocks; ++kb) {
    const size_t k0 = kb * kGemmDepth;
    const size_t kc = std::min(kGemmDepth, k - k0);
    for (size_t p0 = col0; p0 < col1; p0 += kGemmPanelWidth) {
      const float* b = panel(p0 / kGemmPanelWidth, k0, kc);
      // The next block: this k block's next panel, else the next k block's first.
      PrefetchRows next;
      if (p0 + kGemmPanelWidth < col1) {
        next = source((p0 + kGemmPanelWidth) / kGemmPanelWidth, k0);
        next.rows = kc;
      } else if (kb + 1 < k_blocks) {
        next = source(col0 / kGemmPanelWidth, k0 + kGemmDepth);
        next.rows = std::min(kGemmDepth, k - k0 - kGemmDepth);
      }
      if (next.data == nullptr) next.rows = 0;
      // One pass on AVX-512; narrower vectors take several passes over the panel.
      for (size_t pass = 0; pass < kGemmPanelWidth && p0 + pass < col1; pass += pass_width) {
        const size_t col = p0 + pass;
        const size_t width = std::min(pass_width, col1 - col);
        const float* bias = epilogue.bias != nullptr && kb == 0 ? epilogue.bias + col : nullptr;
        for (size_t row = row0; row < row1; row += kGemmRows) {
          // The first k block starts from the addend, later ones from the partial sums in C.
          const float* init = c + row * ldc + col;
          size_t ld_init = ldc;
          if (kb == 0) {
            init = epilogue.addend != nullptr ? epilogue.addend + row * epilogue.ld_addend + col
                                              : nullptr;
            ld_init = epilogue.ld_addend;
          }
          PrefetchRows share;  // row group g's rows of the next block, in the first pass
          if (pass == 0 && next.rows != 0) {
            const size_t g = (row - row0) / kGemmRows;
            const size_t first = g * next.rows / groups, end = (g + 1) * next.rows / groups;
            share = {next.data + first * next.ld, next.ld, std::min(end - first, kc)};
          }
          MicroKernelRows(d, std::min(kGemmRows, row1 - row), a + row * lda + k0, lda, b + pass, kc,
                          share, init, ld_init, bias, c + row * ldc + col, ldc, width);
        }
      }
    }
  }
  if (epilogue.row_scale != nullptr) {
    for (size_t row = row0; row < row1; ++row) {
      ScaleRow(d, epilogue.row_scale[row], c + row * ldc + col0, col1 - col0);
    }
  }
  if (epilogue.activation != UnaryOp::kIdentity) {
    for (size_t row = row0; row < row1; ++row) {
      float* c_row = c + row * ldc + col0;
      UnaryRow(d, epilogue.activation, c_row, c_row, col1 - col0);
    }
  }
}

// One tile of C = A · B with B packed once.
HWY_INLINE void GemmPackedTile(const float* a, size_t lda, const PackedGemmB& b, float* c,
                               size_t ldc, const GemmTileBounds& t, const GemmEpilogue& epilogue) {
  const hn::ScalableTag<float> d;
  auto panel = [&b](size_t p, size_t k0, size_t)
                   HWY_ATTR { return b.panel(p) + k0 * kGemmPanelWidth; };
  auto source = [&b](size_t p, size_t k0) HWY_ATTR {
    return PrefetchRows{b.panel(p) + k0 * kGemmPanelWidth, kGemmPanelWidth};
  };
  GemmTileLoop(d, a, lda, b.k(), panel, source, c, ldc, t.row0, t.row1, t.col0, t.col1, epilogue);
}

// Rows [k0, k0 + kc) of B's columns [col0, col0 + kGemmPanelWidth), scaled, as kc rows of
// kGemmPanelWidth floats, zero past column n: PackGemmPanel (gemm_f32.h) for one target. B may
// lie at any alignment (a weight viewed in a mapped file): it is read with unaligned loads, values
// at the edges with memcpy. A transposed B (attention's Kᵀ) is read as 4 x 4 blocks of its rows,
// transposed in 128-bit vectors.
HWY_INLINE void PackPanel(const GemmBView& b, size_t k0, size_t kc, size_t col0, float* out) {
  const size_t width = std::min<size_t>(kGemmPanelWidth, static_cast<size_t>(b.n) - col0);
  const auto* bytes = reinterpret_cast<const unsigned char*>(b.data);
  const auto at = [&](size_t row, size_t col) {  // B's storage row `row`, element `col`
    return bytes + (row * static_cast<size_t>(b.ld) + col) * sizeof(float);
  };
  const auto value = [&](const unsigned char* p) {
    float v;
    memcpy(&v, p, sizeof(v));
    return v * b.scale;
  };
  // The vector loops write columns [0, j) of rows [0, k4); the loop at the end the rest.
  size_t j = 0, k4 = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::Full128<float> d4;
  using V4 = hn::Vec<decltype(d4)>;
  const V4 scale = hn::Set(d4, b.scale);
  const auto load4 = [&](const unsigned char* p)
                         HWY_ATTR { return hn::LoadU(d4, reinterpret_cast<const float*>(p)); };
  const size_t width4 = width - width % 4;
  if (b.transposed) {  // panel column j is storage row col0 + j, contiguous along k
    k4 = kc - kc % 4;
    for (; j < width4; j += 4) {
      for (size_t k = 0; k < k4; k += 4) {
        const V4 r0 = load4(at(col0 + j, k0 + k)), r1 = load4(at(col0 + j + 1, k0 + k));
        const V4 r2 = load4(at(col0 + j + 2, k0 + k)), r3 = load4(at(col0 + j + 3, k0 + k));
        const V4 t0 = hn::InterleaveLower(d4, r0, r1), t1 = hn::InterleaveLower(d4, r2, r3);
        const V4 t2 = hn::InterleaveUpper(d4, r0, r1), t3 = hn::InterleaveUpper(d4, r2, r3);
        float* o = out + k * kGemmPanelWidth + j;
        hn::StoreU(hn::Mul(hn::ConcatLowerLower(d4, t1, t0), scale), d4, o);
        hn::StoreU(hn::Mul(hn::ConcatUpperUpper(d4, t1, t0), scale), d4, o + kGemmPanelWidth);
        hn::StoreU(hn::Mul(hn::ConcatLowerLower(d4, t3, t2), scale), d4, o + 2 * kGemmPanelWidth);
        hn::StoreU(hn::Mul(hn::ConcatUpperUpper(d4, t3, t2), scale), d4, o + 3 * kGemmPanelWidth);
      }
    }
  } else if (width == kGemmPanelWidth && b.scale == 1.0f) {  // whole rows: copied in vectors
    const hn::ScalableTag<float> d;
    for (size_t k = 0; k < kc; ++k) {
      const auto* row = reinterpret_cast<const float*>(at(k0 + k, col0));
      for (size_t jj = 0; jj < kGemmPanelWidth; jj += hn::Lanes(d)) {
        hn::StoreU(hn::LoadU(d, row + jj), d, out + k * kGemmPanelWidth + jj);
      }
    }
    return;
  } else {  // panel row k is part of storage row k0 + k
    k4 = kc;
    for (size_t k = 0; k < kc; ++k) {
      for (size_t jj = 0; jj < width4; jj += 4) {
        hn::StoreU(hn::Mul(load4(at(k0 + k, col0 + jj)), scale), d4,
                   out + k * kGemmPanelWidth + jj);
      }
    }
    j = width4;
  }
#endif
  for (size_t k = 0; k < kc; ++k) {
    for (size_t jj = k < k4 ? j : 0; jj < width; ++jj) {
      out[k * kGemmPanelWidth + jj] =
          value(b.transposed ? at(col0 + jj, k0 + k) : at(k0 + k, col0 + jj));
    }
    std::fill(out + k * kGemmPanelWidth + width, out + (k + 1) * kGemmPanelWidth, 0.0f);
  }
}

// One tile of C = A · B with B packed block by block into a buffer on the stack (128 KiB) that
// stays in cache while the tile's rows use it.
HWY_INLINE void GemmViewTile(const float* a, size_t lda, const GemmBView& b, float* c, size_t ldc,
                             const GemmTileBounds& t, const GemmEpilogue& epilogue) {
  const hn::ScalableTag<float> d;
  HWY_ALIGN float buf[kGemmDepth * kGemmPanelWidth];
  auto panel = [&b, &buf](size_t p, size_t k0, size_t kc) HWY_ATTR {
    PackPanel(b, k0, kc, p * kGemmPanelWidth, buf);
    return static_cast<const float*>(buf);
  };
  // Transposed (attention's Kᵀ, small and in cache): no prefetch.
  auto source = [&b](size_t p, size_t k0) HWY_ATTR {
    return b.transposed
               ? PrefetchRows{}
               : PrefetchRows{b.data + k0 * b.ld + p * kGemmPanelWidth, static_cast<size_t>(b.ld)};
  };
  GemmTileLoop(d, a, lda, b.k, panel, source, c, ldc, t.row0, t.row1, t.col0, t.col1, epilogue);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace qclip
HWY_AFTER_NAMESPACE();

#endif  // QCLIP_KERNELS_GEMM_F32_INL_H_
