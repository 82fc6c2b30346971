// FP32 GEMM throughput on one thread, for the shapes of the CLIP towers, beside OpenBLAS sgemm
// (loaded at run time when libopenblas.so.0 is installed) and the measured FMA peak of a core.
//
//   build/bench/gemm_f32_bench --benchmark_counters_tabular=true
//
// GFLOPS counts 2*M*N*K per product; BM_FmaPeak's GFLOPS is what two FMA pipes reach on
// independent register accumulators, the ceiling the GEMM is measured against.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

// Until bench/CMakeLists.txt puts the source tree on the include path, build an empty benchmark.
#if !__has_include("kernels/gemm_f32.h")
BENCHMARK_MAIN();
#else

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/gemm_f32.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace qclip {
namespace {

// OpenBLAS's cblas_sgemm, looked up at run time so the benchmark builds without it.
using SgemmFn = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                         const float* a, int lda, const float* b, int ldb, float beta, float* c,
                         int ldc);
constexpr int kCblasRowMajor = 101, kCblasNoTrans = 111;

SgemmFn OpenBlasSgemm() {
  static const SgemmFn sgemm = []() -> SgemmFn {
    void* lib = dlopen("libopenblas.so.0", RTLD_NOW);
    if (lib == nullptr) return nullptr;
    using SetThreadsFn = void (*)(int);
    auto set_threads = reinterpret_cast<SetThreadsFn>(dlsym(lib, "openblas_set_num_threads"));
    if (set_threads != nullptr) set_threads(1);
    return reinterpret_cast<SgemmFn>(dlsym(lib, "cblas_sgemm"));
  }();
  return sgemm;
}

std::vector<float> RandomVector(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

void SetFlops(benchmark::State& state, int64_t m, int64_t n, int64_t k) {
  state.counters["GFLOPS"] =
      benchmark::Counter(2.0 * m * n * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// C[M, N] = A[M, K] · W[K, N] with W packed once, like a Linear layer's weight.
void BM_GemmPacked(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const std::vector<float> a = RandomVector(m * k, 1), b = RandomVector(k * n, 2);
  std::vector<float> c(static_cast<size_t>(m * n));
  const PackedGemmB packed(GemmBView{b.data(), n, k, n, false});
  for (auto _ : state) {
    GemmF32(a.data(), k, packed, c.data(), n, m);
    benchmark::DoNotOptimize(c.data());
  }
  SetFlops(state, m, n, k);
}

// The same product with B unpacked (packed panel by panel inside), as for attention.
void BM_GemmView(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const std::vector<float> a = RandomVector(m * k, 1), b = RandomVector(k * n, 2);
  std::vector<float> c(static_cast<size_t>(m * n));
  for (auto _ : state) {
    GemmF32(a.data(), k, GemmBView{b.data(), n, k, n, false}, c.data(), n, m);
    benchmark::DoNotOptimize(c.data());
  }
  SetFlops(state, m, n, k);
}

void BM_OpenBlasSgemm(benchmark::State& state) {
  const SgemmFn sgemm = OpenBlasSgemm();
  if (sgemm == nullptr) {
    state.SkipWithError("libopenblas.so.0 not found");
    return;
  }
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const std::vector<float> a = RandomVector(m * k, 1), b = RandomVector(k * n, 2);
  std::vector<float> c(static_cast<size_t>(m * n));
  for (auto _ : state) {
    sgemm(kCblasRowMajor, kCblasNoTrans, kCblasNoTrans, static_cast<int>(m), static_cast<int>(n),
          static_cast<int>(k), 1.0f, a.data(), static_cast<int>(k), b.data(), static_cast<int>(n),
          0.0f, c.data(), static_cast<int>(n));
    benchmark::DoNotOptimize(c.data());
  }
  SetFlops(state, m, n, k);
}

#if defined(__x86_64__) && defined(__GNUC__)
// 24 independent AVX-512 FMA chains: the core's sustained FP32 FMA throughput.
__attribute__((target("avx512f"))) void BM_FmaPeak(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx512f")) {
    state.SkipWithError("no AVX-512");
    return;
  }
  constexpr int kChains = 24, kSteps = 1000;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s) {
#pragma GCC unroll 24  // keeps every chain in a register
      for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    }
  }
  for (int i = 0; i < kChains; ++i) benchmark::DoNotOptimize(acc[i]);
  state.counters["GFLOPS"] = benchmark::Counter(kChains * kSteps * 16 * 2 * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_FmaPeak);
#endif

// Shapes (M, K, N): the ViT-B/16 layers for one image (197 tokens) and the BERT text tower
// (sequence 8..256), then per-head attention products (Q·Kᵀ and P·V, head size 64; 77 is
// CLIP's text context).
void LinearShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N"});
  for (int64_t m : {197}) {
    b->Args({m, 768, 768});
    b->Args({m, 768, 2304});
    b->Args({m, 768, 3072});
    b->Args({m, 3072, 768});
  }
  for (int64_t m : {8, 64, 256}) b->Args({m, 768, 768});
  b->Args({1, 768, 640});
  b->Args({1, 640, 512});
}
void AttentionShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N"});
  for (int64_t seq : {77, 197, 256}) {
    b->Args({seq, 64, seq});
    b->Args({seq, seq, 64});
  }
}

BENCHMARK(BM_GemmPacked)->Apply(LinearShapes);
BENCHMARK(BM_OpenBlasSgemm)->Apply(LinearShapes);
BENCHMARK(BM_GemmView)->Apply(AttentionShapes);
BENCHMARK(BM_OpenBlasSgemm)->Apply(AttentionShapes);

}  // namespace
}  // namespace qclip

BENCHMARK_MAIN();
#endif  // __has_include
