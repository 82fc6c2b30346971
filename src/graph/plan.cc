#include "graph/plan.h"

#include <algorithm>
#include <map>

#include "util/thread_pool.h"

namespace qclip {

namespace {

constexpr size_t kArenaAlign = 64;
// Load-time folding keeps outputs up to this size, or any size no larger than the inputs.
constexpr size_t kMaxFoldGrowthBytes = size_t{16} << 20;

size_t AlignUp(size_t n) { return (n + kArenaAlign - 1) / kArenaAlign * kArenaAlign; }

// Best-fit allocator over one arena of growing size; frees coalesce with their neighbours.
class ArenaPlanner {
 public:
  size_t Allocate(size_t bytes) {
    bytes = AlignUp(bytes == 0 ? 1 : bytes);
    auto best = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second >= bytes && (best == free_.end() || it->second < best->second)) best = it;
    }
    if (best == free_.end()) {
      // Grow, reusing a free block at the end of the arena if there is one.
      size_t offset = size_;
      if (!free_.empty()) {
        auto last = std::prev(free_.end());
        if (last->first + last->second == size_) {
          offset = last->first;
          free_.erase(last);
        }
      }
      size_ = offset + bytes;
      return offset;
    }
    const size_t offset = best->first;
    const size_t rest = best->second - bytes;
    free_.erase(best);
    if (rest != 0) free_.emplace(offset + bytes, rest);
    return offset;
  }

  void Free(size_t offset, size_t bytes) {
    bytes = AlignUp(bytes == 0 ? 1 : bytes);
    auto it = free_.emplace(offset, bytes).first;
    auto next = std::next(it);
    if (next != free_.end() && it->first + it->second == next->first) {
      it->second += next->second;
      free_.erase(next);
    }
    if (it != free_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        free_.erase(it);
      }
    }
  }

  size_t size() const { return size_; }

 private:
  std::map<size_t, size_t> free_;  // offset -> bytes
  size_t size_ = 0;
};

std::vector<const Tensor*> Inputs(const std::vector<ValueSlot>& slots, const Node& n) {
  std::vector<const Tensor*> in;
  for (int v : n.inputs) in.push_back(v < 0 ? nullptr : &slots[v].tensor);
  return in;
}

// Infers node n's outputs; runs it now when all its inputs are constant. Returns true if every
// output is constant afterwards.
bool InferOrFold(const Graph& g, const Node& n, const OpKernel& kernel,
                 std::vector<ValueSlot>& slots, ThreadPool& pool) {
  const std::vector<const Tensor*> in = Inputs(slots, n);
  bool all_constant = true;
  for (int v : n.inputs) all_constant = all_constant && (v < 0 || slots[v].constant);
  std::vector<Tensor> out(n.outputs.size());
  try {
    kernel.Infer(in, &out);
    for (size_t j = 0; j < out.size(); ++j) {
      if (n.outputs[j] >= 0 && out[j].dtype() == DType::kUndefined) {
        throw Error("output " + std::to_string(j) + " was not inferred");
      }
    }
    if (all_constant) {
      std::vector<Tensor> folded;
      std::vector<Tensor*> ptrs;
      folded.reserve(out.size());
      for (const Tensor& m : out) folded.emplace_back(m.dtype(), m.shape());
      for (Tensor& t : folded) ptrs.push_back(&t);
      RunContext ctx{&pool, false};
      RunUnplanned(kernel, in, ptrs, ctx);
      out = std::move(folded);
    }
  } catch (const Error& e) {
    throw Error(g.path + ": " + DescribeNodeCall(g, n, in) + ": " + e.what());
  }
  bool outputs_constant = true;
  for (size_t j = 0; j < out.size(); ++j) {
    const Tensor& t = out[j];
    outputs_constant = outputs_constant && (all_constant || t.raw() != nullptr);
  }
  for (size_t j = 0; j < out.size(); ++j) {
    if (n.outputs[j] < 0) continue;
    ValueSlot& s = slots[n.outputs[j]];
    s.constant = outputs_constant;
    s.tensor = outputs_constant ? std::move(out[j]) : Tensor::Meta(out[j].dtype(), out[j].shape());
  }
  return outputs_constant;
}

}  // namespace

