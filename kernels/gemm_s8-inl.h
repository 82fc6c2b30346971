// The u8 x s8 -> s32 GEMM microkernel and its epilogues, and the block-wise microkernel; included
// per SIMD target by kernels/gemm_s8.cc. The packed weight layout is described in gemm_s8.h.

// Per-target include guard.
#if defined(QCLIP_KERNELS_GEMM_S8_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QCLIP_KERNELS_GEMM_S8_INL_H_
#undef QCLIP_KERNELS_GEMM_S8_INL_H_
#else
#define QCLIP_KERNELS_GEMM_S8_INL_H_
#endif

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/gemm_s8.h"
#include "kernels/gemm_s8_amx.h"
#include "kernels/partial_vector-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qclip {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// GCC contracts a separate multiply and add into an FMA by default (-ffp-contract=fast, also for
// intrinsics), which would round once instead of twice and differ from ORT's dequantization.
#if HWY_COMPILER_GCC_ACTUAL
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

using DI32 = hn::ScalableTag<int32_t>;
using VI32 = hn::Vec<DI32>;
using DF32 = hn::Rebind<float, DI32>;
using VF32 = hn::Vec<DF32>;

// ------------------------------ The 4-wide u8 x s8 dot product
// Every target implements the same step: for each int32 lane i,
//   sum += a[0] * b[4i] + a[1] * b[4i+1] + a[2] * b[4i+2] + a[3] * b[4i+3]
// with a = 4 unsigned activation bytes (one row, 4 consecutive k) and b = the packed signed
// weights (4 consecutive k of one column per lane), exactly and without saturation.
// ActivationsU8x4 holds `a` prepared once per row and k group; the step may spread partial
// sums over sum0 and sum1, which FinishDot combines.
// AddPairProducts(c, a, b), for the block-wise zero-point terms, is c + lo16(a) * lo16(b) +
// hi16(a) * hi16(b) in each int32 lane, exactly.

#if HWY_TARGET == HWY_AVX3_DL

// VPDPBUSD does the whole step in one instruction (Highway 1.0.3 has no op for it).
// Highway 1.0.3 compiles AVX3_DL code for "avxvnni" (the VEX form) but not "avx512vnni", which
// the zmm form needs: enable it up to MulTileU8S8, which is not inlined, so that its callers
// need no such attribute.
HWY_PUSH_ATTRIBUTES("avx512vnni")

struct ActivationsU8x4 {
  VI32 bytes;
};
HWY_INLINE ActivationsU8x4 PrepareActivations(uint32_t a) {
  return {hn::Set(DI32(), static_cast<int32_t>(a))};
}
HWY_INLINE void DotU8S8(const ActivationsU8x4& a, VI32 b, VI32& sum0, VI32& /*sum1*/) {
#if HWY_COMPILER_GCC_ACTUAL
  // With the intrinsic, GCC copies each loop-carried accumulator to a new register and back
  // around every VPDPBUSD; tying input and output ("+v") keeps it in place.
  __m512i sum = sum0.raw;
  asm("vpdpbusd %2, %1, %0" : "+v"(sum) : "v"(a.bytes.raw), "v"(b.raw));
  sum0.raw = sum;
#else
  sum0 = VI32{_mm512_dpbusd_epi32(sum0.raw, a.bytes.raw, b.raw)};
#endif
}
HWY_INLINE VI32 FinishDot(VI32 sum0, VI32 /*sum1*/) { return sum0; }

// VPDPWSSD: c + the two int16 x int16 products of each lane pair.
HWY_INLINE VI32 AddPairProducts(VI32 c, VI32 a, VI32 b) {
  return VI32{_mm512_dpwssd_epi32(c.raw, a.raw, b.raw)};
}

#elif HWY_TARGET == HWY_SCALAR

// One lane holds one column's 4 weights; unpack them.
struct ActivationsU8x4 {
  int32_t a[4];
};
HWY_INLINE ActivationsU8x4 PrepareActivations(uint32_t a) {
  return {{static_cast<int32_t>(a & 0xFF), static_cast<int32_t>((a >> 8) & 0xFF),
           static_cast<int32_t>((a >> 16) & 0xFF), static_cast<int32_t>(a >> 24)}};
}
HWY_INLINE void DotU8S8(const ActivationsU8x4& a, VI32 b, VI32& sum0, VI32& /*sum1*/) {
  const uint32_t w = static_cast<uint32_t>(hn::GetLane(b));
  int32_t dot = 0;
  for (int j = 0; j < 4; ++j) dot += a.a[j] * static_cast<int8_t>(w >> (8 * j));
  sum0 = hn::Add(sum0, hn::Set(DI32(), dot));
}
HWY_INLINE VI32 FinishDot(VI32 sum0, VI32 /*sum1*/) { return sum0; }

// The lane holds both int16 halves; the vector ops would see only the low one.
HWY_INLINE VI32 AddPairProducts(VI32 c, VI32 a, VI32 b) {
  const uint32_t x = static_cast<uint32_t>(hn::GetLane(a));
  const uint32_t y = static_cast<uint32_t>(hn::GetLane(b));
  const int32_t lo = int32_t{static_cast<int16_t>(x)} * static_cast<int16_t>(y);
  const int32_t hi = int32_t{static_cast<int16_t>(x >> 16)} * static_cast<int16_t>(y >> 16);
  return hn::Set(DI32(), hn::GetLane(c) + lo + hi);
}

#else

