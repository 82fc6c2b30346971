// FuseAttention: MatMul(Q, Kᵀ) [-> Mul/Div(scalar)] [-> Add(mask)] -> Softmax(last axis)
// [-> Where(IsNaN(P), 0, P)] -> MatMul(P, V) [-> Transpose] becomes one qclip.Attention node
// (src/ops/attention.cc). Q, Kᵀ and V are traced back through the view nodes the exporters put
// between a projection and the product (Transpose, Split, Squeeze, Unsqueeze) and through a
// Mul of Q or Kᵀ by a scalar; the fused node reads their sources with strides instead. The traced
// nodes are left in place: a later RemoveDeadNodes drops those nothing else reads.
#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "graph/pass_util.h"
#include "graph/passes.h"

namespace qclip {
namespace {

using namespace pass_util;  // NOLINT(google-build-using-namespace)

// View-op kinds, as qclip.Attention decodes them.
enum ViewKind : int64_t { kTranspose = 0, kSplit = 1, kSqueeze = 2, kUnsqueeze = 3 };

// The int64 values of a constant tensor, or false.
bool ConstantInts(const Graph& g, int v, std::vector<int64_t>* out) {
  if (v < 0 || !g.values[v].is_constant()) return false;
  const Tensor& t = g.values[v].constant;
  if (t.dtype() != DType::kInt64) return false;
  out->assign(t.data<int64_t>(), t.data<int64_t>() + t.size());
  return true;
}

// Whether v is sure to hold one float: a one-element constant, or arithmetic on such values and
// on single dims read from a Shape (what exporters compute 1/sqrt(head_dim) from).
bool IsScalarExpr(const Graph& g, const ValueUses& uses, int v, int depth = 0) {
  if (v < 0 || depth > 10) return false;
  if (g.values[v].is_constant()) return g.values[v].constant.size() == 1;
  const int p = uses.producer[v];
  if (p < 0) return false;
  const Node& n = g.nodes[p];
  if (n.domain != "") return false;
  if (n.op_type == "Sqrt" || n.op_type == "Cast" || n.op_type == "Reciprocal" ||
      n.op_type == "Neg" || n.op_type == "Identity") {
    return !n.inputs.empty() && IsScalarExpr(g, uses, n.inputs[0], depth + 1);
  }
  if (n.op_type == "Mul" || n.op_type == "Div" || n.op_type == "Add" || n.op_type == "Sub" ||
      n.op_type == "Pow") {
    return n.inputs.size() == 2 && IsScalarExpr(g, uses, n.inputs[0], depth + 1) &&
           IsScalarExpr(g, uses, n.inputs[1], depth + 1);
  }
  const auto reads_shape = [&](int x) {
    return x >= 0 && uses.producer[x] >= 0 && IsOnnxOp(g.nodes[uses.producer[x]], "Shape");
  };
  if (n.op_type == "Slice" && n.inputs.size() >= 3 && n.inputs.size() <= 4 &&
      reads_shape(n.inputs[0])) {  // one dim: starts [s], ends [s + 1], or [-1] to the end
    std::vector<int64_t> starts, ends;
    if (!ConstantInts(g, n.inputs[1], &starts) || !ConstantInts(g, n.inputs[2], &ends) ||
        starts.size() != 1 || ends.size() != 1) {
      return false;
    }
    // starts < ends first: a hostile starts of INT64_MAX must not overflow starts + 1.
    return (starts[0] >= 0 && starts[0] < ends[0] && ends[0] == starts[0] + 1) ||
           (starts[0] == -1 && ends[0] >= INT_MAX);
  }
  if (n.op_type == "Gather" && n.inputs.size() == 2 && reads_shape(n.inputs[0])) {
    const int idx = n.inputs[1];
    return idx >= 0 && g.values[idx].is_constant() && g.values[idx].constant.rank() == 0;
  }
  return false;
}

// Appends one view record.
void AddView(std::vector<std::vector<int64_t>>* views, ViewKind kind,
             const std::vector<int64_t>& args) {
  std::vector<int64_t> record = {kind, static_cast<int64_t>(args.size())};
  record.insert(record.end(), args.begin(), args.end());
  views->push_back(std::move(record));
}

// Axes of Squeeze/Unsqueeze: the attribute (opset < 13) or the constant second input; false when
// they are not known at load.
bool ReadAxes(const Graph& g, const Node& n, std::vector<int64_t>* axes) {
  if (n.inputs.size() > 1 && n.inputs[1] >= 0) return ConstantInts(g, n.inputs[1], axes);
  *axes = n.GetInts("axes", {});
  return true;
}

// Follows v back through view nodes (and, with scale != nullptr, one Mul by a scalar) to the
// value they read; returns it, with the view records in the order they apply to it.
int Trace(const Graph& g, const ValueUses& uses, int v, int* scale, std::vector<int64_t>* ops) {
  std::vector<std::vector<int64_t>> views;  // innermost (nearest v) first
  for (int depth = 0; depth < 16; ++depth) {
    const int p = uses.producer[v];
    if (p < 0) break;
    const Node& n = g.nodes[p];
    if (scale != nullptr && *scale < 0 && Is(n, "Mul") && n.inputs.size() == 2) {
      const int s = IsScalarExpr(g, uses, n.inputs[1])   ? 1
                    : IsScalarExpr(g, uses, n.inputs[0]) ? 0
                                                         : -1;
      if (s < 0) break;
      *scale = n.inputs[s];
      v = n.inputs[1 - s];
      continue;
    }
    if (Is(n, "Transpose") && n.has("perm")) {
      AddView(&views, kTranspose, n.GetInts("perm", {}));
    } else if (Is(n, "Split")) {
      const int64_t index = std::find(n.outputs.begin(), n.outputs.end(), v) - n.outputs.begin();
      std::vector<int64_t> args = {n.GetInt("axis", 0), index,
                                   static_cast<int64_t>(n.outputs.size())};
      std::vector<int64_t> sizes = n.GetInts("split", {});
      if (n.inputs.size() > 1 && n.inputs[1] >= 0 && !ConstantInts(g, n.inputs[1], &sizes)) break;
      if (!sizes.empty() && sizes.size() != n.outputs.size()) break;
      args.insert(args.end(), sizes.begin(), sizes.end());
      AddView(&views, kSplit, args);
    } else if (Is(n, "Squeeze") || Is(n, "Unsqueeze")) {
      std::vector<int64_t> axes;
      if (!ReadAxes(g, n, &axes) || (Is(n, "Unsqueeze") && axes.empty())) break;
      AddView(&views, Is(n, "Squeeze") ? kSqueeze : kUnsqueeze, axes);
    } else {
      break;
    }
    v = n.inputs[0];
  }
  for (auto it = views.rbegin(); it != views.rend(); ++it)
    ops->insert(ops->end(), it->begin(), it->end());
  return v;
}

}  // namespace

void FuseAttention(Graph& g) {
  const ValueUses uses(g);
  std::vector<bool> dead(g.nodes.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& softmax = g.nodes[k];
    if (dead[k] || !Is(softmax, "Softmax") || softmax.outputs.size() != 1) continue;
    if (softmax.GetInt("axis", g.KernelOpset(softmax) >= 13 ? -1 : 1) != -1) continue;
    std::vector<int> chain = {static_cast<int>(k)};

    // Backwards: [Add(mask)] <- [Mul/Div(scalar)] <- MatMul(Q, Kᵀ).
    int scores = softmax.inputs[0];
    int mask = -1, score_scale = -1;
    bool divide = false;
    int p = uses.producer[scores];
    if (p >= 0 && Is(g.nodes[p], "Add") && uses.OnlyReader(scores) == static_cast<int>(k)) {
      const Node& add = g.nodes[p];
      const auto from_product = [&](int x) {
        const int q = uses.producer[x];
        return q >= 0 &&
               (Is(g.nodes[q], "MatMul") || Is(g.nodes[q], "Mul") || Is(g.nodes[q], "Div"));
      };
      const int side = from_product(add.inputs[0]) ? 0 : from_product(add.inputs[1]) ? 1 : -1;
      if (side < 0) continue;
      mask = add.inputs[1 - side];
      chain.push_back(p);
      const int next = add.inputs[side];
      if (uses.OnlyReader(next) != p) continue;
      scores = next;
      p = uses.producer[scores];
    }
    if (p >= 0 && (Is(g.nodes[p], "Mul") || Is(g.nodes[p], "Div"))) {
      const Node& op = g.nodes[p];
      divide = Is(op, "Div");
      const int s = divide ? 1 : IsScalarExpr(g, uses, op.inputs[1]) ? 1 : 0;
      if (!IsScalarExpr(g, uses, op.inputs[s])) continue;
      const int next = op.inputs[1 - s];
      if (uses.OnlyReader(next) != p || uses.OnlyReader(scores) != chain.back()) continue;
      score_scale = op.inputs[s];
      chain.push_back(p);
      scores = next;
      p = uses.producer[scores];
    }
    if (p < 0 || !Is(g.nodes[p], "MatMul") || g.nodes[p].inputs.size() != 2 ||
        uses.OnlyReader(scores) != chain.back()) {
      continue;
    }
    const Node& mm1 = g.nodes[p];
    if (mm1.inputs[1] < 0) continue;
    chain.push_back(p);

    // Forwards: [Where(IsNaN(P), 0, P)] -> MatMul(P, V) [-> Transpose keeping the last dim].
    int probs = softmax.outputs[0];
    bool nan_to_zero = false;
    const std::vector<int>& readers = uses.readers[probs];
    if (readers.size() == 2 && !uses.graph_output[probs]) {
      const int isnan_k = Is(g.nodes[readers[0]], "IsNaN") ? readers[0] : readers[1];
      const int where_k = isnan_k == readers[0] ? readers[1] : readers[0];
      const Node& isnan = g.nodes[isnan_k];
      const Node& where = g.nodes[where_k];
      if (!Is(isnan, "IsNaN") || !IsOnnxOp(where, "Where") || where.inputs.size() != 3 ||
          where.outputs.size() != 1 || uses.OnlyReader(isnan.outputs[0]) != where_k ||
          where.inputs[0] != isnan.outputs[0] || where.inputs[2] != probs ||
          !IsScalar(g, where.inputs[1], 0.0f)) {
        continue;
      }
      chain.push_back(isnan_k);
      chain.push_back(where_k);
      probs = where.outputs[0];
      nan_to_zero = true;
    }
    const int mm2_k = uses.OnlyReader(probs);
    if (mm2_k < 0 || !Is(g.nodes[mm2_k], "MatMul") || g.nodes[mm2_k].inputs.size() != 2 ||
        g.nodes[mm2_k].inputs[0] != probs || g.nodes[mm2_k].inputs[1] < 0) {
      continue;
    }
    const Node& mm2 = g.nodes[mm2_k];
    chain.push_back(mm2_k);
    int out = mm2.outputs[0];
    std::vector<int64_t> out_perm;
    const int t_k = uses.OnlyReader(out);
    if (t_k >= 0 && Is(g.nodes[t_k], "Transpose")) {
      const std::vector<int64_t> perm = g.nodes[t_k].GetInts("perm", {});
      if (!perm.empty() && perm.back() == static_cast<int64_t>(perm.size()) - 1) {
        out_perm = perm;
        chain.push_back(t_k);
        out = g.nodes[t_k].outputs[0];
      }
    }

    Node fused;
    fused.name = g.nodes[chain.back()].name + "/fused_attention";
    fused.op_type = "Attention";
    fused.domain = "qclip";
    int q_scale = -1, kt_scale = -1;
    std::vector<int64_t> q_views, kt_views, v_views;
    const int q = Trace(g, uses, mm1.inputs[0], &q_scale, &q_views);
    const int kt = Trace(g, uses, mm1.inputs[1], &kt_scale, &kt_views);
    const int v = Trace(g, uses, mm2.inputs[1], nullptr, &v_views);
    fused.inputs = {q, kt, v, mask, q_scale, kt_scale, score_scale};
    fused.outputs = {out};
    const auto ints = [](const std::vector<int64_t>& values) {
      Attribute a;
      a.type = Attribute::Type::kInts;
      a.ints = values;
      return a;
    };
    fused.attrs["q_views"] = ints(q_views);
    fused.attrs["kt_views"] = ints(kt_views);
    fused.attrs["v_views"] = ints(v_views);
    if (!out_perm.empty()) fused.attrs["out_perm"] = ints(out_perm);
    Attribute flag;
    flag.type = Attribute::Type::kInt;
    flag.i = divide ? 1 : 0;
    fused.attrs["divide_scores"] = flag;
    flag.i = nan_to_zero ? 1 : 0;
    fused.attrs["nan_to_zero"] = flag;
    Replace(g, chain, std::move(fused), dead);
  }
  DropDead(g, dead);
}

}  // namespace qclip
