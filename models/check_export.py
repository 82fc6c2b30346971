#!/usr/bin/python3
"""Checks for models/export_biomedclip.py (used by tests/models/export_test.sh).

Subcommands:
  fixtures DIR...        Architecture proof: for each golden fixture folder exported by the
                         legacy exporter from the real transformers/timm towers
                         (biomedclip_{text,vision}_*), builds our plain-torch tower at the
                         fixture's size, loads the fixture's ONNX initializers into it (names from
                         the ONNX scopes, MatMul weights transposed back), runs torch eager on the
                         fixture inputs and compares with the fixture's torch (or ORT FP32) outputs.
  shapes JSON            Every name and shape of the full-size model == the open_clip reference
                         list (biomedclip_state_dict_shapes.json), both ways.
  cases --out-dir D      Writes inputs and torch eager outputs of the exported model (same
                         --size/--seed or --checkpoint as the export) as CASE.in.INPUT.npy,
                         CASE.out.embeddings.torch.npy and cases.txt (MODEL_FILE CASE INPUT).
  weights --onnx-dir D   The initializers of the exported ONNX files equal the model's weights.
  compare --cases-dir D --actual-dir A
                         A/CASE/embeddings.npy vs the eager outputs: cosine >= 0.99999 per row,
                         max abs <= 1e-4; also rows that hold the same input (padded vs unpadded,
                         batch vs single) agree across cases.
  checkpoint --out F     Saves an open_clip-style state dict of the --size/--seed random model
                         (optionally --corrupt missing|shape|extra) to test checkpoint loading.

Exit status: 0 pass, 1 fail.
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import export_biomedclip as eb  # noqa: E402

COS_MIN = 0.99999
MAXABS_MAX = 1e-4
SAME_ROW_MAXABS = 1e-5  # the same input in two cases (eager)


def row_stats(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return cos, float(np.abs(a - b).max())


# ----------------------------------------------------------------------------------------------
# ONNX initializers -> tower state dict (legacy TorchScript exports)

def scope_to_module(output_name):
    """'/trunk/blocks/blocks.0/attn/qkv/MatMul_output_0' -> 'trunk.blocks.0.attn.qkv'."""
    parts = [p for p in output_name.split("/") if p][:-1]
    out = []
    for i, p in enumerate(parts):
        if i + 1 < len(parts) and parts[i + 1].startswith(p + "."):
            continue  # container scope repeated in its child's name ("blocks", "blocks.0")
        out.append(p)
    return ".".join(out)


def onnx_weights(path):
    """Returns ({tower name: np.ndarray}, onnx model) from a legacy export of one tower."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    weights = {}
    for name, arr in inits.items():
        if not name.startswith("onnx::"):
            weights[name] = arr
    producers = {o: n for n in m.graph.node for o in n.output}
    consumers = {}
    for n in m.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    for n in m.graph.node:
        if n.op_type != "MatMul" or n.input[1] not in inits or n.input[0] in inits:
            continue
        module = scope_to_module(n.output[0])
        # Cross-check with the bias added right after, where there is one.
        for c in consumers.get(n.output[0], []):
            if c.op_type == "Add":
                bias = [i for i in c.input if i in inits and i.endswith(".bias")]
                if bias and bias[0][:-len(".bias")] != module:
                    raise RuntimeError(f"{path}: MatMul scope {module} vs bias {bias[0]}")
        key = module + ".weight"
        if key in weights:
            raise RuntimeError(f"{path}: two MatMul weights for {key}")
        weights[key] = inits[n.input[1]].T.copy()
    return weights, m, producers, consumers


def head_dim_from_graph(m, producers, consumers, bias_name):
    """The head size the Reshape after the first q (or qkv) projection splits into."""
    from onnx import numpy_helper
    add = next(n for n in m.graph.node if n.op_type == "Add" and bias_name in n.input)
    reshape = next(n for n in consumers[add.output[0]] if n.op_type == "Reshape")
    concat = producers[reshape.input[1]]
    last = producers[concat.input[-1]]
    return int(numpy_helper.to_array(last.attribute[0].t).reshape(-1)[0])