// Exact widening: each 32-bit lane is split into its even bytes (k0, k2) and odd bytes (k1, k3),
// each widened to a pair of i16; the i16 x i16 -> i32 pairwise multiply-add (VPMADDWD on x86)
// then adds a0*b0 + a2*b2 and a1*b1 + a3*b3 into the same lane. Unlike VPMADDUBSW, which adds
// u8 x s8 pairs with i16 saturation, nothing here can saturate: |products| <= 255 * 128.
using DI16 = hn::Repartition<int16_t, DI32>;
using VI16 = hn::Vec<DI16>;

struct ActivationsU8x4 {
  VI16 even;  // a0, a2 as i16 in every 32-bit lane
  VI16 odd;   // a1, a3
};
HWY_INLINE ActivationsU8x4 PrepareActivations(uint32_t a) {
  const DI32 d32;
  const DI16 d16;
  return {hn::BitCast(d16, hn::Set(d32, static_cast<int32_t>(a & 0x00FF00FFu))),
          hn::BitCast(d16, hn::Set(d32, static_cast<int32_t>((a >> 8) & 0x00FF00FFu)))};
}
HWY_INLINE void DotU8S8(const ActivationsU8x4& a, VI32 b, VI32& sum0, VI32& sum1) {
  const DI32 d32;
  const VI16 b16 = hn::BitCast(DI16(), b);
  const VI16 b_even = hn::ShiftRight<8>(hn::ShiftLeft<8>(b16));  // sign-extends bytes 0, 2
  const VI16 b_odd = hn::ShiftRight<8>(b16);                     // sign-extends bytes 1, 3
  sum0 = hn::ReorderWidenMulAccumulate(d32, a.even, b_even, sum0, sum1);
  sum0 = hn::ReorderWidenMulAccumulate(d32, a.odd, b_odd, sum0, sum1);
}
HWY_INLINE VI32 FinishDot(VI32 sum0, VI32 sum1) { return hn::RearrangeToOddPlusEven(sum0, sum1); }

// The int16 pairwise multiply-add (VPMADDWD), from zero so that targets whose partial sums are
// lane-reordered still add the right lanes; exact, as both products are below 2^21.
HWY_INLINE VI32 AddPairProducts(VI32 c, VI32 a, VI32 b) {
  const DI32 d32;
  VI32 odd = hn::Zero(d32);
  const VI32 even = hn::ReorderWidenMulAccumulate(d32, hn::BitCast(DI16(), a),
                                                  hn::BitCast(DI16(), b), hn::Zero(d32), odd);
  return hn::Add(c, hn::RearrangeToOddPlusEven(even, odd));
}

#endif

// ------------------------------ Outputs

// What MulTileU8S8 does with each finished vector of sums: OutputFn(r, n, sum, count) gets row r
// of the tile and columns [n, n + count) of B. AtRow(row) is the output for a tile whose first
// row is `row` of the block.

// The raw sums, to c (which points at the block's [0][col_begin]).
struct SumsToS32 {
  int32_t* c;
  size_t ldc;
  size_t col_begin;

  SumsToS32 AtRow(size_t row) const { return {c + row * ldc, ldc, col_begin}; }
  HWY_INLINE void operator()(size_t r, size_t n, VI32 sum, size_t count) const {
    StoreFirstN(sum, DI32(), c + r * ldc + (n - col_begin), count);
  }
};

// sum - a_zp[r] * b_sums[n] - b_zp[n] * (a_sums[r] - K * a_zp[r]) for columns [n, n + count).
HWY_INLINE VI32 SubtractZeroPoints(const QuantizedGemmTerms& t, size_t K, size_t r, size_t n,
                                   VI32 sum, size_t count) {
  const DI32 d;
  // Unsigned, so that wrap-around of the intermediate terms is defined.
  const uint32_t a_zp = static_cast<uint32_t>(t.a_zero_points[r]);
  const uint32_t a_sum = static_cast<uint32_t>(t.a_sums[r]) - static_cast<uint32_t>(K) * a_zp;
  const VI32 terms = hn::Add(
      hn::Mul(hn::Set(d, static_cast<int32_t>(a_zp)), LoadFirstN(d, t.b_sums + n, count)),
      hn::Mul(hn::Set(d, static_cast<int32_t>(a_sum)), LoadFirstN(d, t.b_zero_points + n, count)));
  return hn::Sub(sum, terms);
}

// Row pointers of `t` advanced to `row`.
HWY_INLINE QuantizedGemmTerms TermsAtRow(QuantizedGemmTerms t, size_t row) {
  t.a_zero_points += row;
  t.a_sums += row;
  if (t.a_scales != nullptr) t.a_scales += row;
  return t;
}

// The zero-point corrected sums of MatMulInteger.
struct ZeroPointsToS32 {
  QuantizedGemmTerms terms;
  size_t K;
  int32_t* c;
  size_t ldc;
  size_t col_begin;

  ZeroPointsToS32 AtRow(size_t row) const {
    return {TermsAtRow(terms, row), K, c + row * ldc, ldc, col_begin};
  }
  HWY_INLINE void operator()(size_t r, size_t n, VI32 sum, size_t count) const {
    StoreFirstN(SubtractZeroPoints(terms, K, r, n, sum, count), DI32(),
                c + r * ldc + (n - col_begin), count);
  }
};

// float(corrected sum) * (a_scale[r] * b_scale[n]) + bias[n]: ORT's Cast, Mul and Add, each
// rounded (this file is compiled without FMA contraction).
struct DequantizedToF32 {
  QuantizedGemmTerms terms;
  size_t K;
  float* y;
  size_t ldy;
  size_t col_begin;

