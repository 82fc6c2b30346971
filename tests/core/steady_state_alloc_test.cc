// Steady state allocates (almost) nothing: once a plan exists for the input shapes, a Run takes
// its activations and every op's temporary memory from the planned arena, so the heap only sees
// the returned outputs and a little bookkeeping. Measured by counting the bytes operator new
// hands out, and its calls, during a third Run of the fixture towers, FP32 and INT8, in each
// activation mode and unfused (where ONNX Runtime's own MatMulInteger, DynamicQuantizeLinear and
// ConvInteger run).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "graph/interpreter.h"
#include "onnx/loader.h"
#include "qclip/qclip.h"
#include "tower_fixtures.h"

namespace {
std::atomic<size_t> g_allocated_bytes{0};
std::atomic<size_t> g_allocations{0};
}  // namespace

// Counting replacements of the global allocation functions (this test binary only).
void* operator new(size_t bytes) {
  g_allocated_bytes.fetch_add(bytes, std::memory_order_relaxed);
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t bytes) { return operator new(bytes); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace qclip {
namespace {

// What a Run may allocate besides its outputs: vectors of tensor handles and the like, in a few
// calls that do not grow with the layers (11-25 on these towers, ~15 on the full-size text
// tower): what ops derive from shapes is made once per plan (OpKernel::Prepare). Until the
// eighteenth session they remade it every run: 79-119 calls here with the graph passes (~2,200
// per 8-token query of the full-size text tower, mostly attention's views), 529-1013 without.
constexpr size_t kBookkeepingBytes = 16 << 10;
constexpr size_t kBookkeepingCalls = 32;

struct Mode {
  const char* name;
  bool fuse;
  Int8Activations activations;
};

TEST(SteadyState, RunsAllocateOnlyTheirOutputs) {
  const Mode modes[] = {{"block-wise", true, Int8Activations::kBlockwise},
                        {"per-tensor", true, Int8Activations::kPerTensor},
                        {"unfused", false, Int8Activations::kPerTensor}};
  for (const test::TowerFixture& c : test::kTowerFixtures) {
    const std::filesystem::path dir = test::FixtureModels() / c.dir;
    const Tensor input = ReadNpy((dir / c.file).string());
    for (const char* file : {"fp32.onnx", "int8_qint8.onnx"}) {
      for (const Mode& mode : modes) {
        SCOPED_TRACE(std::string(c.dir) + "/" + file + ", " + mode.name);
        InterpreterOptions options;
        options.threads = 2;
        options.fuse = mode.fuse;
        options.int8_activations = mode.activations;
        Interpreter interpreter(LoadOnnxModel((dir / file).string()), options);
        interpreter.Run({input});  // plans
        interpreter.Run({input});
        const size_t before = g_allocated_bytes.load(), calls_before = g_allocations.load();
        const std::vector<Tensor> outputs = interpreter.Run({input});
        const size_t allocated = g_allocated_bytes.load() - before;
        const size_t calls = g_allocations.load() - calls_before;
        size_t output_bytes = 0;
        for (const Tensor& t : outputs) output_bytes += t.bytes();
        EXPECT_LE(allocated, output_bytes + kBookkeepingBytes)
            << "outputs " << output_bytes << " bytes";
        EXPECT_LE(calls, kBookkeepingCalls);
      }
    }
  }
}

}  // namespace
}  // namespace qclip