def tower_from_onnx(path):
    """Builds our tower at the ONNX file's size and loads its initializers."""
    w, m, producers, consumers = onnx_weights(path)
    if "transformer.embeddings.word_embeddings.weight" in w:
        vocab, hidden = w["transformer.embeddings.word_embeddings.weight"].shape
        layers = len({k.split(".")[3] for k in w if k.startswith("transformer.encoder.layer.")})
        hd = head_dim_from_graph(m, producers, consumers,
                                 "transformer.encoder.layer.0.attention.self.query.bias")
        c = eb.TextConfig(
            vocab_size=vocab, hidden=hidden, layers=layers, heads=hidden // hd,
            intermediate=w["transformer.encoder.layer.0.intermediate.dense.weight"].shape[0],
            max_positions=w["transformer.embeddings.position_embeddings.weight"].shape[0],
            type_vocab=w["transformer.embeddings.token_type_embeddings.weight"].shape[0],
            embed_dim=w["proj.2.weight"].shape[0])
        tower = eb.TextTower(c)
    else:
        hidden = w["trunk.cls_token"].shape[-1]
        layers = len({k.split(".")[2] for k in w if k.startswith("trunk.blocks.")})
        hd = head_dim_from_graph(m, producers, consumers, "trunk.blocks.0.attn.qkv.bias")
        patch = w["trunk.patch_embed.proj.weight"].shape[-1]
        grid = int(round((w["trunk.pos_embed"].shape[1] - 1) ** 0.5))
        c = eb.VisionConfig(
            image_size=grid * patch, patch=patch, hidden=hidden, layers=layers,
            heads=hidden // hd, mlp=w["trunk.blocks.0.mlp.fc1.weight"].shape[0],
            embed_dim=w["head.proj.weight"].shape[0])
        tower = eb.VisionTower(c)
    sd = {k: torch.from_numpy(np.array(v)) for k, v in w.items()
          if k != "transformer.embeddings.position_ids"}
    expected = tower.state_dict()
    eb.check_state_dict(expected, sd)
    tower.load_state_dict(sd, strict=True)
    return tower.eval(), c


def cmd_fixtures(args):
    ok = True
    for d in args.dirs:
        name = os.path.basename(os.path.normpath(d))
        manifest = json.load(open(os.path.join(d, "manifest.json")))
        if "legacy" not in manifest.get("exporter", "") and "legacy" not in name:
            print(f"skip {name}: not a legacy (scoped) export")
            continue
        tower, c = tower_from_onnx(os.path.join(d, "fp32.onnx"))
        desc = (f"hidden {c.hidden}, {c.layers} layers, {c.heads} heads, "
                f"{'intermediate ' + str(c.intermediate) if isinstance(c, eb.TextConfig) else 'mlp ' + str(c.mlp)}")
        for case in manifest["cases"]:
            (inp_name, inp_file), = case["inputs"].items()
            outs = case["outputs"]["embeddings"]
            ref_src = "torch" if os.path.exists(os.path.join(d, outs.get("torch", "-"))) \
                else "ort_fp32"
            x = torch.from_numpy(np.load(os.path.join(d, inp_file)))
            ref = np.load(os.path.join(d, outs[ref_src]))
            with torch.no_grad():
                got = tower(x).numpy()
            cos, maxabs = row_stats(got, ref)
            good = cos.min() >= 1 - 1e-6 and maxabs <= args.maxabs
            ok &= bool(good)
            print(f"{'ok  ' if good else 'FAIL'} {name} ({desc}) {case['name']} "
                  f"{list(x.shape)}: vs {ref_src} max abs {maxabs:.2e}, min cos {cos.min():.9f}")
    return 0 if ok else 1


# ----------------------------------------------------------------------------------------------

def cmd_shapes(args):
    ref = json.load(open(args.json))
    model = eb.build_model("full")
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(ref) - set(ours))
    extra = sorted(set(ours) - set(ref))
    bad = [k for k in ref if k in ours and list(ref[k]) != ours[k]]
    for k in missing:
        print(f"FAIL reference name not in our model: {k} {ref[k]}")
    for k in extra:
        print(f"FAIL our name not in the reference: {k} {ours[k]}")
    for k in bad:
        print(f"FAIL shape of {k}: ours {ours[k]}, reference {ref[k]}")
    n_text = sum(p.numel() for p in model.text.parameters())
    n_vis = sum(p.numel() for p in model.visual.parameters())
    print(f"{'ok  ' if not (missing or extra or bad) else 'FAIL'} full-size state dict: "
          f"{len(ours)} tensors vs {len(ref)} in the reference; text {n_text:,} parameters "
          f"({n_text * 4 / 1e6:.1f} MB fp32), vision {n_vis:,} ({n_vis * 4 / 1e6:.1f} MB)")
    return 1 if (missing or extra or bad) else 0