  DequantizedToF32 AtRow(size_t row) const {
    return {TermsAtRow(terms, row), K, y + row * ldy, ldy, col_begin};
  }
  HWY_INLINE void operator()(size_t r, size_t n, VI32 sum, size_t count) const {
    const hn::Rebind<float, DI32> df;
    const auto scale =
        hn::Mul(hn::Set(df, terms.a_scales[r]), LoadFirstN(df, terms.b_scales + n, count));
    auto v = hn::Mul(hn::ConvertTo(df, SubtractZeroPoints(terms, K, r, n, sum, count)), scale);
    if (terms.bias != nullptr) v = hn::Add(v, LoadFirstN(df, terms.bias + n, count));
    StoreFirstN(v, df, y + r * ldy + (n - col_begin), count);
  }
};

// ------------------------------ Microkernels

// A tile is kTileRows rows x kTileVecs vectors of int32 accumulators, all in registers.
constexpr size_t kTileVecs = 4;
#if HWY_TARGET <= HWY_AVX3
constexpr size_t kTileRows = 6;  // 32 vector registers: 24 accumulators + 4 weights + 1 row
#else
constexpr size_t kTileRows = 2;  // 16 vector registers, and the widening path needs temporaries
#endif

// The block-wise tile: 6 rows x 2 vectors, whose int32 sums of the block and float sums take 24
// of AVX-512's 32 registers. On Zen 5, 6 x 2 was faster than 4 x 2, 5 x 2 (which also leaves
// row tails in every 96-row task) and 7 x 2, and than 3 x 4 and than 6 x 4 with the float sums
// in memory.
constexpr size_t kBlockTileVecs = 2;
#if HWY_TARGET <= HWY_AVX3
constexpr size_t kBlockTileRows = 6;
#else
constexpr size_t kBlockTileRows = 2;
#endif

// A run of k groups of A (4 bytes per group of a row, rows lda apart) and of the packed weights
// they multiply (from group `first_group` of the panel on). Full k groups read A in place; a last
// partial group (K % 4 != 0) reads a zero-padded copy instead (the packed weights are zero past
// K, so the padding only needs to be readable).
// (Both microkernels write their dot-product loop out: with the accumulator arrays passed to a
// shared helper, GCC kept them in memory.)
struct Segment {
  const uint8_t* a;
  size_t lda;
  size_t groups;
  size_t first_group;
};

// The last K % 4 bytes of kRows rows, zero-padded to a group.
template <size_t kRows>
struct TailGroup {
  uint8_t bytes[kRows][4] = {};
  TailGroup(const uint8_t* a, size_t lda, size_t K) {
    const size_t k_full = K & ~size_t{3};
    for (size_t r = 0; r < kRows && k_full != K; ++r) {
      memcpy(bytes[r], a + r * lda + k_full, K - k_full);
    }
  }
};

// sum_k A[r][k] * B[k][n] for kRows rows and columns [col, col + cols), cols <= kTileVecs *
// Lanes, handed to `output`. `b` points at column `col` in k group 0 of its panel (PackedColumn).
// With `prefetch` (the first row tile of a column tile, which reads the weights from memory),
// asks for the weights kPrefetchSteps steps (8 KiB of the panel) ahead. The hardware prefetcher
// followed the 256-byte group rows of the layout before the thirteenth session by itself, not
// the four tile streams of this one: without it 8 x 768 x 3072 was 10-20% slower than before,
// with it as fast (docs/BENCHMARKS.md).
constexpr size_t kPrefetchSteps = 2;

// Cache lines a tile asks into L2 while it computes from cache, one per k group: a slice of the
// next panel (NextPanelSlice).
struct LinesAhead {
  const int8_t* begin = nullptr;
  size_t lines = 0;
};

template <size_t kRows, class Output>
HWY_NOINLINE void MulTileU8S8(const uint8_t* a, size_t lda, size_t K, const int8_t* b, size_t col,
                              size_t cols, bool prefetch, LinesAhead ahead, const Output& output) {
  const DI32 d;
  const size_t N = hn::Lanes(d);
  VI32 sum0[kRows][kTileVecs];
  VI32 sum1[kRows][kTileVecs];
  HWY_UNROLL(8)
  for (size_t r = 0; r < kRows; ++r) {
    HWY_UNROLL(4)
    for (size_t v = 0; v < kTileVecs; ++v) sum0[r][v] = sum1[r][v] = hn::Zero(d);
  }

  const size_t full_groups = K / 4;
  const TailGroup<kRows> tail(a, lda, K);
  const Segment segments[2] = {{a, lda, full_groups, 0},
                               {&tail.bytes[0][0], 4, K % 4 != 0, full_groups}};
  for (const Segment& s : segments) {
    // Step by step: within one, consecutive groups are 64 bytes apart (a segment starting
    // mid-step is the tail's single group).
    for (size_t first = 0; first < s.groups; first += kPackedStepGroups) {
      const int8_t* step = b + PackedGroupOffset(s.first_group + first);
      const uint8_t* step_a = s.a + 4 * first;
      const size_t groups = std::min(kPackedStepGroups, s.groups - first);
      for (size_t g = 0; g < groups; ++g) {
        if (ahead.lines != 0) {
          __builtin_prefetch(ahead.begin, 0, 2);
          ahead.begin += 64;
          --ahead.lines;
        }
        // kTileVecs vectors of packed weights, each used by all kRows rows.
        const int8_t* group = step + g * kPackedTileCols * 4;
        if (prefetch && first + kPrefetchSteps * kPackedStepGroups < s.groups) {
          HWY_UNROLL(4)
          for (size_t v = 0; v < kTileVecs; ++v) {
            hwy::Prefetch(group + kPrefetchSteps * kPackedStepBytes + PackedColumnOffset(v * N));
          }
        }
        VI32 w[kTileVecs];
        HWY_UNROLL(4)
        for (size_t v = 0; v < kTileVecs; ++v) {
          w[v] = hn::LoadU(d, reinterpret_cast<const int32_t*>(group + PackedColumnOffset(v * N)));
        }
        HWY_UNROLL(8)
        for (size_t r = 0; r < kRows; ++r) {
          uint32_t word;  // 4 activations; little-endian: byte j is column 4g + j
          memcpy(&word, step_a + r * s.lda + 4 * g, 4);
          const ActivationsU8x4 x = PrepareActivations(word);
          HWY_UNROLL(4)
          for (size_t v = 0; v < kTileVecs; ++v) DotU8S8(x, w[v], sum0[r][v], sum1[r][v]);
        }
      }
    }
  }

  for (size_t r = 0; r < kRows; ++r) {
    for (size_t v = 0; v < kTileVecs && v * N < cols; ++v) {
      output(r, col + v * N, FinishDot(sum0[r][v], sum1[r][v]), std::min(N, cols - v * N));
    }
  }
}

