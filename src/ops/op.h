// The op layer's contract with the graph layer: one OpKernel object per graph node.
//
// Lifecycle: at load, the interpreter finds the node's schema in the registry and calls its
// factory with the node and any inputs that are constant at load (initializers), so a kernel can
// validate attributes and pack weights once. For each new set of input shapes, the planner calls
// Infer in topological order to get every value's dtype and shape; when all of a node's inputs
// are constants (initializers, or values already folded because they depend only on shapes),
// the planner allocates its outputs and calls Run right away: that is constant folding. For each
// node left to run it then calls ScratchBytes and Prepare once. At run time the interpreter
// calls Run with outputs already allocated from the planned arena.
//
// Kernels throw qclip::Error (no context needed: the graph layer adds the node, op and shapes)
// from the factory and Infer. Run must not throw for inputs that passed Infer.
#pragma once

#include <cassert>
#include <memory>
#include <string>
#include <vector>

#include "graph/ir.h"
#include "qclip/error.h"
#include "qclip/session.h"
#include "qclip/tensor.h"

namespace qclip {

class ThreadPool;
class WeightArena;

// What a kernel derives from its input shapes once per plan (OpKernel::Prepare); each kernel
// defines its own.
struct OpState {
  virtual ~OpState() = default;
};

struct RunContext {
  ThreadPool* pool = nullptr;  // never null inside Run
  bool exact = false;          // SessionOptions::exact
  // OpKernel::ScratchBytes of memory for this call, 64-byte aligned (null when it asked none):
  // planned in the run's arena, so that steady-state runs allocate nothing.
  void* scratch = nullptr;
  // OpKernel::Prepare's result for these input shapes (null when it made none).
  const OpState* state = nullptr;
};

// The state Prepare made for this call (RunContext::state), as the kernel's own type.
template <typename State>
const State& PreparedState(const RunContext& ctx) {
  assert(ctx.state != nullptr);
  return static_cast<const State&>(*ctx.state);
}

class OpKernel {
 public:
  virtual ~OpKernel() = default;

  // Fills out[i] (pre-sized to the node's output count) with Tensor::Meta(dtype, shape) for
  // each output. in[i] is nullptr for an omitted optional input; in[i]->has_data() is true
  // when that input is a constant. Ops whose output shape depends on input values (Reshape,
  // Expand, Range, ConstantOfShape, Slice, ...) throw qclip::Error if that input is not constant.
  // An op whose output follows from input shapes alone (Shape, Size) may set out[i] to a real
  // Tensor with data: the planner then treats that output as a constant and folds what follows.
  // Note has_data() is also true for empty tensors (size 0).
  virtual void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const = 0;

  // Computes the outputs into buffers already allocated with the shapes Infer gave.
  virtual void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
                   RunContext& ctx) const = 0;

  // True when constant input i was copied into the kernel's own layout at construction (packed
  // weights) and neither Infer nor Run reads its data again, only its dtype and shape. The
  // interpreter then frees the original, so that weights are held once, packed.
  virtual bool PackedInput(size_t i) const { return false; }

  // True when output 0 holds exactly the bytes of input 0 (Reshape, Squeeze, Identity...). The
  // planner then lets the output share the input's memory and drops the step, unless the input
  // lives outside the arena (a constant or graph input). Run must still copy, for the cases the
  // planner leaves alone.
  virtual bool OutputIsInput() const { return false; }

  // Bytes of temporary memory Run needs for inputs of these shapes (data may be absent) with a
  // pool of `threads` workers; the planner reserves them for the duration of the step and passes
  // them as RunContext::scratch.
  virtual size_t ScratchBytes(const std::vector<const Tensor*>& in, int threads) const {
    (void)in;
    (void)threads;
    return 0;
  }

  // Work that depends on the input shapes alone (strided views, layouts, tilings), done once per
  // plan so that Run neither repeats nor allocates for it: Run finds the result at ctx.state.
  // Constant inputs have their data here, others not. May throw, as Infer does.
  virtual std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in,
                                                 int threads) const {
    (void)in;
    (void)threads;
    return nullptr;
  }
};

struct KernelInit {
  const Node& node;
  int since_version;  // the schema version that matched the model's opset
  // Per node input: the constant value when known at load (initializer), else nullptr.
  std::vector<const Tensor*> constants;
  // SessionOptions::int8_activations, already kPerTensor when SessionOptions::exact is set. Read
  // by qclip.QuantizedLinear, which prepares its weights for it at load.
  Int8Activations int8_activations = Int8Activations::kBlockwise;
  // Where to put weights packed at load (null: the kernel allocates them on its own).
  WeightArena* weights = nullptr;
  // The session's threads, to pack large weights with (null: on the calling thread).
  ThreadPool* pool = nullptr;
};

using KernelFactory = std::unique_ptr<OpKernel> (*)(const KernelInit&);

// Runs `kernel` outside a plan (constant folding, tests): gives it the scratch memory it asks
// for and the state its Prepare makes, each for this call only, where ctx has none (what ctx
// has must be this kernel's own, for these inputs).
void RunUnplanned(const OpKernel& kernel, const std::vector<const Tensor*>& in,
                  const std::vector<Tensor*>& out, RunContext& ctx);

// Typed arrays carved in order out of a scratch block, each 64-byte aligned. With a null base it
// only adds up the bytes: kernels size their scratch (ScratchBytes) and carve it (Run) with the
// same code.
class ScratchCarver {
 public:
  explicit ScratchCarver(void* base) : base_(static_cast<unsigned char*>(base)) {}
  template <typename T>
  T* Take(size_t n) {
    bytes_ = (bytes_ + 63) / 64 * 64;
    // Sizes come from input shapes, so a hostile model can ask for any amount: refused here
    // before the sum wraps (the arena's own limit then names the model and the size).
    constexpr size_t kMaxBytes = size_t{1} << 60;
    if (n > (kMaxBytes - bytes_) / sizeof(T)) {
      throw Error("an op's scratch memory for these shapes is above 2^60 bytes");
    }
    T* p = base_ == nullptr ? nullptr : reinterpret_cast<T*>(base_ + bytes_);
    bytes_ += n * sizeof(T);
    return p;
  }
  size_t bytes() const { return bytes_; }

 private:
  unsigned char* base_;
  size_t bytes_ = 0;
};

struct OpSchema {
  std::string domain;  // "" = ai.onnx, "qclip" = our fused ops
  std::string op_type;
  int since_version;
  KernelFactory make;
  // The input this op's kernel packs at construction when it is constant, reading it at any
  // alignment (PackGemmPanel), or -1. A misaligned weight viewed in the model file
  // (AlignConstant, graph/ir.h) reaches the kernel as it lies there; if the kernel then did not
  // pack it (PackedInput), the interpreter aligns it before anything reads it.
  int packs_misaligned_input = -1;
};

class OpRegistry {
 public:
  void Add(OpSchema schema);
  // The schema with the greatest since_version <= opset, or nullptr.
  const OpSchema* Find(const std::string& domain, const std::string& op_type, int opset) const;

 private:
  std::vector<OpSchema> schemas_;
};

// Every op qclip implements, registered once on first use.
const OpRegistry& BuiltinOps();

}  // namespace qclip