std::string DescribeNodeCall(const Graph& g, const Node& n, const std::vector<const Tensor*>& in) {
  std::string s = n.Describe() + " with inputs ";
  for (size_t i = 0; i < in.size(); ++i) {
    if (i) s += ", ";
    const std::string name = n.inputs[i] < 0 ? "-" : "'" + g.values[n.inputs[i]].name + "'";
    s += in[i] == nullptr
             ? name
             : name + " " + ShapeToString(in[i]->shape()) + " " + DTypeName(in[i]->dtype());
  }
  return s;
}

std::shared_ptr<const Plan> MakePlan(const Graph& g,
                                     const std::vector<std::unique_ptr<OpKernel>>& kernels,
                                     const std::vector<Tensor>& inputs, ThreadPool& pool) {
  auto plan = std::make_shared<Plan>();
  std::vector<ValueSlot>& slots = plan->slots;
  slots.resize(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (g.values[v].is_constant()) {
      slots[v].tensor = g.values[v].constant;
      slots[v].constant = true;
    }
  }
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    slots[g.inputs[i]].tensor = Tensor::Meta(inputs[i].dtype(), inputs[i].shape());
  }
  // Views: the output of a step that only relabels its input's bytes (OpKernel::OutputIsInput)
  // shares the memory of that input, when the input is an activation, and the step is dropped.
  // root[v] is the value whose memory v lives in (v itself unless v is such a view).
  std::vector<int> root(g.values.size());
  for (size_t v = 0; v < root.size(); ++v) root[v] = static_cast<int>(v);
  std::vector<bool> is_graph_input(g.values.size(), false);
  for (int v : g.inputs) is_graph_input[v] = true;
  std::vector<int> live_nodes;  // not folded
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (!InferOrFold(g, g.nodes[k], *kernels[k], slots, pool)) {
      live_nodes.push_back(static_cast<int>(k));
    }
  }
  // A node whose outputs only folded nodes read (a Squeeze whose Shape gave a constant) has
  // nothing to compute at run time.
  std::vector<bool> needed(g.values.size(), false);
  for (int v : g.outputs) needed[v] = true;
  std::vector<bool> runs(g.nodes.size(), false);
  for (auto it = live_nodes.rbegin(); it != live_nodes.rend(); ++it) {
    const Node& n = g.nodes[*it];
    for (int v : n.outputs) runs[*it] = runs[*it] || (v >= 0 && needed[v]);
    if (!runs[*it]) continue;
    for (int v : n.inputs) {
      if (v >= 0) needed[v] = true;
    }
  }
  for (int k : live_nodes) {
    if (!runs[k]) continue;
    const Node& n = g.nodes[k];
    if (kernels[k]->OutputIsInput() && !n.inputs.empty() && n.inputs[0] >= 0 &&
        !n.outputs.empty() && n.outputs[0] >= 0) {
      const int in = n.inputs[0], out = n.outputs[0];
      if (!slots[in].constant && !is_graph_input[root[in]] &&
          slots[in].tensor.bytes() == slots[out].tensor.bytes()) {
        root[out] = root[in];
        continue;
      }
    }
    PlanStep step;
    step.node = static_cast<int>(k);
    step.kernel = kernels[k].get();
    step.inputs = n.inputs;
    step.outputs = n.outputs;
    const std::vector<const Tensor*> in = Inputs(slots, n);
    try {
      step.scratch_bytes = kernels[k]->ScratchBytes(in, pool.size());
      step.state = kernels[k]->Prepare(in, pool.size());
    } catch (const Error& e) {
      throw Error(g.path + ": " + DescribeNodeCall(g, n, in) + ": " + e.what());
    }
    plan->steps.push_back(std::move(step));
  }

  // Liveness: an activation lives from the step that writes it to the last step that reads it
  // or any view of it; graph outputs live to the end. Graph inputs and constants are not in the
  // arena.
  const int n_steps = static_cast<int>(plan->steps.size());
  std::vector<int> last_use(g.values.size(), -1);
  for (int s = 0; s < n_steps; ++s) {
    for (int v : plan->steps[s].inputs) {
      if (v >= 0) last_use[root[v]] = s;
    }
    for (int v : plan->steps[s].outputs) {
      if (v >= 0 && last_use[v] < s) last_use[v] = s;
    }
  }
  for (int v : g.outputs) last_use[root[v]] = n_steps;
  for (int s = 0; s < n_steps; ++s) {
    for (int v : plan->steps[s].inputs) {
      if (v >= 0) slots[v].used = true;
    }
  }
  for (int v : g.outputs) slots[v].used = true;
  for (size_t v = 0; v < root.size(); ++v) {
    if (slots[v].used) slots[root[v]].used = true;
  }

  ArenaPlanner arena;
  std::vector<std::vector<int>> frees(static_cast<size_t>(n_steps) + 1);
  for (int s = 0; s < n_steps; ++s) {
    for (int v : plan->steps[s].outputs) {
      if (v < 0) continue;
      slots[v].offset = arena.Allocate(slots[v].tensor.bytes());
      frees[last_use[v]].push_back(v);
    }
    PlanStep& step = plan->steps[s];
    if (step.scratch_bytes != 0) {  // live during the step only
      step.scratch_offset = arena.Allocate(step.scratch_bytes);
      arena.Free(step.scratch_offset, step.scratch_bytes);
    }
    for (int v : frees[s]) arena.Free(slots[v].offset, slots[v].tensor.bytes());
  }
  for (size_t v = 0; v < root.size(); ++v) {
    if (root[v] != static_cast<int>(v)) slots[v].offset = slots[root[v]].offset;
  }
  plan->arena_bytes = arena.size();
  return plan;
}