// acc + scale * float(sum + the zero-point terms): one block of the block-wise product.
HWY_INLINE VF32 FoldBlock(VF32 acc, VI32 sum, VI32 a_terms, VI32 b_terms, VF32 scale) {
  return hn::Add(acc,
                 hn::Mul(hn::ConvertTo(DF32(), AddPairProducts(sum, a_terms, b_terms)), scale));
}

// The block-wise product (gemm_s8.h) for kRows rows and `cols` <= kVecs * Lanes columns. `b` is
// as for MulTileU8S8; `t` has a_blocks at the tile's first row, b_terms at its first column in
// block 0 (blocks kPackedPanelCols apart), b_scales and bias at its first column; y points at
// the tile's first output.
//
// Per block, the 8 k groups are summed in int32; the fold into the float sums (one pairwise
// int16 product for the zero-point terms, a conversion, a multiplication by the block scale, an
// addition) then takes 2 more multiplier-port operations per 8 dot products. The block's sums
// are folded as soon as they are complete: the next block's dot products start from zero and
// do not depend on the fold, so the core overlaps the two by itself. (Folding block b during
// block b + 1's dot products, as the kernel did until the tenth session, kept both blocks' sums
// live: 36 vectors, some on the stack. On an Intel Xeon folding at once is 3-11% faster,
// `BM_MatMulBlockwiseU8S8/197/*`; on Zen 5 an assembly loop had favoured the pipelined form by
// 5%, not measured in the kernel since.)
//
// For blocks below prefetch_blocks, the tile also asks for the weights at prefetch_b, at the
// offsets it reads itself: into L1 or L2 as kAhead says. The first row tile of a column asks for
// its own weights kPrefetchBlocks blocks ahead (8 KiB of its panel): it reads them from memory,
// and at a few rows per tile (unpadded text) the dot products are too few to hide that latency;
// the hardware prefetcher did not follow a tile that read half of each 256-byte group row (the
// layout until the thirteenth session). Later row tiles find the weights in cache and skip it
// (prefetches there only take load slots: vision 10% slower), except as
// MulPanelsBlockwiseTilesU8S8 says. (4 blocks ahead until the sixteenth session: on a Xeon without
// AMX the text query was 2-3% faster at 2 threads with 8, the same with 16.) kAhead is a template
// argument and the prefetched lines one distance from those read: with a run-time flag and a
// second pointer, GCC branched out of the group loop to prefetch and parked addresses in vector
// registers (`VMOVQ` took 20% of the 4 x 4 tile's samples); as now, text at 8 tokens is 0.9%
// faster at 2 threads (ten pairs) and `BM_MatMulBlockwiseU8S8/8/3072/768` up to 7%.
constexpr size_t kPrefetchBlocks = 8;

// Where a block-wise tile asks for the weights at prefetch_b: nowhere, into L1 or into L2.
enum class Ahead { kNone, kL1, kL2 };

