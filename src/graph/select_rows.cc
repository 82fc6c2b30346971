// SelectRowsEarly: a pooled output that keeps one token (Gather(X, 0, axis=1) of a [batch,
// tokens, features] tensor: the CLS token of ViT and BERT) needs only that token's row of every
// row-wise op before it. The pass moves the Gather up through those ops (LayerNorm over the last
// axis, products with constant weights, activations, residual additions), so that the last
// layer's MLP and output projection run on one row instead of all of them. Every kept row is
// computed exactly as before (all these kernels compute a row from that row alone), so the
// outputs do not change, bit for bit.
#include <algorithm>
#include <string>
#include <vector>

#include "graph/pass_util.h"
#include "graph/passes.h"

namespace qclip {
namespace {

using namespace pass_util;  // NOLINT(google-build-using-namespace)

// Ranks of values, where they follow from declared input ranks and constants without knowing
// any dim; -1 when unknown. len1d: the length of rank-1 int values (shape vectors), or -1.
struct Ranks {
  std::vector<int> rank, len1d;
  std::vector<int> shape_of_1d;  // Shape(v) of a 1-D v of known length: that length, else -1
};

// The length of Slice(v, [start], [end]) (axis 0, step 1) of a 1-D v of `len` values, or -1.
int SliceLength(const Graph& g, const Node& n, int len) {
  const auto single = [&](size_t i, int64_t* x) {
    if (i >= n.inputs.size() || n.inputs[i] < 0 || !g.values[n.inputs[i]].is_constant()) {
      return false;
    }
    const Tensor& t = g.values[n.inputs[i]].constant;
    if (t.dtype() != DType::kInt64 || t.size() != 1) return false;
    *x = *t.data<int64_t>();
    return true;
  };
  int64_t start = 0, end = 0, axis = 0, step = 1;
  if (len < 0 || !single(1, &start) || !single(2, &end)) return -1;
  if ((n.inputs.size() > 3 && !single(3, &axis)) || (n.inputs.size() > 4 && !single(4, &step))) {
    return -1;
  }
  if ((axis != 0 && axis != -1) || step != 1) return -1;
  const auto clamp = [&](int64_t x) {
    return x < 0 ? std::max<int64_t>(0, x + len) : std::min<int64_t>(x, len);
  };
  return static_cast<int>(std::max<int64_t>(0, clamp(end) - clamp(start)));
}

Ranks InferRanks(const Graph& g) {
  Ranks r{std::vector<int>(g.values.size(), -1), std::vector<int>(g.values.size(), -1),
          std::vector<int>(g.values.size(), -1)};
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (g.values[v].is_constant()) {
      r.rank[v] = g.values[v].constant.rank();
      if (r.rank[v] == 1) r.len1d[v] = static_cast<int>(g.values[v].constant.size());
    }
  }
  for (int v : g.inputs) {
    if (g.values[v].has_shape) r.rank[v] = static_cast<int>(g.values[v].shape.size());
  }
  const auto rank = [&](const Node& n, size_t i) {
    return i < n.inputs.size() && n.inputs[i] >= 0 ? r.rank[n.inputs[i]] : -1;
  };
  const auto axes_count = [&](const Node& n) {
    if (n.inputs.size() > 1 && n.inputs[1] >= 0) return r.len1d[n.inputs[1]];
    return n.has("axes") ? static_cast<int>(n.GetInts("axes", {}).size()) : -1;
  };
  for (const Node& n : g.nodes) {
    if (n.outputs.empty() || n.outputs[0] < 0 || r.rank[n.outputs[0]] >= 0) continue;
    int out = -1, len = -1;
    const std::string& op = n.op_type;
    if (n.domain == "qclip") {
      if (op == "QuantizedLinear" || op == "Linear") out = rank(n, 0);
    } else if (op == "LayerNormalization" || op == "Gelu" || op == "Erf" || op == "Sqrt" ||
               op == "Neg" || op == "Relu" || op == "Tanh" || op == "Sigmoid" || op == "Cast" ||
               op == "Identity" || op == "Softmax" || op == "Transpose" || op == "Concat" ||
               op == "Not" || op == "IsNaN" || op == "Abs" || op == "Exp" || op == "Log" ||
               op == "DequantizeLinear" || op == "QuantizeLinear" ||
               op == "DynamicQuantizeLinear" || op == "Conv" || op == "ConvInteger" ||
               op == "Split") {
      out = rank(n, 0);
      if ((op == "Cast" || op == "Identity") && out == 1) len = r.len1d[n.inputs[0]];
      if (op == "Concat" && out == 1) {
        len = 0;
        for (int v : n.inputs) len = v >= 0 && len >= 0 && r.len1d[v] >= 0 ? len + r.len1d[v] : -1;
      }
    } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow" ||
               op == "Where" || op == "Equal" || op == "Less" || op == "Greater" || op == "And" ||
               op == "Or" || op == "GreaterOrEqual" || op == "LessOrEqual") {
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        if (rank(n, i) < 0) {
          out = -1;
          break;
        }
        out = std::max(out, rank(n, i));
      }
      if (out == 1) {  // broadcasting 1-D values: the longest (all known), scalars aside
        len = 0;
        for (int v : n.inputs) {
          if (r.rank[v] == 1) len = len >= 0 && r.len1d[v] >= 0 ? std::max(len, r.len1d[v]) : -1;
        }
      }
    } else if ((op == "MatMul" || op == "MatMulInteger") && rank(n, 0) >= 2 && rank(n, 1) >= 2) {
      out = std::max(rank(n, 0), rank(n, 1));
    } else if (op == "Gather" && rank(n, 0) >= 1 && rank(n, 1) >= 0) {
      out = rank(n, 0) + rank(n, 1) - 1;
    } else if (op == "Shape" && rank(n, 0) >= 0 && !n.has("start") && !n.has("end")) {
      out = 1;
      len = rank(n, 0);
      if (len == 1) r.shape_of_1d[n.outputs[0]] = r.len1d[n.inputs[0]];
    } else if (op == "Reshape" && n.inputs.size() > 1 && n.inputs[1] >= 0) {
      out = r.len1d[n.inputs[1]];
      if (out == 1 && rank(n, 0) == 1) len = r.len1d[n.inputs[0]];
    } else if ((op == "Unsqueeze" || op == "Squeeze") && rank(n, 0) >= 0 && axes_count(n) >= 0) {
      out = rank(n, 0) + (op == "Unsqueeze" ? axes_count(n) : -axes_count(n));
      if (op == "Unsqueeze" && out == 1) len = 1;
    } else if (op == "Flatten") {
      out = 2;
    } else if (op == "Range") {
      out = 1;
    } else if (op == "GatherElements") {
      out = rank(n, 1);
    } else if (op == "Expand" && rank(n, 0) >= 0 && n.inputs.size() > 1 && n.inputs[1] >= 0 &&
               r.len1d[n.inputs[1]] >= 0) {
      out = std::max(rank(n, 0), r.len1d[n.inputs[1]]);
    } else if (op == "ConstantOfShape" && !n.inputs.empty() && n.inputs[0] >= 0) {
      out = r.len1d[n.inputs[0]];
      if (out == 1) len = r.shape_of_1d[n.inputs[0]];
    } else if (op == "Slice" && rank(n, 0) >= 0) {
      out = rank(n, 0);
      len = SliceLength(g, n, r.len1d[n.inputs[0]]);
    }
    r.rank[n.outputs[0]] = out;
    if (out == 1 && len >= 0) r.len1d[n.outputs[0]] = len;
    for (size_t j = 1; j < n.outputs.size(); ++j) {  // multi-output ops
      if (n.outputs[j] < 0) continue;
      if (op == "DynamicQuantizeLinear") r.rank[n.outputs[j]] = 0;  // scale, zero point
      if (op == "Split") r.rank[n.outputs[j]] = out;
    }
  }
  return r;
}