def model_from_args(args):
    model = eb.build_model(args.size)
    if args.checkpoint:
        eb.load_checkpoint(model, args.checkpoint)
    else:
        eb.random_init(model, args.seed)
    return model


def text_row(g, length, vocab):
    ids = torch.randint(999, vocab, (length,), generator=g)
    ids[0] = 2  # [CLS]
    ids[-1] = 3  # [SEP]
    return ids


def cmd_cases(args):
    """Writes CASE.in.*.npy, CASE.out.embeddings.torch.npy, cases.txt and same_rows.json."""
    torch.set_grad_enabled(False)
    model = model_from_args(args)
    tc, vc = model.text.config, model.visual.config
    g = torch.Generator().manual_seed(1234)
    os.makedirs(args.out_dir, exist_ok=True)

    rows = {n: text_row(g, n, tc.vocab_size) for n in (13, 24, 7, 2, 256)}

    def padded(lengths, width):
        x = torch.zeros(len(lengths), width, dtype=torch.int64)  # pad id 0
        for i, n in enumerate(lengths):
            x[i, :n] = rows[n]
        return x

    img = torch.randn(1, vc.channels, vc.image_size, vc.image_size, generator=g)
    imgs = torch.cat([img, torch.rand(2, vc.channels, vc.image_size, vc.image_size,
                                      generator=g) * 4 - 2])
    cases = [
        (eb.TEXT_FILE, "text_unpadded_b1", "input_ids", padded([13], 13)),
        (eb.TEXT_FILE, "text_padded_b4", "input_ids", padded([13, 24, 7, 2], 24)),
        (eb.TEXT_FILE, "text_padded256_b2", "input_ids", padded([13, 256], 256)),
        (eb.TEXT_FILE, "text_full_b1", "input_ids", padded([24], 24)),
        (eb.VISION_FILE, "vision_randn_b1", "pixel_values", img),
        (eb.VISION_FILE, "vision_b3", "pixel_values", imgs),
    ]
    # Rows holding the same input: (case, row, case, row).
    same = [("text_unpadded_b1", 0, "text_padded_b4", 0),
            ("text_unpadded_b1", 0, "text_padded256_b2", 0),
            ("text_full_b1", 0, "text_padded_b4", 1),
            ("vision_randn_b1", 0, "vision_b3", 0)]
    outs = {}
    with open(os.path.join(args.out_dir, "cases.txt"), "w") as f:
        for model_file, name, inp, x in cases:
            tower = model.text if model_file == eb.TEXT_FILE else model.visual
            y = tower(x).numpy()
            outs[name] = y
            np.save(os.path.join(args.out_dir, f"{name}.in.{inp}.npy"), x.numpy())
            np.save(os.path.join(args.out_dir, f"{name}.out.embeddings.torch.npy"), y)
            f.write(f"{model_file} {name} {inp}\n")
            print(f"case {name}: {inp} {list(x.shape)} -> embeddings {list(y.shape)}")
    json.dump(same, open(os.path.join(args.out_dir, "same_rows.json"), "w"))
    ok = True
    for a, ra, b, rb in same:  # eager itself: padding and batching change nothing
        d = float(np.abs(outs[a][ra] - outs[b][rb]).max())
        good = d <= SAME_ROW_MAXABS
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} eager {a}[{ra}] vs {b}[{rb}]: max abs {d:.2e}")
    return 0 if ok else 1