template <size_t kRows, size_t kVecs, Ahead kAhead>
HWY_NOINLINE void MulTileBlockwiseU8S8(const uint8_t* a, size_t lda, size_t K, const int8_t* b,
                                       const BlockwiseGemmTerms& t, float* y, size_t ldy,
                                       size_t cols, const int8_t* prefetch_b,
                                       size_t prefetch_blocks) {
  constexpr size_t kBlockGroups = kActivationBlock / 4;
  const DI32 d;
  const DF32 df;
  const size_t N = hn::Lanes(d);
  VF32 acc[kRows][kVecs];
  VI32 sum0[kRows][kVecs], sum1[kRows][kVecs];
  HWY_UNROLL(8)
  for (size_t r = 0; r < kRows; ++r) {
    HWY_UNROLL(4)
    for (size_t v = 0; v < kVecs; ++v) acc[r][v] = hn::Zero(df);
  }
  // A last, partial block reads a zero-padded copy of its activations (the packed weights are
  // zero-padded to whole blocks).
  const size_t blocks = ActivationBlocks(K);
  const ptrdiff_t distance = kAhead == Ahead::kNone ? 0 : prefetch_b - b;
  const size_t last_begin = blocks == 0 ? 0 : (blocks - 1) * kActivationBlock;
  uint8_t last[kRows][kActivationBlock] = {};
  for (size_t r = 0; r < kRows && K % kActivationBlock != 0; ++r) {
    // min() only informs the compiler: K - last_begin < kActivationBlock here.
    memcpy(last[r], a + r * lda + last_begin, std::min(K - last_begin, kActivationBlock));
  }
  for (size_t block = 0; block < blocks; ++block) {
    const bool padded = block + 1 == blocks && K % kActivationBlock != 0;
    const uint8_t* rows_a[kRows];
    HWY_UNROLL(8)
    for (size_t r = 0; r < kRows; ++r) {
      rows_a[r] = padded ? last[r] : a + r * lda + block * kActivationBlock;
    }
    const int8_t* block_b = b + PackedGroupOffset(block * kBlockGroups);
    HWY_UNROLL(8)
    for (size_t r = 0; r < kRows; ++r) {
      HWY_UNROLL(4)
      for (size_t v = 0; v < kVecs; ++v) sum0[r][v] = sum1[r][v] = hn::Zero(d);
    }
    // The lines asked for lie `distance` bytes on from those read.
    const bool prefetch = kAhead != Ahead::kNone && block < prefetch_blocks;
    HWY_UNROLL(8)
    for (size_t g = 0; g < kBlockGroups; ++g) {
      const int8_t* group = block_b + PackedGroupOffset(g);  // g < 8: within block_b's step
      if (prefetch) {
        HWY_UNROLL(4)
        for (size_t v = 0; v < kVecs; ++v) {
          const int8_t* p = group + distance + PackedColumnOffset(v * N);
          if constexpr (kAhead == Ahead::kL2) {
            __builtin_prefetch(p, 0, 2);
          } else {
            hwy::Prefetch(p);
          }
        }
      }
      VI32 w[kVecs];
      HWY_UNROLL(4)
      for (size_t v = 0; v < kVecs; ++v) {
        w[v] = hn::LoadU(d, reinterpret_cast<const int32_t*>(group + PackedColumnOffset(v * N)));
      }
      HWY_UNROLL(8)
      for (size_t r = 0; r < kRows; ++r) {
        uint32_t word;  // 4 activations; little-endian: byte j is k = 4g + j of the block
        memcpy(&word, rows_a[r] + 4 * g, 4);
        const ActivationsU8x4 x = PrepareActivations(word);
        HWY_UNROLL(4)
        for (size_t v = 0; v < kVecs; ++v) DotU8S8(x, w[v], sum0[r][v], sum1[r][v]);
      }
    }
    // The block's sums, complete: into the float sums.
    const ActivationBlock* block_a = t.a_blocks + block * t.a_stride;
    const int32_t* block_b_terms = t.b_terms + block * kPackedPanelCols;
    HWY_UNROLL(8)
    for (size_t r = 0; r < kRows; ++r) {
      const VI32 a_terms = hn::Set(d, block_a[r].zero_point_terms);
      const auto scale = hn::Set(df, block_a[r].scale);
      HWY_UNROLL(4)
      for (size_t v = 0; v < kVecs; ++v) {
        acc[r][v] = FoldBlock(acc[r][v], FinishDot(sum0[r][v], sum1[r][v]), a_terms,
                              hn::LoadU(d, block_b_terms + v * N), scale);
      }
    }
  }

  for (size_t v = 0; v < kVecs && v * N < cols; ++v) {
    const size_t count = std::min(N, cols - v * N);
    const auto b_scale = LoadFirstN(df, t.b_scales + v * N, count);
    for (size_t r = 0; r < kRows; ++r) {
      auto out = hn::Mul(acc[r][v], b_scale);
      if (t.bias != nullptr) out = hn::Add(out, LoadFirstN(df, t.bias + v * N, count));
      StoreFirstN(out, df, y + r * ldy + v * N, count);
    }
  }
}

#if HWY_TARGET == HWY_AVX3_DL
HWY_POP_ATTRIBUTES
#endif

// Rows cut into the fewest tiles of at most max_rows rows, of sizes differing by at most one (8
// rows in tiles of 6: 4 + 4, not 6 + 2), for the block-wise product: a tile of few rows has few
// independent accumulators, and the 8 dot products of each block then wait on one another's
// latency (an unpadded 8-token query's products: 8% faster in 4 + 4 rows; the per-tensor tile,
// 4 columns wide, has accumulators enough in 2 rows and is best as 6 + 2). Which tile a row
// falls in does not change its result.
struct RowTiles {
  RowTiles(size_t rows, size_t max_rows)
      : count((rows + max_rows - 1) / max_rows),
        base(count == 0 ? 0 : rows / count),
        longer(count == 0 ? 0 : rows % count) {}
  size_t Rows(size_t i) const { return base + (i < longer ? 1 : 0); }
  size_t count, base, longer;
};

// Runs `rows` <= kRows rows with the kernel instantiated for that count.
template <size_t kRows, class Output>
HWY_INLINE void MulTileRowsU8S8(size_t rows, const uint8_t* a, size_t lda, size_t K,
                                const int8_t* b, size_t col, size_t cols, bool prefetch,
                                LinesAhead ahead, const Output& output) {
  if constexpr (kRows > 0) {
    if (rows == kRows) return MulTileU8S8<kRows>(a, lda, K, b, col, cols, prefetch, ahead, output);
    MulTileRowsU8S8<kRows - 1>(rows, a, lda, K, b, col, cols, prefetch, ahead, output);
  }
}