void FoldInitializers(Graph& g, ThreadPool& pool) {
  std::vector<Node> kept;
  for (Node& n : g.nodes) {
    bool all_constant = !n.inputs.empty();
    size_t in_bytes = 0;
    for (int v : n.inputs) {
      if (v < 0) continue;
      all_constant = all_constant && g.values[v].is_constant();
      if (all_constant) in_bytes += g.values[v].constant.bytes();
    }
    // A node with no outputs (or only omitted ones) has nothing to fold into, and kernels
    // write their first output: it is left for dead-node removal.
    const bool has_output =
        std::any_of(n.outputs.begin(), n.outputs.end(), [](int v) { return v >= 0; });
    const OpSchema* schema = all_constant && has_output
                                 ? BuiltinOps().Find(n.domain, n.op_type, g.KernelOpset(n))
                                 : nullptr;
    if (schema == nullptr) {
      kept.push_back(std::move(n));
      continue;
    }
    for (int v : n.inputs) AlignConstant(g, v);  // kernels read folded inputs as typed values
    std::vector<ValueSlot> slots(g.values.size());
    KernelInit init{n, schema->since_version, {}};
    for (int v : n.inputs) {
      init.constants.push_back(v < 0 ? nullptr : &g.values[v].constant);
      if (v >= 0) {
        slots[v].tensor = g.values[v].constant;
        slots[v].constant = true;
      }
    }
    std::unique_ptr<OpKernel> kernel;
    try {
      kernel = schema->make(init);
    } catch (const Error& e) {
      throw Error(g.path + ": " + n.Describe() + ": " + e.what());
    }
    InferOrFold(g, n, *kernel, slots, pool);
    size_t out_bytes = 0;
    for (int v : n.outputs) out_bytes += v < 0 ? 0 : slots[v].tensor.bytes();
    if (out_bytes > in_bytes && out_bytes > kMaxFoldGrowthBytes) {
      kept.push_back(std::move(n));
      continue;
    }
    for (int v : n.outputs) {
      if (v < 0) continue;
      g.values[v].constant = std::move(slots[v].tensor);
      g.values[v].dtype = g.values[v].constant.dtype();
    }
  }
  g.nodes = std::move(kept);
}

}  // namespace qclip
