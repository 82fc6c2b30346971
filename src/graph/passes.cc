#include "graph/passes.h"

#include "graph/pass_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <utility>

namespace qclip {

namespace {

using namespace pass_util;  // NOLINT(google-build-using-namespace)

// Whether every axis of a Reduce node is the last one: axes attribute [-1] (or [rank-1], which we
// cannot check without shapes, so only -1) or an axes input holding [-1].
bool ReducesLastAxis(const Graph& g, const Node& n) {
  if (n.GetInt("keepdims", 1) != 1) return false;
  std::vector<int64_t> axes = n.GetInts("axes", {});
  if (n.inputs.size() > 1 && n.inputs[1] >= 0) {
    const Value& a = g.values[n.inputs[1]];
    if (!a.is_constant() || a.constant.dtype() != DType::kInt64) return false;
    axes.assign(a.constant.data<int64_t>(), a.constant.data<int64_t>() + a.constant.size());
  }
  return axes.size() == 1 && axes[0] == -1;
}

}  // namespace

void FuseLayerNorm(Graph& g) {
  const ValueUses uses(g);
  std::vector<bool> dead(g.nodes.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& mean = g.nodes[k];
    if (dead[k] || !Is(mean, "ReduceMean") || !ReducesLastAxis(g, mean)) continue;
    const int x = mean.inputs[0];
    // Sub(x, mean) must be the one reader of mean; its output d feeds Pow and Div.
    const int sub_k = uses.OnlyReader(mean.outputs[0]);
    if (sub_k < 0 || !Is(g.nodes[sub_k], "Sub") || g.nodes[sub_k].inputs[0] != x) continue;
    const int d = g.nodes[sub_k].outputs[0];
    if (uses.graph_output[d] || uses.readers[d].size() != 2) continue;
    int pow_k = -1, div_k = -1;
    for (int r : uses.readers[d]) {
      if (Is(g.nodes[r], "Pow") && g.nodes[r].inputs[0] == d) pow_k = r;
      if (Is(g.nodes[r], "Div") && g.nodes[r].inputs[0] == d) div_k = r;
    }
    if (pow_k < 0 || div_k < 0 || !IsScalar(g, g.nodes[pow_k].inputs[1], 2.0f)) continue;
    const int var_k = uses.OnlyReader(g.nodes[pow_k].outputs[0]);
    if (var_k < 0 || !Is(g.nodes[var_k], "ReduceMean") || !ReducesLastAxis(g, g.nodes[var_k])) {
      continue;
    }
    const int add_eps_k = uses.OnlyReader(g.nodes[var_k].outputs[0]);
    if (add_eps_k < 0 || !Is(g.nodes[add_eps_k], "Add")) continue;
    const float eps = ScalarValue(g, Other(g.nodes[add_eps_k], g.nodes[var_k].outputs[0]));
    if (std::isnan(eps)) continue;
    const int sqrt_k = uses.OnlyReader(g.nodes[add_eps_k].outputs[0]);
    if (sqrt_k < 0 || !Is(g.nodes[sqrt_k], "Sqrt")) continue;
    if (uses.OnlyReader(g.nodes[sqrt_k].outputs[0]) != div_k) continue;
    const int mul_k = uses.OnlyReader(g.nodes[div_k].outputs[0]);
    if (mul_k < 0 || !Is(g.nodes[mul_k], "Mul")) continue;
    const int gamma = Other(g.nodes[mul_k], g.nodes[div_k].outputs[0]);
    if (gamma < 0 || !g.values[gamma].is_constant() || g.values[gamma].constant.rank() != 1)
      continue;
    const int add_k = uses.OnlyReader(g.nodes[mul_k].outputs[0]);
    if (add_k < 0 || !Is(g.nodes[add_k], "Add")) continue;
    const int beta = Other(g.nodes[add_k], g.nodes[mul_k].outputs[0]);
    if (beta < 0 || !g.values[beta].is_constant() || g.values[beta].constant.rank() != 1) continue;

    Node ln;
    ln.name = g.nodes[add_k].name + "/fused_layernorm";
    ln.op_type = "LayerNormalization";
    ln.opset_override = 17;
    ln.inputs = {x, gamma, beta};
    ln.outputs = {g.nodes[add_k].outputs[0]};
    Attribute axis, epsilon;
    axis.type = Attribute::Type::kInt;
    axis.i = -1;
    epsilon.type = Attribute::Type::kFloat;
    epsilon.f = eps;
    ln.attrs = {{"axis", axis}, {"epsilon", epsilon}};
    Replace(g, {static_cast<int>(k), sub_k, pow_k, var_k, add_eps_k, sqrt_k, div_k, mul_k, add_k},
            std::move(ln), dead);
  }
  DropDead(g, dead);
}

void FuseGelu(Graph& g) {
  const ValueUses uses(g);
  std::vector<bool> dead(g.nodes.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    // Div(x, sqrt(2)) -> Erf -> Add(., 1) -> Mul(x, .) -> Mul(., 0.5)
    const Node& div = g.nodes[k];
    if (dead[k] || !Is(div, "Div") || !IsScalar(g, div.inputs[1], 1.4142135f, 1e-6f)) continue;
    const int x = div.inputs[0];
    const int erf_k = uses.OnlyReader(div.outputs[0]);
    if (erf_k < 0 || !Is(g.nodes[erf_k], "Erf")) continue;
    const int add_k = uses.OnlyReader(g.nodes[erf_k].outputs[0]);
    if (add_k < 0 || !Is(g.nodes[add_k], "Add") ||
        !IsScalar(g, Other(g.nodes[add_k], g.nodes[erf_k].outputs[0]), 1.0f)) {
      continue;
    }
    const int mul_k = uses.OnlyReader(g.nodes[add_k].outputs[0]);
    if (mul_k < 0 || !Is(g.nodes[mul_k], "Mul") ||
        Other(g.nodes[mul_k], g.nodes[add_k].outputs[0]) != x) {
      continue;
    }
    const int half_k = uses.OnlyReader(g.nodes[mul_k].outputs[0]);
    if (half_k < 0 || !Is(g.nodes[half_k], "Mul") ||
        !IsScalar(g, Other(g.nodes[half_k], g.nodes[mul_k].outputs[0]), 0.5f)) {
      continue;
    }
    Node gelu;
    gelu.name = g.nodes[half_k].name + "/fused_gelu";
    gelu.op_type = "Gelu";
    gelu.opset_override = 20;
    gelu.inputs = {x};
    gelu.outputs = {g.nodes[half_k].outputs[0]};
    Replace(g, {static_cast<int>(k), erf_k, add_k, mul_k, half_k}, std::move(gelu), dead);
  }
  DropDead(g, dead);
}

void FuseQuantizedLinear(Graph& g) {
  const ValueUses uses(g);
  std::vector<bool> dead(g.nodes.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& mmi = g.nodes[k];
    if (dead[k] || !Is(mmi, "MatMulInteger") || mmi.inputs.size() < 2) continue;
    const int xq = mmi.inputs[0];
    const int w = mmi.inputs[1];
    const int dql_k = uses.producer[xq];
    if (dql_k < 0 || !Is(g.nodes[dql_k], "DynamicQuantizeLinear")) continue;
    const Node& dql = g.nodes[dql_k];
    if (dql.outputs.size() != 3 || dql.outputs[0] != xq) continue;
    const int x_scale = dql.outputs[1];
    const int x_zp = dql.outputs[2];
    if (mmi.inputs.size() < 3 || mmi.inputs[2] != x_zp) continue;
    const int w_zp = mmi.inputs.size() > 3 ? mmi.inputs[3] : -1;
    if (!g.values[w].is_constant() || g.values[w].constant.rank() != 2) continue;
    if (w_zp >= 0 && !g.values[w_zp].is_constant()) continue;
    const int cast_k = uses.OnlyReader(mmi.outputs[0]);
    if (cast_k < 0 || !Is(g.nodes[cast_k], "Cast") ||
        g.nodes[cast_k].GetInt("to") != static_cast<int64_t>(DType::kFloat32)) {
      continue;
    }
    const int mul_k = uses.OnlyReader(g.nodes[cast_k].outputs[0]);
    if (mul_k < 0 || !Is(g.nodes[mul_k], "Mul")) continue;
    // The scale: Mul(x_scale, w_scale) with w_scale constant, read only by this Mul.
    const int scales = Other(g.nodes[mul_k], g.nodes[cast_k].outputs[0]);
    const int scales_k = scales < 0 ? -1 : uses.producer[scales];
    if (scales_k < 0 || !Is(g.nodes[scales_k], "Mul") || uses.OnlyReader(scales) != mul_k) continue;
    const int w_scale = Other(g.nodes[scales_k], x_scale);
    if (w_scale < 0 || !g.values[w_scale].is_constant()) continue;
    // Optional bias: Add(., b) with b constant of rank 1.
    std::vector<int> chain = {scales_k, static_cast<int>(k), cast_k, mul_k};
    int out = g.nodes[mul_k].outputs[0];
    int bias = -1;
    const int add_k = uses.OnlyReader(out);
    if (add_k >= 0 && Is(g.nodes[add_k], "Add")) {
      const int b = Other(g.nodes[add_k], out);
      if (b >= 0 && g.values[b].is_constant() && g.values[b].constant.rank() == 1) {
        bias = b;
        chain.push_back(add_k);
        out = g.nodes[add_k].outputs[0];
      }
    }
    Node ql;
    ql.name = g.nodes[chain.back()].name + "/fused_quantized_linear";
    ql.op_type = "QuantizedLinear";
    ql.domain = "qclip";
    ql.inputs = {dql.inputs[0], w, w_scale, w_zp, bias};
    ql.outputs = {out};
    Replace(g, chain, std::move(ql), dead);
  }
  DropDead(g, dead);
}

void FuseLinear(Graph& g) {
  const ValueUses uses(g);
  std::vector<bool> dead(g.nodes.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& mm = g.nodes[k];
    if (dead[k] || !Is(mm, "MatMul") || mm.inputs.size() != 2 || mm.outputs.size() != 1) continue;
    const Value& w = g.values[mm.inputs[1]];
    if (!w.is_constant() || w.constant.rank() != 2 || w.constant.dtype() != DType::kFloat32) {
      continue;
    }
    const int add_k = uses.OnlyReader(mm.outputs[0]);
    if (add_k < 0 || !Is(g.nodes[add_k], "Add") || g.nodes[add_k].outputs.size() != 1) continue;
    // A bias of exactly [N]: broadcasting any other shape would change the output's shape.
    const int b = Other(g.nodes[add_k], mm.outputs[0]);
    if (b < 0 || !g.values[b].is_constant()) continue;
    const Tensor& bias = g.values[b].constant;
    if (bias.dtype() != DType::kFloat32 || bias.shape() != Shape{w.constant.dim(1)}) continue;
    Node linear;
    linear.name = g.nodes[add_k].name + "/fused_linear";
    linear.op_type = "Linear";
    linear.domain = "qclip";
    linear.inputs = {mm.inputs[0], mm.inputs[1], b};
    linear.outputs = g.nodes[add_k].outputs;
    Replace(g, {static_cast<int>(k), add_k}, std::move(linear), dead);
  }
  DropDead(g, dead);
}

void FuseAddLayerNorm(Graph& g) {
  const ValueUses uses(g);
  std::vector<bool> dead(g.nodes.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& add = g.nodes[k];
    // Add-7 on: multidirectional broadcasting, as the fused op's (Add-1/6 had an axis attribute).
    if (!Is(add, "Add") || add.inputs.size() != 2 || add.outputs.size() != 1 ||
        g.KernelOpset(add) < 7 || uses.graph_output[add.outputs[0]]) {
      continue;
    }
    // The one LayerNormalization that normalises the sum over its last axis.
    int ln_k = -1, layer_norms = 0;
    for (int r : uses.readers[add.outputs[0]]) {
      const Node& n = g.nodes[r];
      if (!Is(n, "LayerNormalization")) continue;
      ++layer_norms;
      const bool fits =
          n.inputs[0] == add.outputs[0] && n.outputs.size() == 1 && n.GetInt("axis", -1) == -1 &&
          n.inputs.size() >= 2 && n.inputs.size() <= 3 &&
          std::count(n.inputs.begin(), n.inputs.end(), add.outputs[0]) == 1 &&
          g.KernelOpset(n) >= 17 && std::all_of(n.inputs.begin() + 1, n.inputs.end(), [&](int v) {
            return v < 0 || g.values[v].is_constant();  // ready where the Add is
          });
      if (fits) ln_k = r;
    }
    if (layer_norms != 1 || ln_k < 0 || dead[static_cast<size_t>(ln_k)]) continue;
    const Node& ln = g.nodes[ln_k];
    Node fused;
    fused.name = ln.name + "/fused_add";
    fused.op_type = "AddLayerNorm";
    fused.domain = "qclip";
    fused.inputs = {add.inputs[0], add.inputs[1]};
    fused.inputs.insert(fused.inputs.end(), ln.inputs.begin() + 1, ln.inputs.end());
    fused.outputs = {ln.outputs[0], add.outputs[0]};
    if (ln.attrs.count("epsilon") != 0) fused.attrs["epsilon"] = ln.attrs.at("epsilon");
    dead[static_cast<size_t>(ln_k)] = true;
    g.nodes[k] = std::move(fused);
  }
  DropDead(g, dead);
}

void FuseLinearActivation(Graph& g) {
  const ValueUses uses(g);
  std::vector<bool> dead(g.nodes.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& ql = g.nodes[k];
    if (ql.domain != "qclip" || (ql.op_type != "QuantizedLinear" && ql.op_type != "Linear") ||
        ql.outputs.size() != 1 || ql.attrs.count("activation") != 0) {
      continue;
    }
    const int gelu_k = uses.OnlyReader(ql.outputs[0]);
    if (gelu_k < 0 || !Is(g.nodes[gelu_k], "Gelu") || g.nodes[gelu_k].outputs.size() != 1 ||
        g.KernelOpset(g.nodes[gelu_k]) < 20) {
      continue;
    }
    // Gelu-20's two forms; anything else stays a Gelu node, whose kernel refuses it.
    const std::string approximate = g.nodes[gelu_k].GetString("approximate", "none");
    if (approximate != "none" && approximate != "tanh") continue;
    Node fused = ql;
    Attribute activation;
    activation.type = Attribute::Type::kString;
    activation.s = approximate == "none" ? "gelu" : "gelu_tanh";
    fused.attrs["activation"] = activation;
    fused.outputs = g.nodes[gelu_k].outputs;
    Replace(g, {static_cast<int>(k), gelu_k}, std::move(fused), dead);
  }
  DropDead(g, dead);
}

void MergeQuantizedLinears(Graph& g) {
  const auto mergeable = [&](const Node& n) {
    if (n.domain != "qclip" || n.op_type != "QuantizedLinear" || n.outputs.size() != 1 ||
        n.outputs[0] < 0 || n.inputs.size() < 3 || n.inputs.size() > 5 || n.inputs[0] < 0 ||
        n.inputs[1] < 0 || n.inputs[2] < 0) {
      return false;
    }
    return std::all_of(n.inputs.begin() + 1, n.inputs.end(),
                       [&](int v) { return v < 0 || g.values[v].is_constant(); });
  };
  // The first node of each (X, activation), which takes the later ones' products: one lookup per
  // node, so that a file of many products loads in n log n.
  std::map<std::pair<int, std::string>, size_t> first;
  std::vector<bool> dead(g.nodes.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    if (!mergeable(n)) continue;
    const auto [it, inserted] =
        first.emplace(std::make_pair(n.inputs[0], n.GetString("activation", "")), k);
    if (inserted) continue;
    Node& merged = g.nodes[it->second];
    if (merged.outputs.size() == 1) {
      merged.inputs.resize(5, -1);
      merged.name += "/merged";
    }
    for (size_t i = 1; i < 5; ++i) merged.inputs.push_back(i < n.inputs.size() ? n.inputs[i] : -1);
    merged.outputs.push_back(n.outputs[0]);
    dead[k] = true;
  }
  DropDead(g, dead);
}

void RunGraphPasses(Graph& g) {
  FuseLayerNorm(g);
  FuseGelu(g);
  FuseQuantizedLinear(g);
  FuseLinear(g);
  FuseLinearActivation(g);
  FuseAttention(g);
}

}  // namespace qclip