// Row tile `tile` (of `tiles`) of a panel's column tile asks for its share of the next panel
// (when the product has one): the tiles after the first read their weights from cache, so
// memory is idle while they compute, and without this the next panel's first tile waited on
// its weights from L3 at the rate of its own 8 KiB prefetch window.
HWY_INLINE LinesAhead NextPanelSlice(const int8_t* packed_b, size_t K, size_t N, size_t col_end,
                                     size_t tile, size_t tiles) {
  if (tile == 0 || tile >= tiles || col_end >= N) {
    return {};
  }
  const size_t lines = PackedPanelBytes(K) / 64, slice = (lines + tiles - 2) / (tiles - 1);
  const size_t first = std::min(lines, (tile - 1) * slice);
  return {PackedColumn(packed_b, K, col_end) + first * 64, std::min(slice, lines - first)};
}

template <class Output>
HWY_INLINE void MulPanelsVectorU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K,
                                    const int8_t* packed_b, size_t N, size_t col_begin,
                                    size_t col_end, const Output& output) {
  HWY_DASSERT(col_begin % kPackedPanelCols == 0 && col_end <= N);
  const size_t tile_cols = kTileVecs * hn::Lanes(DI32());
  const size_t tiles = (rows + kTileRows - 1) / kTileRows;
  // Column tiles outermost: a tile's weights (at most 64 x K bytes) stay in L1/L2 while all
  // rows of A stream past them.
  for (size_t col = col_begin; col < col_end; col += tile_cols) {
    const size_t cols = std::min(tile_cols, col_end - col);
    const int8_t* b = PackedColumn(packed_b, K, col);
    // Row tiles of the panel's last column tile fetch the next panel.
    const bool fetch_next = col + cols == col_end;
    const auto ahead = [&](size_t r) {
      return fetch_next ? NextPanelSlice(packed_b, K, N, col_end, r / kTileRows, tiles)
                        : LinesAhead{};
    };
    size_t r = 0;
    for (; r + kTileRows <= rows; r += kTileRows) {
      MulTileU8S8<kTileRows>(a + r * lda, lda, K, b, col, cols, r == 0, ahead(r), output.AtRow(r));
    }
    MulTileRowsU8S8<kTileRows - 1>(rows - r, a + r * lda, lda, K, b, col, cols, r == 0, ahead(r),
                                   output.AtRow(r));
  }
}

#if HWY_TARGET == HWY_AVX3_DL

// Whether products of depth K run on AMX tiles (ProductRunsOnAmx): per tensor (MulAmxU8S8) when
// K is a multiple of a tile's 64 bytes, block-wise (MulAmxBlockwiseU8S8) of whole blocks.
HWY_INLINE bool AmxTakesDepth(size_t K, bool blockwise = false) {
  return K % (blockwise ? kActivationBlock : kAmxK) == 0 && AmxUsable();
}

// The product on AMX tiles (gemm_s8_amx.h) when they are usable and K is a multiple of 64, a
// panel of 64 columns at a time. Rows in tiles of 16 starting at 0, 16, 32, ..., the last one
// ending at `rows` (so it overlaps the one before when rows % 16 != 0: those rows' sums are
// computed twice, the same, and written twice); fewer than 16 rows are one tile configured to
// that many. Pairs of tiles go against 32 columns per call (2 x 2 tiles), both halves of the
// panel in turn, so that the pair's activations are still in L1 for the second half (the
// halves the other way round, each against every pair, re-read all the rows from L2: 197 x 768
// x 3072 8-15% slower); a single or odd last tile against the whole panel (4 tiles: a text
// query's few rows then stream the weights in order). A task of 54 rows is then 2 calls of 2 x 2
// tiles per 32 columns, not a 32-row call, a 16-row call and a 6-row one with the tiles configured
// anew (each call costs about the same whatever its rows: TDPBUSD's latency, not its throughput,
// bounds a single tile row). Each tile's sums go from memory to `output` as if they came from the
// vector tile. Returns whether it ran. Not inlined, and compiled for "avx512vnni" like the outputs
// it inlines (see DotU8S8).
HWY_PUSH_ATTRIBUTES("avx512vnni")
template <class Output>
HWY_NOINLINE bool MulAmxU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K,
                             const int8_t* packed_b, size_t col_begin, size_t col_end,
                             const Output& output) {
  if (rows == 0 || !AmxTakesDepth(K)) return false;
  HWY_DASSERT(col_begin % kPackedPanelCols == 0);
  const DI32 d;
  const size_t N = hn::Lanes(d);
  const size_t tile_rows = std::min(rows, kAmxRows);
  const size_t tiles = (rows + kAmxRows - 1) / kAmxRows;
  const auto tile_start = [&](size_t t) { return std::min(t * kAmxRows, rows - tile_rows); };
  static_assert(2 * kAmxCols == kAmxPanelCols && kAmxPanelCols == kPackedPanelCols);
  HWY_ALIGN int32_t sums[kAmxRows * kAmxPanelCols];  // 32 x 32 or 16 x 64
  // Sums of one tile (rows [row, row + tile_rows), `stride` apart) to the output.
  const auto emit = [&](const int32_t* tile_sums, size_t stride, size_t row, size_t col,
                        size_t cols) {
    const Output out = output.AtRow(row);
    for (size_t i = 0; i < tile_rows; ++i) {
      for (size_t v = 0; v * N < cols; ++v) {
        out(i, col + v * N, hn::Load(d, tile_sums + i * stride + v * N), std::min(N, cols - v * N));
      }
    }
  };
  AmxBegin(tile_rows);
  for (size_t col = col_begin; col < col_end; col += kAmxPanelCols) {
    const size_t cols = std::min(kAmxPanelCols, col_end - col);
    const size_t pairs = tiles / 2;
    for (size_t t = 0; t < 2 * pairs; t += 2) {
      for (size_t half = 0; half < cols; half += kAmxCols) {
        const size_t r0 = tile_start(t), r1 = tile_start(t + 1);
        AmxMulTwoTileRowsU8S8(a + r0 * lda, a + r1 * lda, lda, K,
                              PackedColumn(packed_b, K, col + half), sums);
        emit(sums, kAmxCols, r0, col + half, std::min(kAmxCols, cols - half));
        emit(sums + kAmxRows * kAmxCols, kAmxCols, r1, col + half, std::min(kAmxCols, cols - half));
      }
    }
    if (tiles % 2 != 0) {  // one tile (up to 16 rows, or an odd last one) against the whole panel
      const size_t r = tile_start(tiles - 1);
      AmxMulOneTileRowU8S8(a + r * lda, lda, K, PackedColumn(packed_b, K, col), sums);
      emit(sums, kAmxPanelCols, r, col, cols);
    }
  }
  AmxEnd();
  return true;
}
HWY_POP_ATTRIBUTES

