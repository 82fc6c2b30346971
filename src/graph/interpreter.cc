#include "graph/interpreter.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "graph/passes.h"

namespace qclip {

namespace {

// Plans kept per interpreter; a caller cycling through more distinct input shapes than this
// re-plans (a plan is cheap next to a run, this only bounds memory).
constexpr size_t kMaxPlans = 64;

}  // namespace

struct Interpreter::Profile {
  std::mutex mu;
  // op type (with by_shape, and its outputs' shapes) -> (seconds, calls)
  std::map<std::string, std::pair<double, int64_t>> by_op;
  int64_t runs = 0;
  bool by_shape = false;
};

struct Interpreter::Bound {
  std::shared_ptr<void> arena;
  unsigned char* base = nullptr;  // the arena's first byte
  std::vector<Tensor> views;      // per value id
  std::vector<std::vector<const Tensor*>> step_inputs;
  std::vector<std::vector<Tensor*>> step_outputs;

  std::shared_ptr<const Plan> plan;

  explicit Bound(std::shared_ptr<const Plan> p) : plan(std::move(p)) {
    Tensor buffer(DType::kUInt8, {static_cast<int64_t>(plan->arena_bytes)});
    base = static_cast<unsigned char*>(buffer.raw());
    arena = std::make_shared<Tensor>(std::move(buffer));
    views.resize(plan->slots.size());
    for (size_t v = 0; v < plan->slots.size(); ++v) {
      const ValueSlot& s = plan->slots[v];
      if (s.constant) {
        views[v] = s.tensor;
      } else if (s.tensor.dtype() != DType::kUndefined) {
        views[v] = Tensor::View(s.tensor.dtype(), s.tensor.shape(), base + s.offset);
      }
    }
    for (const PlanStep& step : plan->steps) {
      std::vector<const Tensor*> in;
      std::vector<Tensor*> out;
      for (int v : step.inputs) in.push_back(v < 0 ? nullptr : &views[v]);
      for (int v : step.outputs) out.push_back(v < 0 ? nullptr : &views[v]);
      step_inputs.push_back(std::move(in));
      step_outputs.push_back(std::move(out));
    }
  }

  // Runs step s, with its planned scratch.
  void RunStep(size_t s, RunContext& ctx) const {
    const PlanStep& step = plan->steps[s];
    ctx.scratch = step.scratch_bytes == 0 ? nullptr : base + step.scratch_offset;
    ctx.state = step.state.get();
    step.kernel->Run(step_inputs[s], step_outputs[s], ctx);
  }
};

Interpreter::Interpreter(Graph graph, const InterpreterOptions& options)
    : graph_(std::move(graph)), options_(options), pool_(options.threads) {
  const char* profile = std::getenv("QCLIP_PROFILE");
  if (profile != nullptr && profile[0] != '\0' && profile[0] != '0') {
    profile_ = std::make_unique<Profile>();
    profile_->by_shape = profile[0] == '2';
  }
  PromoteFloat16(graph_);
  FoldInitializers(graph_, pool_);
  if (options_.fuse) {
    RunGraphPasses(graph_);
    SelectRowsEarly(graph_,
                    !options_.exact && options_.int8_activations != Int8Activations::kPerTensor);
    MergeQuantizedLinears(graph_);
    FuseAddLayerNorm(graph_);
  }
  RemoveDeadNodes(graph_);

  std::string unsupported;
  for (const Node& n : graph_.nodes) {
    if (BuiltinOps().Find(n.domain, n.op_type, graph_.KernelOpset(n)) != nullptr) continue;
    const std::string op = (n.domain.empty() ? "" : n.domain + ".") + n.op_type + " (opset " +
                           std::to_string(graph_.KernelOpset(n)) + ")";
    if (unsupported.find(op) == std::string::npos)
      unsupported += (unsupported.empty() ? "" : ", ") + op;
  }
  if (!unsupported.empty()) {
    throw Error(graph_.path + ": unsupported operators: " + unsupported);
  }
  // Constants every reader packed at construction (OpKernel::PackedInput) are not needed any
  // more: each is freed (or, when it views the model file, its pages given back) as soon as its
  // last reader is made, so that a model's weights are never held twice while it loads. Dtype
  // and shape stay for planning.
  std::vector<int> readers_left(graph_.values.size(), 0);
  std::vector<bool> releasable(graph_.values.size(), true);
  for (const Node& n : graph_.nodes) {
    for (int v : n.inputs) {
      if (v >= 0) ++readers_left[v];
    }
  }
  for (int v : graph_.outputs) releasable[v] = false;
  for (const Node& n : graph_.nodes) {
    const OpSchema* schema = BuiltinOps().Find(n.domain, n.op_type, graph_.KernelOpset(n));
    KernelInit init{n, schema->since_version, {}};
    init.int8_activations =
        options_.exact ? Int8Activations::kPerTensor : options_.int8_activations;
    init.weights = &weights_;
    init.pool = &pool_;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int v = n.inputs[i];
      const bool constant = v >= 0 && graph_.values[v].is_constant();
      if (constant && static_cast<int>(i) != schema->packs_misaligned_input)
        AlignConstant(graph_, v);
      init.constants.push_back(constant ? &graph_.values[v].constant : nullptr);
    }
    try {
      kernels_.push_back(schema->make(init));
    } catch (const Error& e) {
      throw Error(graph_.path + ": " + n.Describe() + ": " + e.what());
    }
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int v = n.inputs[i];
      if (v < 0) continue;
      if (!kernels_.back()->PackedInput(i)) releasable[v] = false;
      if (--readers_left[v] == 0 && releasable[v]) ReleaseConstant(graph_.values[v].constant);
    }
  }
  // What is still misaligned (a weight a packer left unpacked, a graph output) is read when the
  // plan is made or the model runs.
  for (size_t v = 0; v < graph_.values.size(); ++v) AlignConstant(graph_, static_cast<int>(v));
  weights_.AdviseHugePages();
}

