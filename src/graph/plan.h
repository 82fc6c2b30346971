// Planning: from a loaded graph with one kernel per node, and concrete input shapes, derive every
// value's dtype and shape, fold what depends only on constants and shapes, and lay out the
// remaining activations in one arena by liveness. A Plan is immutable and shared by the runs
// with that input-shape signature; each run binds it to an arena of its own.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "graph/ir.h"
#include "ops/op.h"

namespace qclip {

struct PlanStep {
  int node = 0;  // index into Graph::nodes (for error messages and profiling)
  const OpKernel* kernel = nullptr;
  std::vector<int> inputs;    // value ids, -1 = omitted
  std::vector<int> outputs;   // value ids, -1 = omitted
  size_t scratch_offset = 0;  // arena offset of the kernel's scratch (OpKernel::ScratchBytes)
  size_t scratch_bytes = 0;
  std::shared_ptr<const OpState> state;  // OpKernel::Prepare for the plan's shapes
};

// Where a value lives while a plan runs.
struct ValueSlot {
  Tensor tensor;          // dtype and shape; data for constants (initializers and folded values)
  bool constant = false;  // data is fixed for this plan
  bool used = false;      // read by a step or a graph output
  size_t offset = 0;      // arena offset of an activation
};

struct Plan {
  std::vector<ValueSlot> slots;  // per value id
  std::vector<PlanStep> steps;   // the nodes left to run, in order
  size_t arena_bytes = 0;
};

// Computes shapes, folds constants and plans memory. `inputs` holds a Tensor (data may be
// absent) for each graph input, in graph.inputs order. Throws qclip::Error naming the node,
// op, and input shapes on any failure.
std::shared_ptr<const Plan> MakePlan(const Graph& graph,
                                     const std::vector<std::unique_ptr<OpKernel>>& kernels,
                                     const std::vector<Tensor>& inputs, ThreadPool& pool);

// Runs the nodes of `graph` whose inputs are all constants at load (initializers) once, and
// makes their outputs initializers; no shape is involved, so this is done before kernels are
// built (a MatMul then sees a folded Transpose of its weight as a constant it can pack).
// Outputs larger than `max_growth` times their inputs are left unfolded.
void FoldInitializers(Graph& graph, ThreadPool& pool);

// "node 'x' (Op) with inputs [1, 2] float32, [3] int64" for error messages.
std::string DescribeNodeCall(const Graph& g, const Node& n, const std::vector<const Tensor*>& in);

}  // namespace qclip
