// What the AMX tile unit sustains on this machine, for sizing kernels/gemm_s8_amx.cc: TDPBUSD
// alone, with its tile loads from L1 (weight tiles with 256 bytes between rows, PackWeightsS8's
// layout until the thirteenth session, or contiguous, its layout since), and one tile row of 8
// activation rows streaming 85 MB of weights from memory (a text query's products), and the
// default mode's block-wise product of 8 rows against the per-tensor one, streaming. Single thread;
// rates from the fastest iteration in thread CPU time. Machines without AMX skip every case.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include <benchmark/benchmark.h>

#include "bench/thread_seconds.h"
#include "hwy/aligned_allocator.h"
#include "kernels/gemm_s8.h"
#include "kernels/gemm_s8_amx.h"

#if defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#define QCLIP_AMX_PROBE 1
#else
#define QCLIP_AMX_PROBE 0
#endif

namespace qclip {
namespace {

// Runs fn() per iteration; reports GOP/s (ops per call) and GB/s (bytes per call) of the
// fastest iteration.
template <typename Fn>
void Measure(benchmark::State& state, double ops, double bytes, const Fn& fn) {
  double best = 1e30;
  for (auto _ : state) {
    const double start = ThreadSeconds();
    fn();
    best = std::min(best, ThreadSeconds() - start);
  }
  state.counters["GOP/s"] = 1e-9 * ops / best;
  if (bytes > 0) state.counters["GB/s"] = 1e-9 * bytes / best;
}

#if QCLIP_AMX_PROBE

constexpr double kOpsPerProduct = 2.0 * 16 * 16 * 64;  // one TDPBUSD: 16 x 16 x 64 MACs

// Four independent TDPBUSD per step on fixed tiles: the unit's issue rate.
__attribute__((target("amx-tile,amx-int8"), noinline)) void ProductsOnly(int64_t steps) {
  _tile_zero(4);
  _tile_zero(5);
  _tile_zero(6);
  _tile_zero(7);
  for (int64_t i = 0; i < steps; ++i) {
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
}

// The kernel's step over K: one or two activation tiles (16 rows, the second 16 rows on) and
// two weight tiles (rows `stride` bytes apart, the second `second` bytes after the first, the
// next k step `step` bytes on), 2 or 4 products. Tile numbers are immediates, hence the template.
template <bool kTwoRows>
__attribute__((target("amx-tile,amx-int8"), noinline)) void TileSteps(const uint8_t* a, size_t lda,
                                                                      const int8_t* b,
                                                                      size_t stride, size_t second,
                                                                      size_t step, size_t K) {
  for (size_t k = 0; k < K; k += kAmxK) {
    const int8_t* w = b + k / kAmxK * step;
    _tile_loadd(4, a + k, lda);
    if constexpr (kTwoRows) _tile_loadd(5, a + 16 * lda + k, lda);
    _tile_loadd(6, w, stride);
    _tile_loadd(7, w + second, stride);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    if constexpr (kTwoRows) {
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
  }
}

// Weight tile addressing of a [K, N] matrix's 32 columns from `col` on. Layout 0: panels of 64
// columns, k groups of 4 as 256-byte rows (PackWeightsS8's until the thirteenth session).
// Layout 1: each 64-K x 16-column tile stored as 1 KiB (PackWeightsS8's now).
struct TileAddress {
  const int8_t* b;
  size_t stride, second, step;
};
TileAddress Address(const int8_t* b, size_t K, size_t col, int layout) {
  if (layout == 0) {
    return {b + col / 64 * (K / 4 * 256) + col % 64 * 4, 256, 64, size_t{16} * 256};
  }
  return {PackedColumn(b, K, col), kPackedTileCols * 4, kPackedTileBytes, kPackedStepBytes};
}

void BM_AmxProductsOnly(benchmark::State& state) {
  if (!AmxUsable()) return state.SkipWithError("no AMX here");
  constexpr int64_t kSteps = 1 << 20;
  AmxBegin(16);
  Measure(state, 4 * kOpsPerProduct * kSteps, 0, [] { ProductsOnly(kSteps); });
  AmxEnd();
}
BENCHMARK(BM_AmxProductsOnly);

// Arg: weight layout. A 32 x 768 block against 32 columns, everything in L1, 1000 times.
void BM_AmxTilesFromL1(benchmark::State& state) {
  if (!AmxUsable()) return state.SkipWithError("no AMX here");
  constexpr size_t K = 768, kReps = 1000;
  auto a = hwy::AllocateAligned<uint8_t>(32 * K);
  auto b = hwy::AllocateAligned<int8_t>(K * 64);
  std::memset(a.get(), 1, 32 * K);
  std::memset(b.get(), 1, K * 64);
  const TileAddress t = Address(b.get(), K, 0, static_cast<int>(state.range(0)));
  AmxBegin(16);
  Measure(state, 2.0 * 32 * 32 * K * kReps, 0, [&] {
    for (size_t r = 0; r < kReps; ++r)
      TileSteps<true>(a.get(), K, t.b, t.stride, t.second, t.step, K);
  });
  AmxEnd();
}
BENCHMARK(BM_AmxTilesFromL1)->Arg(0)->Arg(1);

// Arg: weight layout. 8 rows x 768 against 36 matrices of 768 x 3072 (85 MB, a text tower's
// int8 weights), 32 columns at a time; Arg 2: the kernel's AmxMulOneTileRowU8S8, layout 1, a
// whole 64-column panel per call.
void BM_AmxOneTileRowFromMemory(benchmark::State& state) {
  if (!AmxUsable()) return state.SkipWithError("no AMX here");
  constexpr size_t K = 768, N = 3072, kMatrices = 36;
  auto a = hwy::AllocateAligned<uint8_t>(16 * K);
  auto b = hwy::AllocateAligned<int8_t>(kMatrices * K * N);
  std::memset(a.get(), 1, 16 * K);
  std::memset(b.get(), 1, kMatrices * K * N);
  const int layout = static_cast<int>(state.range(0));
  AmxBegin(8);
  Measure(state, 2.0 * 8 * K * N * kMatrices, static_cast<double>(kMatrices * K * N), [&] {
    alignas(64) int32_t c[kAmxRows * kAmxPanelCols];
    for (size_t m = 0; m < kMatrices; ++m) {
      for (size_t col = 0; layout == 2 && col < N; col += kAmxPanelCols) {
        AmxMulOneTileRowU8S8(a.get(), K, K, b.get() + m * K * N + col * K, c);
      }
      for (size_t col = 0; layout != 2 && col < N; col += kAmxCols) {
        const TileAddress t = Address(b.get() + m * K * N, K, col, layout);
        TileSteps<false>(a.get(), K, t.b, t.stride, t.second, t.step, K);
      }
    }
  });
  AmxEnd();
}
BENCHMARK(BM_AmxOneTileRowFromMemory)->Arg(0)->Arg(1)->Arg(2)->Iterations(5);

// Tiles 0-3 (sums) 16 x 64 bytes, 4-5 (activations) 16 rows of `a_bytes`, 6-7 (weights)
// a_bytes / 4 rows of 64 bytes.
void ConfigureBlockTiles(size_t a_bytes) {
  AmxTileShapes shapes;
  for (int t = 0; t < 8; ++t) {
    shapes.rows[t] = static_cast<uint8_t>(t >= 6 ? a_bytes / 4 : 16);
    shapes.bytes_per_row[t] = static_cast<uint16_t>(t == 4 || t == 5 ? a_bytes : 64);
  }
  AmxConfigure(shapes);
}

// The block-wise product on tiles as the default mode would need it: per block of 32 k values,
// the 32 x 32 int32 sums of that block leave the tiles (stored to L1) and are folded into float
// sums with the block's per-row scale after subtracting its zero-point term
// (acc += scale[r] * float(sum - zp[r] * colsum[n])), the kernel's fold without the weight
// zero-point term. 32 rows x 32 columns x K = 768, everything in L1. Arg: 1 folds, 0 only
// stores the sums (what leaving the tiles every block costs by itself).
__attribute__((target("amx-tile,amx-int8,avx512f"), noinline)) void BlockwiseSteps(
    const uint8_t* a, size_t lda, const int8_t* b, size_t K, const float* scales,
    const int32_t* zps, const int32_t* colsums, int32_t* sums, float* acc, bool fold) {
  for (size_t k = 0; k < K; k += 32) {
    const int8_t* w = b + k / 32 * 2048;  // 8 k groups x 2 tiles x 16 columns x 4
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, a + k, lda);
    _tile_loadd(5, a + 16 * lda + k, lda);
    _tile_loadd(6, w, 64);
    _tile_loadd(7, w + 512, 64);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
    _tile_stored(0, sums, 128);
    _tile_stored(1, sums + 16, 128);
    _tile_stored(2, sums + 512, 128);
    _tile_stored(3, sums + 528, 128);
    const size_t block = k / 32;
    for (size_t r = 0; r < (fold ? 32 : 0); ++r) {
      const __m512 scale = _mm512_set1_ps(scales[block * 32 + r]);
      const __m512i zp = _mm512_set1_epi32(zps[block * 32 + r]);
      for (size_t v = 0; v < 2; ++v) {
        const __m512i colsum = _mm512_loadu_si512(colsums + block * 32 + v * 16);
        const __m512i sum = _mm512_sub_epi32(_mm512_loadu_si512(sums + r * 32 + v * 16),
                                             _mm512_mullo_epi32(zp, colsum));
        float* out = acc + r * 32 + v * 16;
        _mm512_storeu_ps(
            out, _mm512_add_ps(_mm512_loadu_ps(out),
                               _mm512_mul_ps(scale, _mm512_maskz_cvtepi32_ps(0xFFFF, sum))));
      }
    }
  }
}

void BM_AmxBlockwiseFold(benchmark::State& state) {
  if (!AmxUsable()) return state.SkipWithError("no AMX here");
  constexpr size_t K = 768, kReps = 1000, kBlocks = K / 32;
  auto a = hwy::AllocateAligned<uint8_t>(32 * K);
  auto b = hwy::AllocateAligned<int8_t>(K * 32);
  auto scales = hwy::AllocateAligned<float>(kBlocks * 32);
  auto zps = hwy::AllocateAligned<int32_t>(kBlocks * 32);
  auto colsums = hwy::AllocateAligned<int32_t>(kBlocks * 32);
  constexpr size_t kOutputs = size_t{32} * 32;
  auto sums = hwy::AllocateAligned<int32_t>(kOutputs);
  auto acc = hwy::AllocateAligned<float>(kOutputs);
  std::memset(a.get(), 1, 32 * K);
  std::memset(b.get(), 1, K * 32);
  std::fill(scales.get(), scales.get() + kBlocks * 32, 0.5f);
  std::fill(zps.get(), zps.get() + kBlocks * 32, 3);
  std::fill(colsums.get(), colsums.get() + kBlocks * 32, 7);
  std::fill(acc.get(), acc.get() + kOutputs, 0.0f);
  ConfigureBlockTiles(32);
  Measure(state, 2.0 * 32 * 32 * K * kReps, 0, [&] {
    for (size_t r = 0; r < kReps; ++r) {
      BlockwiseSteps(a.get(), K, b.get(), K, scales.get(), zps.get(), colsums.get(), sums.get(),
                     acc.get(), state.range(0) == 1);
    }
  });
  AmxEnd();
  benchmark::DoNotOptimize(acc[0]);
}
BENCHMARK(BM_AmxBlockwiseFold)->Arg(1)->Arg(0);

// The default mode's few-row block-wise product in its kernel's order, tiles only: per column
// tile, per block of 32 k values, the block's 8 activation rows against its 8 k groups x 16
// columns into one of four rotating sums tiles; with kStore each block's sums also leave the
// tile (two blocks later, as the kernel stores them), without the fold that follows in the kernel.
template <bool kStore>
__attribute__((target("amx-tile,amx-int8"), noinline)) void BlockwiseTileOrder(
    const uint8_t* a, size_t lda, const int8_t* b, size_t K, int32_t* sums) {
  constexpr size_t kBlockGroups = kActivationBlock / 4;
#define QCLIP_PROBE_BLOCK(s, tile, stored)                     \
  _tile_zero(tile);                                            \
  _tile_loadd(4, a + (s)*kActivationBlock, lda);               \
  _tile_loadd(6, b + PackedGroupOffset((s)*kBlockGroups), 64); \
  _tile_dpbusd(tile, 4, 6);                                    \
  if (kStore) _tile_stored(stored, sums + size_t{stored} * 256, 64);
  for (size_t s = 0; s + 4 <= K / kActivationBlock; s += 4) {
    QCLIP_PROBE_BLOCK(s, 0, 2)
    QCLIP_PROBE_BLOCK(s + 1, 1, 3)
    QCLIP_PROBE_BLOCK(s + 2, 2, 0)
    QCLIP_PROBE_BLOCK(s + 3, 3, 1)
  }
#undef QCLIP_PROBE_BLOCK
}

// A text query's products at 8 rows on one thread's share of the text weights (18 matrices of
// 768 x 3072, 42.5 MB, streamed from memory). Arg 0: the per-tensor kernel
// (AmxMulOneTileRowU8S8, whole panels); 1: the block-wise kernel (AmxMulBlockwiseU8S8, one
// 16-column tile at a time, folds included); 2: the block-wise kernel's tile work alone, in its
// order; 3: the same with each block's sums stored. Zero-point terms are zero.
void BM_AmxFewRowsStream(benchmark::State& state) {
  if (!AmxUsable()) return state.SkipWithError("no AMX here");
  constexpr size_t kRows = 8, K = 768, N = 3072, kMatrices = 18;
  constexpr size_t kBlocks = K / kActivationBlock;
  const size_t matrix_bytes = PackedWeightsS8Size(K, N);
  auto a = hwy::AllocateAligned<uint8_t>((kRows + 1) * K);  // and the row of ones
  auto b = hwy::AllocateAligned<int8_t>(kMatrices * matrix_bytes);
  auto a_blocks = hwy::AllocateAligned<ActivationBlock>(kBlocks * kRows);
  auto b_terms = hwy::AllocateAligned<int32_t>(kBlocks * N);
  auto scales = hwy::AllocateAligned<float>(N);
  auto y = hwy::AllocateAligned<float>(kRows * N);
  std::memset(a.get(), 1, (kRows + 1) * K);
  std::memset(b.get(), 1, kMatrices * matrix_bytes);
  std::fill(a_blocks.get(), a_blocks.get() + kBlocks * kRows, ActivationBlock{0.5f, 0});
  std::fill(b_terms.get(), b_terms.get() + kBlocks * N, 0);
  std::fill(scales.get(), scales.get() + N, 1.0f);
  const int order = static_cast<int>(state.range(0));
  if (order == 0) {
    AmxBegin(kRows);
  } else {
    AmxBeginBlockwise(kRows);
  }
  const size_t panel_terms = kBlocks * kPackedPanelCols;
  Measure(state, 2.0 * kRows * K * N * kMatrices, static_cast<double>(kMatrices * K * N), [&] {
    alignas(64) int32_t c[kAmxRows * kAmxPanelCols];  // also the stored block sums (4 x 8 x 16)
    for (size_t m = 0; m < kMatrices; ++m) {
      const int8_t* w = b.get() + m * matrix_bytes;
      for (size_t col = 0; order == 0 && col < N; col += kAmxPanelCols) {
        AmxMulOneTileRowU8S8(a.get(), K, K, PackedColumn(w, K, col), c);
      }
      for (size_t col = 0; order != 0 && col < N; col += kPackedTileCols) {
        const int8_t* column = PackedColumn(w, K, col);
        if (order == 1) {
          AmxMulBlockwiseU8S8(
              a.get(), K, kRows, K, column, a_blocks.get(), kRows,
              b_terms.get() + col / kPackedPanelCols * panel_terms + col % kPackedPanelCols,
              kPackedPanelCols, scales.get() + col, nullptr, y.get() + col, N, kPackedTileCols);
        } else if (order == 2) {
          BlockwiseTileOrder<false>(a.get(), K, column, K, c);
        } else {
          BlockwiseTileOrder<true>(a.get(), K, column, K, c);
        }
      }
    }
  });
  AmxEnd();
  benchmark::DoNotOptimize(y[0]);
}
BENCHMARK(BM_AmxFewRowsStream)->Arg(0)->Arg(1)->Arg(2)->Arg(3)->Iterations(5);

#endif  // QCLIP_AMX_PROBE

}  // namespace
}  // namespace qclip

BENCHMARK_MAIN();
