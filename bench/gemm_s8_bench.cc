// The int8 GEMM (u8 x s8 -> s32) at BiomedCLIP ViT-B/16 shapes, single thread, per SIMD target,
// against the VNNI peak of this CPU; plus the activation quantization around it.
//
// Peak: one 512-bit VPDPBUSD does 64 u8 x s8 multiply-adds = 128 ops. BM_VnniPeak measures what
// the core sustains (24 independent accumulator chains, no loads) and the clock under load (a
// chain of dependent adds, 1 cycle each), so
//   issue rate = peak GOP/s / (128 * GHz)   and   pct_vnni_peak = GEMM GOP/s / peak GOP/s.
// Rates use thread CPU time, not wall time, and the fastest iteration (RunGemm): the machine may
// be shared.
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/thread_seconds.h"
#include "hwy/aligned_allocator.h"
#include "hwy/targets.h"
#include "kernels/gemm_s8.h"
#include "kernels/quantize.h"

namespace qclip {
namespace {

#if defined(__x86_64__)
bool HasAvx512Vnni() { return __builtin_cpu_supports("avx512vnni"); }

// GOP/s of back-to-back VPDPBUSD: 24 independent accumulators, written in assembly so that
// nothing but the instruction under test runs.
__attribute__((target("avx512f"))) double MeasureVnniPeakGops() {
  const uint64_t iters = 20000000;
  uint64_t n = iters;
  const double start = ThreadSeconds();
  asm volatile(
      "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"
      "vpxord %%zmm1, %%zmm1, %%zmm1\n\t"
      "1:\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm8\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm9\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm10\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm11\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm12\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm13\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm14\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm15\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm16\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm17\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm18\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm19\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm20\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm21\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm22\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm23\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm24\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm25\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm26\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm27\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm28\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm29\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm30\n\t"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm31\n\t"
      "sub $1, %[n]\n\t"
      "jnz 1b"
      : [n] "+r"(n)
      :
      : "xmm0", "xmm1", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
        "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",
        "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
  return iters * 24.0 * 128.0 / (ThreadSeconds() - start) * 1e-9;
}

// Core clock from a chain of dependent 1-cycle adds (4 per loop iteration).
double MeasureCoreGHz() {
  const uint64_t iters = 100000000;
  uint64_t x = 0, n = iters;
  const double start = ThreadSeconds();
  asm volatile(
      "1:\n\t"
      "add $1, %[x]\n\t"
      "add $1, %[x]\n\t"
      "add $1, %[x]\n\t"
      "add $1, %[x]\n\t"
      "sub $1, %[n]\n\t"
      "jnz 1b"
      : [x] "+r"(x), [n] "+r"(n));
  return 4.0 * iters / (ThreadSeconds() - start) * 1e-9;
}
#else
bool HasAvx512Vnni() { return false; }
double MeasureVnniPeakGops() { return 0.0; }
double MeasureCoreGHz() { return 0.0; }
#endif

// The best of a few measurements, as for the GEMMs (see RunGemm).
double VnniPeakGops() {
  static const double peak = [] {
    double best = 0.0;
    for (int i = 0; i < 5 && HasAvx512Vnni(); ++i) best = std::max(best, MeasureVnniPeakGops());
    return best;
  }();
  return peak;
}

void BM_VnniPeak(benchmark::State& state) {
  if (!HasAvx512Vnni()) return state.SkipWithError("no AVX-512 VNNI");
  double gops = 0.0, ghz = 0.0;
  for (auto _ : state) {
    gops = MeasureVnniPeakGops();
    ghz = MeasureCoreGHz();
  }
  state.counters["GOP/s"] = gops;
  state.counters["GHz"] = ghz;
  state.counters["vpdpbusd_per_cycle"] = gops / (128.0 * ghz);
}
BENCHMARK(BM_VnniPeak)->Iterations(3)->Unit(benchmark::kMillisecond);

// Runs fn() once per benchmark iteration and reports GOP/s for an M x K x N product: "GOP/s"
// from the fastest iteration, "GOP/s_mean" from all of them (both in thread CPU time). The
// machine is shared: other processes slow some iterations down (caches, frequency), and the
// fastest one is the kernel's own speed.
template <typename Fn>
void RunGemm(benchmark::State& state, size_t M, size_t K, size_t N, int64_t target, const Fn& fn) {
  hwy::SetSupportedTargetsForTest(target);
  double best = 1e30, total = 0.0;
  for (auto _ : state) {
    const double start = ThreadSeconds();
    fn();
    benchmark::ClobberMemory();
    const double seconds = ThreadSeconds() - start;
    best = std::min(best, seconds);
    total += seconds;
  }
  hwy::SetSupportedTargetsForTest(0);
  const double ops = 2e-9 * M * N * K;
  state.counters["GOP/s"] = ops / best;
  state.counters["GOP/s_mean"] = ops * state.iterations() / total;
  if (VnniPeakGops() > 0.0) state.counters["pct_vnni_peak"] = 100.0 * ops / best / VnniPeakGops();
  const int64_t supported = hwy::SupportedTargets();
  state.SetLabel(hwy::TargetName(target != 0 ? target : supported & -supported));
}

// Random u8 activations [M, K] and s8 weights [K, N] (those packed too), the same for every
// product benchmark of a shape.
struct GemmOperands {
  std::vector<uint8_t> a;
  std::vector<int8_t> b;
  hwy::AlignedFreeUniquePtr<int8_t[]> packed;
};

GemmOperands RandomOperands(size_t M, size_t K, size_t N) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> dist(0, 255);
  GemmOperands op{std::vector<uint8_t>(M * K), std::vector<int8_t>(K * N),
                  hwy::AllocateAligned<int8_t>(PackedWeightsS8Size(K, N))};
  for (uint8_t& v : op.a) v = static_cast<uint8_t>(dist(rng));
  for (int8_t& v : op.b) v = static_cast<int8_t>(dist(rng) - 128);
  PackWeightsS8(op.b.data(), K, N, N, 1, op.packed.get());
  return op;
}

// Args: M, K, N, Highway target (0 = best available).
void BM_MatMulU8S8(benchmark::State& state) {
  const size_t M = state.range(0), K = state.range(1), N = state.range(2);
  const int64_t target = state.range(3);
  if (target != 0 && (hwy::SupportedTargets() & target) == 0) {
    return state.SkipWithError("target not supported");
  }
  const GemmOperands op = RandomOperands(M, K, N);
  auto c = hwy::AllocateAligned<int32_t>(M * N);

  RunGemm(state, M, K, N, target,
          [&] { MatMulU8S8(op.a.data(), K, M, K, op.packed.get(), N, 0, N, c.get(), N); });
}
void GemmShapes(benchmark::internal::Benchmark* b) {
  for (int64_t target : {int64_t{0}, int64_t{HWY_AVX3}, int64_t{HWY_AVX2}}) {
    b->Args({197, 768, 3072, target});  // MLP fc1
    b->Args({197, 3072, 768, target});  // MLP fc2
    b->Args({197, 768, 2304, target});  // attention qkv
    b->Args({197, 768, 768, target});   // attention proj
  }
  b->Args({1, 768, 768, 0});  // one text query row
}
BENCHMARK(BM_MatMulU8S8)->Apply(GemmShapes)->Unit(benchmark::kMillisecond);

// The zero points, scales and bias of the QuantizedLinear epilogue, for `op`.
struct DequantizeTerms {
  DequantizeTerms(const GemmOperands& op, size_t M, size_t K, size_t N)
      : a_zp(M, 117),
        a_sums(M),
        b_zp(N, 3),
        b_sums(N, 1000),
        a_scales(M, 0.01f),
        b_scales(N, 0.002f),
        bias(N, 0.5f) {
    RowSumsU8(op.a.data(), K, M, K, a_sums.data());
    terms = {a_zp.data(),   a_sums.data(),   a_scales.data(), b_zp.data(),
             b_sums.data(), b_scales.data(), bias.data()};
  }
  std::vector<int32_t> a_zp, a_sums, b_zp, b_sums;
  std::vector<float> a_scales, b_scales, bias;
  QuantizedGemmTerms terms;
};

// The same product with the QuantizedLinear epilogue (zero points, scales, bias, float output)
// applied in registers, as the fused op runs it in exact (per-tensor) mode. Args: M, K, N,
// Highway target.
void BM_MatMulU8S8Dequantize(benchmark::State& state) {
  const size_t M = state.range(0), K = state.range(1), N = state.range(2);
  const int64_t target = state.range(3);
  if (target != 0 && (hwy::SupportedTargets() & target) == 0) {
    return state.SkipWithError("target not supported");
  }
  const GemmOperands op = RandomOperands(M, K, N);
  const DequantizeTerms dq(op, M, K, N);
  auto y = hwy::AllocateAligned<float>(M * N);

  RunGemm(state, M, K, N, target, [&] {
    MatMulU8S8(op.a.data(), K, M, K, op.packed.get(), N, 0, N, dq.terms, y.get(), N);
  });
}
BENCHMARK(BM_MatMulU8S8Dequantize)
    ->Args({197, 768, 3072, 0})
    ->Args({197, 3072, 768, 0})
    ->Args({256, 768, 768, 0})  // a 256-token text query: Q, K, V and output projections
    ->Args({8, 768, 3072, 0})   // an unpadded text query, as the block-wise rows below
    ->Args({8, 3072, 768, 0})
    ->Args({197, 768, 3072, HWY_AVX3})
    ->Args({197, 768, 3072, HWY_AVX2})
    ->Unit(benchmark::kMillisecond);

// BM_MatMulU8S8Dequantize with the weights cold, as in a model: the product cycles over 16
// packed copies (38 MB at these shapes, beyond L2), so every call streams its weights from L3 or
// memory, as every layer of a model does. Args: M, K, N, rows per call (0: all), the calls made
// panel by panel as QuantizedLinear's tasks make them, and 1 to fuse a GELU as fc1 does.
void BM_MatMulU8S8DequantizeCold(benchmark::State& state) {
  const size_t M = state.range(0), K = state.range(1), N = state.range(2);
  constexpr size_t kCopies = 16;
  const size_t row_block = state.range(3) == 0 ? M : state.range(3);
  const bool gelu = state.range(4) != 0;
  const GemmOperands op = RandomOperands(M, K, N);
  std::vector<hwy::AlignedFreeUniquePtr<int8_t[]>> copies;
  for (size_t i = 0; i < kCopies; ++i) {
    copies.push_back(hwy::AllocateAligned<int8_t>(PackedWeightsS8Size(K, N)));
    std::copy_n(op.packed.get(), PackedWeightsS8Size(K, N), copies.back().get());
  }
  const DequantizeTerms dq(op, M, K, N);
  auto y = hwy::AllocateAligned<float>(M * N);
  size_t next = 0;
  RunGemm(state, M, K, N, 0, [&] {
    for (size_t col = 0; col < N; col += kPackedPanelCols) {
      for (size_t r = 0; r < M; r += row_block) {
        QuantizedGemmTerms t = dq.terms;
        t.activation = gelu ? UnaryOp::kGeluErf : UnaryOp::kIdentity;
        t.a_zero_points += r;
        t.a_sums += r;
        t.a_scales += r;
        MatMulU8S8(op.a.data() + r * K, K, std::min(row_block, M - r), K, copies[next].get(), N,
                   col, col + kPackedPanelCols, t, y.get() + r * N + col, N);
      }
    }
    next = (next + 1) % kCopies;
  });
}
BENCHMARK(BM_MatMulU8S8DequantizeCold)
    ->Args({197, 768, 3072, 0, 0})
    ->Args({197, 768, 3072, 66, 0})
    ->Args({197, 768, 3072, 66, 1})
    ->Args({197, 3072, 768, 0, 0})
    ->Args({197, 3072, 768, 66, 0})
    ->Unit(benchmark::kMillisecond);

// The block-wise product of the default mode (scale and zero point per 32 activations of a row,
// float sums over blocks) at the same shapes; compare with BM_MatMulU8S8Dequantize, which is
// what per-tensor (exact) and per-row quantization run. Args: M, K, N, Highway target.
void BM_MatMulBlockwiseU8S8(benchmark::State& state) {
  const size_t M = state.range(0), K = state.range(1), N = state.range(2);
  const int64_t target = state.range(3);
  if (target != 0 && (hwy::SupportedTargets() & target) == 0) {
    return state.SkipWithError("target not supported");
  }
  GemmOperands op = RandomOperands(M, K, N);
  op.a.resize((M + 1) * K, 1);  // the row of ones MatMulBlockwiseU8S8 asks for
  const std::vector<int32_t> b_zp(N, 3);
  auto b_terms = hwy::AllocateAligned<int32_t>(PackedBlockTermsS8Size(K, N));
  PackBlockTermsS8(op.b.data(), K, N, N, 1, b_zp.data(), b_terms.get());
  const size_t blocks = ActivationBlocks(K);
  std::vector<ActivationBlock> a_blocks(blocks * M);
  for (size_t i = 0; i < a_blocks.size(); ++i) {
    a_blocks[i] = MakeActivationBlock(0.01f + 0.001f * (i % 7), static_cast<int32_t>(i % 256), 4000,
                                      kActivationBlock);
  }
  const std::vector<float> b_scales(N, 0.002f), bias(N, 0.5f);
  BlockwiseGemmTerms terms;
  terms.a_blocks = a_blocks.data();
  terms.a_stride = M;
  terms.b_terms = b_terms.get();
  terms.b_scales = b_scales.data();
  terms.bias = bias.data();
  terms.ones_after_a = true;
  auto y = hwy::AllocateAligned<float>(M * N);

  RunGemm(state, M, K, N, target, [&] {
    MatMulBlockwiseU8S8(op.a.data(), K, M, K, op.packed.get(), N, 0, N, terms, y.get(), N);
  });
}
BENCHMARK(BM_MatMulBlockwiseU8S8)
    ->Args({197, 768, 3072, 0})
    ->Args({197, 3072, 768, 0})
    ->Args({256, 768, 768, 0})
    ->Args({8, 768, 3072, 0})  // an unpadded text query: weight streaming, not arithmetic
    ->Args({8, 768, 3072, HWY_AVX3})
    ->Args({8, 3072, 768, 0})
    ->Args({197, 768, 3072, HWY_AVX3})
    ->Args({197, 768, 3072, HWY_AVX2})
    ->Unit(benchmark::kMillisecond);

// DynamicQuantizeLinear of one [197, 768] activation: min/max, then quantize.
void BM_DynamicQuantize(benchmark::State& state) {
  const size_t n = state.range(0);
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  std::vector<uint8_t> q(n);
  for (auto _ : state) {
    float min, max;
    MinMaxF32(x.data(), n, &min, &max);
    const QuantParams p = DynamicQuantParamsU8(min, max);
    QuantizeU8(x.data(), n, p.scale, p.zero_point, q.data());
    benchmark::DoNotOptimize(q.data());
  }
  state.SetBytesProcessed(state.iterations() * n * sizeof(float));
  state.counters["Gelem/s"] =
      benchmark::Counter(n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DynamicQuantize)->Arg(197 * 768)->Arg(197 * 3072);

// The default mode's quantization: per block of kActivationBlock values of each row.
void BM_DynamicQuantizeBlocks(benchmark::State& state) {
  const size_t rows = 197, cols = state.range(0), blocks = ActivationBlocks(cols);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(rows * cols);
  for (float& v : x) v = dist(rng);
  std::vector<uint8_t> q(rows * cols);
  std::vector<QuantParams> params(rows * blocks);
  std::vector<int32_t> sums(rows * blocks);
  for (auto _ : state) {
    DynamicQuantizeBlocksU8(x.data(), cols, rows, cols, kActivationBlock, q.data(), cols,
                            params.data(), sums.data(), rows);
    benchmark::DoNotOptimize(q.data());
  }
  state.SetBytesProcessed(state.iterations() * rows * cols * sizeof(float));
}
BENCHMARK(BM_DynamicQuantizeBlocks)->Arg(768)->Arg(3072);

}  // namespace
}  // namespace qclip

BENCHMARK_MAIN();