// Which inputs of a node carry rows (rank 3, like its output); empty when the node is not
// row-wise: its other inputs must be the same for every row (rank <= 1).
std::vector<size_t> RowInputs(const Graph& g, const Ranks& ranks, const Node& n,
                              bool quantized_rows_independent) {
  const bool all_rank1_constants = [&] {
    for (size_t i = 1; i < n.inputs.size(); ++i) {
      const int v = n.inputs[i];
      if (v >= 0 && (!g.values[v].is_constant() || g.values[v].constant.rank() > 1)) return false;
    }
    return true;
  }();
  if (n.domain == "qclip") {
    // Per-tensor activation quantization takes its range over all rows.
    if (n.op_type == "Linear") return {0};
    return n.op_type == "QuantizedLinear" && quantized_rows_independent ? std::vector<size_t>{0}
                                                                        : std::vector<size_t>{};
  }
  if (!n.domain.empty() || n.inputs.empty() || n.inputs[0] < 0) return {};
  const std::string& op = n.op_type;
  if (op == "LayerNormalization") {
    return n.GetInt("axis", -1) == -1 && all_rank1_constants ? std::vector<size_t>{0}
                                                             : std::vector<size_t>{};
  }
  if (op == "Gelu" || op == "Erf" || op == "Relu" || op == "Tanh" || op == "Sigmoid") return {0};
  if (op == "MatMul" && n.inputs.size() == 2 && n.inputs[1] >= 0 &&
      g.values[n.inputs[1]].is_constant() && g.values[n.inputs[1]].constant.rank() == 2) {
    return {0};
  }
  if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && n.inputs.size() == 2 &&
      n.inputs[1] >= 0) {
    std::vector<size_t> rows;
    for (size_t i = 0; i < 2; ++i) {
      const int r = ranks.rank[n.inputs[i]];
      if (r == 3) rows.push_back(i);
      if (r < 0 || r == 2) return {};  // unknown, or varying along the tokens: not row-wise
    }
    return rows;
  }
  return {};
}

}  // namespace