#endif

// Rows x columns [col_begin, col_end) of the product, handed to `output`: on AMX tiles where
// they can take it, else on vector tiles.
template <class Output>
HWY_INLINE void MulPanelsU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K,
                              const int8_t* packed_b, size_t N, size_t col_begin, size_t col_end,
                              const Output& output) {
#if HWY_TARGET == HWY_AVX3_DL
  if (MulAmxU8S8(a, lda, rows, K, packed_b, col_begin, col_end, output)) return;
#endif
  MulPanelsVectorU8S8(a, lda, rows, K, packed_b, N, col_begin, col_end, output);
}

// `t` with its row side advanced by `rows`.
HWY_INLINE BlockwiseGemmTerms BlockTermsAtRow(BlockwiseGemmTerms t, size_t rows) {
  t.a_blocks += rows;
  return t;
}

template <size_t kRows, size_t kVecs>
HWY_INLINE void MulTileRowsBlockwiseU8S8(size_t rows, const uint8_t* a, size_t lda, size_t K,
                                         const int8_t* b, const BlockwiseGemmTerms& t, float* y,
                                         size_t ldy, size_t cols, const int8_t* prefetch_b,
                                         size_t prefetch_blocks, Ahead ahead) {
  if constexpr (kRows > 0) {
    if (rows == kRows) {
      switch (ahead) {
        case Ahead::kNone:
          return MulTileBlockwiseU8S8<kRows, kVecs, Ahead::kNone>(a, lda, K, b, t, y, ldy, cols,
                                                                  nullptr, 0);
        case Ahead::kL1:
          return MulTileBlockwiseU8S8<kRows, kVecs, Ahead::kL1>(a, lda, K, b, t, y, ldy, cols,
                                                                prefetch_b, prefetch_blocks);
        case Ahead::kL2:
          return MulTileBlockwiseU8S8<kRows, kVecs, Ahead::kL2>(a, lda, K, b, t, y, ldy, cols,
                                                                prefetch_b, prefetch_blocks);
      }
    }
    MulTileRowsBlockwiseU8S8<kRows - 1, kVecs>(rows, a, lda, K, b, t, y, ldy, cols, prefetch_b,
                                               prefetch_blocks, ahead);
  }
}

// Tiles of at most kRows x kVecs vectors over the output. With kPrefetchNext, the last of two or
// more row tiles asks for the next column tile's weights (up to column N) into L2: a text
// query's second row tile reads its weights from cache, and memory, idle otherwise, streams the
// next panel meanwhile (8 tokens: 7-10% faster at 2 threads, 5-7% at 1; into L1 instead it
// was slower, the next panel evicting the one being read).
template <size_t kRows, size_t kVecs, bool kPrefetchNext = false>
HWY_INLINE void MulPanelsBlockwiseTilesU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K,
                                            const int8_t* packed_b, size_t col_begin,
                                            size_t col_end, size_t N,
                                            const BlockwiseGemmTerms& terms, float* y, size_t ldy) {
  const size_t tile_cols = kVecs * hn::Lanes(DI32());
  const size_t panel_terms = ActivationBlocks(K) * kPackedPanelCols;
  const size_t blocks = ActivationBlocks(K);
  // kPrefetchBlocks blocks on: whole steps, so that the offsets add up (PackedGroupOffset).
  constexpr size_t kPrefetchGroups = kPrefetchBlocks * kActivationBlock / 4;
  static_assert(kPrefetchGroups % kPackedStepGroups == 0);
  const auto weights = [&](size_t col) { return PackedColumn(packed_b, K, col); };
  for (size_t col = col_begin; col < col_end; col += tile_cols) {
    const size_t cols = std::min(tile_cols, col_end - col);
    const size_t panel = col / kPackedPanelCols, in_panel = col % kPackedPanelCols;
    const int8_t* b = weights(col);
    BlockwiseGemmTerms t = terms;
    t.b_terms += panel * panel_terms + in_panel;
    t.b_scales += col;
    if (t.bias != nullptr) t.bias += col;
    float* y_col = y + (col - col_begin);
    const RowTiles tiles(rows, kRows);
    for (size_t i = 0, r = 0; i < tiles.count; r += tiles.Rows(i), ++i) {
      const int8_t* prefetch_b = nullptr;
      size_t prefetch_blocks = 0;
      Ahead ahead = Ahead::kNone;
      if (i == 0 && blocks > kPrefetchBlocks) {
        prefetch_b = b + PackedGroupOffset(kPrefetchGroups);
        prefetch_blocks = blocks - kPrefetchBlocks;
        ahead = Ahead::kL1;
      } else if (kPrefetchNext && i > 0 && i + 1 == tiles.count && col + tile_cols < N) {
        prefetch_b = weights(col + tile_cols);
        prefetch_blocks = blocks;
        ahead = Ahead::kL2;
      }
      MulTileRowsBlockwiseU8S8<kRows, kVecs>(tiles.Rows(i), a + r * lda, lda, K, b,
                                             BlockTermsAtRow(t, r), y_col + r * ldy, ldy, cols,
                                             prefetch_b, prefetch_blocks, ahead);
    }
  }
}

