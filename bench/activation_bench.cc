// Elementwise float math on one thread: the activations the int8 and FP32 products apply in
// their epilogue (GELU) and the other unary ops, on a row that stays in L1 as the epilogue's do.
//
//   build/bench/activation_bench
//
// items_per_second counts outputs; the epilogue of a ViT-B/16 image applies GELU to 12 x 197
// x 3072 = 7.3 M values, its attention Softmax to 12 x 12 x 197 x 197 = 5.6 M.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/activation.h"
#include "kernels/norm.h"

namespace qclip {
namespace {

void BM_Unary(benchmark::State& state) {
  const auto op = static_cast<UnaryOp>(state.range(0));
  const size_t n = 3072;  // one row of a Linear's widest output
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<float> in(n), out(n);
  for (float& v : in) v = dist(rng);
  for (auto _ : state) {
    UnaryF32(op, in.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_Unary)
    ->ArgName("op")
    ->Arg(static_cast<int>(UnaryOp::kGeluErf))
    ->Arg(static_cast<int>(UnaryOp::kErf))
    ->Arg(static_cast<int>(UnaryOp::kGeluTanh))
    ->Arg(static_cast<int>(UnaryOp::kExp));

// Softmax over one attention block's scores: 48 query rows of 197 keys (ViT-B/16), in L1.
void BM_Softmax(benchmark::State& state) {
  const size_t rows = 48, cols = static_cast<size_t>(state.range(0));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> in(rows * cols), out(rows * cols);
  for (float& v : in) v = dist(rng);
  for (auto _ : state) {
    SoftmaxF32(in.data(), rows, cols, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows * cols));
}
BENCHMARK(BM_Softmax)->ArgName("cols")->Arg(197)->Arg(256);

}  // namespace
}  // namespace qclip

BENCHMARK_MAIN();