void SelectRowsEarly(Graph& g, bool quantized_rows_independent) {
  const Ranks ranks = InferRanks(g);
  const ValueUses uses(g);
  const size_t original_nodes = g.nodes.size();
  // One pooled output per call (the models have one): the rewrite below changes g.
  for (size_t k = 0; k < original_nodes; ++k) {
    const Node gather = g.nodes[k];  // a copy: g.nodes grows below
    if (!Is(gather, "Gather") || gather.inputs.size() != 2 || gather.inputs[1] < 0 ||
        gather.GetInt("axis", 0) != 1) {
      continue;
    }
    const int x0 = gather.inputs[0], index = gather.inputs[1];
    const Value& idx = g.values[index];
    if (ranks.rank[x0] != 3 || !idx.is_constant() || idx.constant.rank() != 0 ||
        idx.constant.dtype() != DType::kInt64 || *idx.constant.data<int64_t>() != 0 ||
        uses.OnlyReader(x0) != static_cast<int>(k)) {
      continue;  // index 0 only: a [batch, 1, features] operand broadcast over tokens has it too
    }
    // The values only row 0 of which is needed: x0, and, going up, every row input of a
    // row-wise producer whose readers all need only row 0. Rank-3 values only.
    std::vector<bool> selected(g.values.size(), false);
    selected[x0] = true;
    const auto row_operand = [&](const Node& n, size_t i) {
      const int v = n.inputs[i];
      return v >= 0 && ranks.rank[v] == 3;
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t p = original_nodes; p-- > 0;) {
        const Node& n = g.nodes[p];
        if (n.outputs.size() != 1 || n.outputs[0] < 0 || !selected[n.outputs[0]]) continue;
        for (size_t i : RowInputs(g, ranks, n, quantized_rows_independent)) {
          if (!row_operand(n, i) || selected[n.inputs[i]] || g.values[n.inputs[i]].is_constant() ||
              uses.producer[n.inputs[i]] < 0) {
            continue;
          }
          bool all = !uses.graph_output[n.inputs[i]];
          for (int reader : uses.readers[n.inputs[i]]) {
            const Node& r = g.nodes[reader];
            bool reads_as_row =
                r.outputs.size() == 1 && r.outputs[0] >= 0 && selected[r.outputs[0]];
            if (reads_as_row) {
              const std::vector<size_t> rows = RowInputs(g, ranks, r, quantized_rows_independent);
              for (size_t j = 0; j < r.inputs.size(); ++j) {
                if (r.inputs[j] != n.inputs[i]) continue;
                reads_as_row = reads_as_row && std::find(rows.begin(), rows.end(), j) != rows.end();
              }
            }
            all = all && reads_as_row;
          }
          if (all) selected[n.inputs[i]] = changed = true;
        }
      }
    }
    // Rewrite: each selected value's producer gets a copy working on row 0 (its selected inputs'
    // copies, Gathers of its other rank-3 inputs), output `row[v]`; the Gather reads the copy of
    // x0.
    std::vector<int> row(g.values.size(), -1);
    const auto gather_row = [&](int v) {
      if (row[v] >= 0) return row[v];
      const int out = g.AddValue(g.values[v].name + "/row0", g.values[v].dtype);
      Node n;
      n.name = g.values[v].name + "/select_row0";
      n.op_type = "Gather";
      n.inputs = {v, index};
      n.outputs = {out};
      Attribute axis;
      axis.type = Attribute::Type::kInt;
      axis.i = 1;
      n.attrs["axis"] = axis;
      g.nodes.push_back(std::move(n));
      return row[v] = out;
    };
    bool rewritten = false;
    for (size_t p = 0; p < original_nodes; ++p) {
      Node n = g.nodes[p];
      if (n.outputs.size() != 1 || n.outputs[0] < 0 || !selected[n.outputs[0]]) continue;
      const std::vector<size_t> rows = RowInputs(g, ranks, n, quantized_rows_independent);
      if (rows.empty()) continue;
      for (size_t i : rows) {
        const int v = n.inputs[i];
        if (v < 0 || ranks.rank[v] != 3) continue;  // broadcast operand: the same for every row
        n.inputs[i] = selected[v] && row[v] >= 0 ? row[v] : gather_row(v);
      }
      const int out =
          g.AddValue(g.values[n.outputs[0]].name + "/row0", g.values[n.outputs[0]].dtype);
      row[n.outputs[0]] = out;
      n.outputs = {out};
      n.name += "/row0";
      g.nodes.push_back(std::move(n));
      rewritten = true;
    }
    if (!rewritten || row[x0] < 0) {
      g.nodes.resize(original_nodes);  // nothing worth doing (x0's producer is not row-wise)
      continue;
    }
    // The pooled value is now row 0 of x0, already computed.
    Node& pooled = g.nodes[k];
    pooled.op_type = "Identity";
    pooled.attrs.clear();
    pooled.inputs = {row[x0]};
    SortTopologically(g);
    return;
  }
}

}  // namespace qclip
