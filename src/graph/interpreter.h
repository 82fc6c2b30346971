// The interpreter: owns a prepared graph and its kernels, caches a Plan per input-shape
// signature, and runs plans over per-run arenas. The public qclip::Session wraps it.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "graph/ir.h"
#include "graph/plan.h"
#include "ops/op.h"
#include "util/thread_pool.h"
#include "util/weight_arena.h"

namespace qclip {

struct InterpreterOptions {
  int threads = 0;
  bool exact = false;
  bool fuse = true;
  Int8Activations int8_activations = Int8Activations::kBlockwise;  // kPerTensor when exact
};

class Interpreter {
 public:
  // Prepares `graph`: folds initializer-only nodes, applies graph rewrites (unless
  // options.fuse is false), and builds one kernel per node (weights packed here).
  Interpreter(Graph graph, const InterpreterOptions& options);
  ~Interpreter();

  const Graph& graph() const { return graph_; }
  // `inputs` in graph().inputs order; dtypes must match the declared ones.
  std::vector<Tensor> Run(const std::vector<Tensor>& inputs);

 private:
  struct Bound;  // a plan bound to one arena
  struct PlanEntry {
    std::shared_ptr<const Plan> plan;
    std::vector<std::unique_ptr<Bound>> idle;  // arenas free for the next run
  };
  // A plan for the inputs' shapes (made on first use) bound to an idle arena.
  std::unique_ptr<Bound> Acquire(const std::vector<Tensor>& inputs);
  void Release(const std::vector<Tensor>& inputs, std::unique_ptr<Bound> bound);
  // Frees a constant's data (kept: dtype and shape) once every reader has packed it.
  void ReleaseConstant(Tensor& c);

  // QCLIP_PROFILE=1 in the environment: time every step and print a table by op type to stderr
  // when the interpreter is destroyed (a development aid; off, it costs one branch per run);
  // QCLIP_PROFILE=2: by op type and output shapes (a model's products of each size apart).
  struct Profile;
  void PrintProfile() const;
  void RunProfiled(const Bound& bound, RunContext& ctx);

  Graph graph_;
  InterpreterOptions options_;
  std::unique_ptr<Profile> profile_;
  ThreadPool pool_;
  WeightArena weights_;                             // packed weights of the kernels
  std::vector<std::unique_ptr<OpKernel>> kernels_;  // per graph_.nodes entry
  std::mutex mu_;
  std::map<std::vector<Shape>, PlanEntry> plans_;
};

}  // namespace qclip