void Interpreter::ReleaseConstant(Tensor& c) {
  if (!c.has_data() || c.raw() == nullptr) return;
  DropFilePages(graph_, c);
  c = Tensor::Meta(c.dtype(), c.shape());
}

Interpreter::~Interpreter() {
  if (profile_ != nullptr) PrintProfile();
}

void Interpreter::PrintProfile() const {
  std::vector<std::pair<std::string, std::pair<double, int64_t>>> rows(profile_->by_op.begin(),
                                                                       profile_->by_op.end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  double total = 0;
  for (const auto& r : rows) total += r.second.first;
  const double runs = static_cast<double>(std::max<int64_t>(profile_->runs, 1));
  std::fprintf(stderr, "qclip profile: %s, %lld runs, %.3f ms per run\n", graph_.path.c_str(),
               static_cast<long long>(profile_->runs), 1e3 * total / runs);
  for (const auto& r : rows) {
    std::fprintf(stderr, "  %-28s %9.3f ms/run %5.1f%% %6lld calls/run\n", r.first.c_str(),
                 1e3 * r.second.first / runs, 100.0 * r.second.first / std::max(total, 1e-12),
                 static_cast<long long>(r.second.second / profile_->runs));
  }
}

std::unique_ptr<Interpreter::Bound> Interpreter::Acquire(const std::vector<Tensor>& inputs) {
  std::vector<Shape> key;
  key.reserve(inputs.size());
  for (const Tensor& t : inputs) key.push_back(t.shape());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    if (plans_.size() >= kMaxPlans) plans_.clear();
    std::vector<Tensor> meta;
    for (const Tensor& t : inputs) meta.push_back(Tensor::Meta(t.dtype(), t.shape()));
    PlanEntry entry;
    entry.plan = MakePlan(graph_, kernels_, meta, pool_);
    it = plans_.emplace(std::move(key), std::move(entry)).first;
  }
  PlanEntry& entry = it->second;
  if (entry.idle.empty()) {
    try {
      return std::make_unique<Bound>(entry.plan);
    } catch (const Error& e) {  // the arena is one tensor: name the model and what it is
      throw Error(graph_.path + ": the activations for these input shapes need " +
                  std::to_string(entry.plan->arena_bytes) + " bytes: " + e.what());
    }
  }
  std::unique_ptr<Bound> bound = std::move(entry.idle.back());
  entry.idle.pop_back();
  return bound;
}

void Interpreter::Release(const std::vector<Tensor>& inputs, std::unique_ptr<Bound> bound) {
  std::vector<Shape> key;
  for (const Tensor& t : inputs) key.push_back(t.shape());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = plans_.find(key);
  // The entry may have been evicted, or replaced, by another thread meanwhile.
  if (it != plans_.end() && it->second.plan == bound->plan) {
    it->second.idle.push_back(std::move(bound));
  }
}

void Interpreter::RunProfiled(const Bound& bound, RunContext& ctx) {
  using Clock = std::chrono::steady_clock;
  const Plan& plan = *bound.plan;
  std::vector<double> seconds(plan.steps.size());
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const Clock::time_point start = Clock::now();
    bound.RunStep(s, ctx);
    seconds[s] = std::chrono::duration<double>(Clock::now() - start).count();
  }
  std::lock_guard<std::mutex> lock(profile_->mu);
  ++profile_->runs;
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const Node& n = graph_.nodes[plan.steps[s].node];
    std::string key = (n.domain.empty() ? "" : n.domain + ".") + n.op_type;
    if (profile_->by_shape) {
      for (int o : n.outputs) {
        key += " " + ShapeToString(bound.views[o].shape());
      }
    }
    auto& entry = profile_->by_op[key];
    entry.first += seconds[s];
    ++entry.second;
  }
}

std::vector<Tensor> Interpreter::Run(const std::vector<Tensor>& inputs) {
  std::unique_ptr<Bound> bound = Acquire(inputs);
  const Plan& plan = *bound->plan;
  for (size_t i = 0; i < graph_.inputs.size(); ++i) {
    Tensor& view = bound->views[graph_.inputs[i]];
    view = Tensor::View(inputs[i].dtype(), inputs[i].shape(), const_cast<void*>(inputs[i].raw()));
  }
  RunContext ctx{&pool_, options_.exact};
  if (profile_ == nullptr) {
    for (size_t s = 0; s < plan.steps.size(); ++s) bound->RunStep(s, ctx);
  } else {
    RunProfiled(*bound, ctx);
  }
  std::vector<Tensor> outputs;
  for (int v : graph_.outputs) outputs.push_back(bound->views[v].Clone());
  Release(inputs, std::move(bound));
  return outputs;
}

}  // namespace qclip