def cmd_weights(args):
    model = model_from_args(args)
    ok = True
    for file, tower in ((eb.TEXT_FILE, model.text), (eb.VISION_FILE, model.visual)):
        w, *_ = onnx_weights(os.path.join(args.onnx_dir, file))
        sd = tower.state_dict()
        # Folded away by the exporter: the token type row becomes a constant vector.
        folded = {"transformer.embeddings.token_type_embeddings.weight"}
        missing = [k for k in sd if k not in w and k not in folded]
        diff = [k for k in sd if k in w and not np.array_equal(w[k], sd[k].numpy())]
        good = not missing and not diff
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {file}: {len(sd) - len(missing)} of {len(sd)} "
              f"weights found, {len(sd) - len(missing) - len(diff)} bit-identical"
              + (f"; missing {missing}" if missing else "") + (f"; differ {diff}" if diff else ""))
    return 0 if ok else 1


def cmd_compare(args):
    ok = True
    got = {}
    for line in open(os.path.join(args.cases_dir, "cases.txt")):
        _, name, _ = line.split()
        ref = np.load(os.path.join(args.cases_dir, f"{name}.out.embeddings.torch.npy"))
        path = os.path.join(args.actual_dir, name, "embeddings.npy")
        if not os.path.exists(path):
            print(f"FAIL {name}: no output {path}")
            ok = False
            continue
        y = np.load(path)
        if y.shape != ref.shape or y.dtype != np.float32:
            print(f"FAIL {name}: output {y.dtype} {list(y.shape)}, expected float32 "
                  f"{list(ref.shape)}")
            ok = False
            continue
        got[name] = y
        cos, maxabs = row_stats(y, ref)
        good = cos.min() >= COS_MIN and maxabs <= MAXABS_MAX
        ok &= bool(good)
        print(f"{'ok  ' if good else 'FAIL'} {name} {list(y.shape)}: qclip vs torch eager "
              f"min cos {cos.min():.9f}, max abs {maxabs:.2e}")
    for a, ra, b, rb in json.load(open(os.path.join(args.cases_dir, "same_rows.json"))):
        if a in got and b in got:
            cos, maxabs = row_stats(got[a][ra:ra + 1], got[b][rb:rb + 1])
            good = cos[0] >= COS_MIN and maxabs <= MAXABS_MAX
            ok &= bool(good)
            print(f"{'ok  ' if good else 'FAIL'} qclip {a}[{ra}] vs {b}[{rb}]: "
                  f"cos {cos[0]:.9f}, max abs {maxabs:.2e}")
    return 0 if ok else 1


def cmd_checkpoint(args):
    model = model_from_args(args)
    sd = dict(model.state_dict())
    if args.corrupt == "missing":
        del sd["text.proj.2.weight"]
    elif args.corrupt == "shape":
        sd["visual.trunk.pos_embed"] = sd["visual.trunk.pos_embed"][:, :-1]
    elif args.corrupt == "extra":
        sd["text.transformer.pooler.dense.weight"] = torch.zeros(2, 2)
    else:
        # What older transformers versions saved: ignored on load.
        sd["text.transformer.embeddings.position_ids"] = torch.arange(512).unsqueeze(0)
    torch.save(sd, args.out)
    print(f"wrote {args.out} ({len(sd)} tensors{', corrupt: ' + args.corrupt if args.corrupt else ''})")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("fixtures")
    p.add_argument("dirs", nargs="+")
    p.add_argument("--maxabs", type=float, default=5e-7)
    p = sub.add_parser("shapes")
    p.add_argument("json")
    for name in ("cases", "weights", "checkpoint"):
        p = sub.add_parser(name)
        p.add_argument("--size", choices=sorted(eb.SIZES), default="tiny")
        p.add_argument("--seed", type=int, default=0)
        if name != "checkpoint":
            p.add_argument("--checkpoint")
        if name == "cases":
            p.add_argument("--out-dir", required=True)
        if name == "weights":
            p.add_argument("--onnx-dir", required=True)
        if name == "checkpoint":
            p.add_argument("--out", required=True)
            p.add_argument("--corrupt", choices=["missing", "shape", "extra"])
    p = sub.add_parser("compare")
    p.add_argument("--cases-dir", required=True)
    p.add_argument("--actual-dir", required=True)
    args = ap.parse_args()
    if not hasattr(args, "checkpoint"):
        args.checkpoint = None
    torch.set_grad_enabled(False)
    return {"fixtures": cmd_fixtures, "shapes": cmd_shapes, "cases": cmd_cases,
            "weights": cmd_weights, "compare": cmd_compare,
            "checkpoint": cmd_checkpoint}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