#if HWY_TARGET == HWY_AVX3_DL
// The block-wise product on AMX tiles (AmxMulBlockwiseU8S8; same bits as the vector tiles) when
// they are usable and K is a multiple of kActivationBlock: 16 columns at a time, rows in tiles of
// 16 starting at 0, 16, ..., the last one ending at `rows` (its rows overlapping the tile before
// are computed twice, the same, and written twice); fewer than 16 rows are one tile of that
// many. Returns whether it ran.
HWY_INLINE bool MulAmxBlockwiseU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K,
                                    const int8_t* packed_b, size_t col_begin, size_t col_end,
                                    const BlockwiseGemmTerms& terms, float* y, size_t ldy) {
  if (rows == 0 || !AmxTakesDepth(K, /*blockwise=*/true)) return false;
  constexpr size_t kTileCols = 16;
  const size_t panel_terms = ActivationBlocks(K) * kPackedPanelCols;
  const size_t tile_rows = std::min(rows, kAmxRows);
  // Below 16 rows the tile takes the row of ones after the last (gemm_s8_amx.h); K = 0 reads
  // none.
  const bool copy = rows < kAmxRows && !terms.ones_after_a && K > 0;
  const uint8_t* tile_a = copy ? AmxRowsWithOnes(a, lda, rows, K) : a;
  const size_t tile_lda = copy ? K : lda;
  AmxBeginBlockwise(tile_rows);
  for (size_t panel_col = col_begin; panel_col < col_end; panel_col += kPackedPanelCols) {
    const size_t panel = panel_col / kPackedPanelCols;
    const size_t panel_end = std::min(col_end, panel_col + kPackedPanelCols);
    for (size_t r = 0; r < rows; r += kAmxRows) {
      const size_t row = std::min(r, rows - tile_rows);
      for (size_t col = panel_col; col < panel_end; col += kTileCols) {
        const size_t in_panel = col - panel_col;
        AmxMulBlockwiseU8S8(
            tile_a + row * tile_lda, tile_lda, tile_rows, K, PackedColumn(packed_b, K, col),
            terms.a_blocks + row, terms.a_stride, terms.b_terms + panel * panel_terms + in_panel,
            kPackedPanelCols, terms.b_scales + col,
            terms.bias != nullptr ? terms.bias + col : nullptr, y + row * ldy + (col - col_begin),
            ldy, std::min(kTileCols, panel_end - col));
      }
    }
  }
  AmxEnd();
  return true;
}
#endif

// The block-wise product over columns [col_begin, col_end): on AMX tiles where they can take it
// (MulAmxBlockwiseU8S8), else in vectors. With AVX-512, 8 rows or fewer (a short text query, a
// pooled row) run in tiles of 4 rows x 4 vectors, which read each weight
// vector for as many rows as 4 x 2 tiles but walk the rows' activations half as often: 12%
// faster at 8 x 768 x 3072 on an Intel Xeon (6 x 2 stays best for taller inputs). Same bits:
// the tile shape does not change any output's operations.
HWY_INLINE void MulPanelsBlockwiseU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K,
                                       const int8_t* packed_b, size_t N, size_t col_begin,
                                       size_t col_end, const BlockwiseGemmTerms& terms, float* y,
                                       size_t ldy) {
  HWY_DASSERT(col_begin % kPackedPanelCols == 0 && col_end <= N);
#if HWY_TARGET == HWY_AVX3_DL
  if (MulAmxBlockwiseU8S8(a, lda, rows, K, packed_b, col_begin, col_end, terms, y, ldy)) return;
#endif
#if HWY_TARGET <= HWY_AVX3
  if (rows <= 8) {
    return MulPanelsBlockwiseTilesU8S8<4, 4, true>(a, lda, rows, K, packed_b, col_begin, col_end, N,
                                                   terms, y, ldy);
  }
#endif
  MulPanelsBlockwiseTilesU8S8<kBlockTileRows, kBlockTileVecs>(a, lda, rows, K, packed_b, col_begin,
                                                              col_end, N, terms, y, ldy);
}

// ------------------------------ Row sums

HWY_INLINE void SumRowsU8(const uint8_t* a, size_t lda, size_t rows, size_t K, int32_t* sums) {
  const hn::ScalableTag<uint8_t> d8;
  const hn::Repartition<uint64_t, decltype(d8)> d64;
  const size_t N = hn::Lanes(d8);
  for (size_t m = 0; m < rows; ++m) {
    const uint8_t* row = a + m * lda;
    auto sum = hn::Zero(d64);
    for (size_t k = 0; k < K; k += N) {
      sum = hn::Add(sum, hn::SumsOf8(LoadFirstN(d8, row + k, std::min(N, K - k))));
    }
    sums[m] = static_cast<int32_t>(hn::GetLane(hn::SumOfLanes(d64, sum)));
  }
}

#if HWY_COMPILER_GCC_ACTUAL
#pragma GCC pop_options
#endif

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace qclip
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
