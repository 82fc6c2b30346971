#!/usr/bin/python3
"""Export BiomedCLIP's text and vision towers to single-file FP32 ONNX models.

The towers are rebuilt here in plain torch (no open_clip, transformers or timm), with
open_clip's parameter names and shapes, so an open_clip checkpoint of
microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224 (open_clip_pytorch_model.bin) loads
into them unchanged:

  text    text.transformer.*  HF BertModel (PubMedBERT: absolute position embeddings,
                              token type 0, post-norm layers, LayerNorm eps 1e-12, erf GELU)
          -> [CLS] hidden state -> text.proj.0 Linear(768, 640, no bias) -> GELU
          -> text.proj.2 Linear(640, 512, no bias) -> x / ||x||
  vision  visual.trunk.*      timm vit_base_patch16_224 (class token, learned position
                              embedding, pre-norm blocks with a fused qkv Linear, LayerNorm
                              eps 1e-6, erf GELU) -> final norm -> class token
          -> visual.head.proj Linear(768, 512, no bias) -> x / ||x||
  logit_scale                 checked, not exported

Outputs (into --out-dir):
  biomedclip_text_fp32.onnx    input_ids int64 [batch, sequence] -> embeddings float [batch, 512]
                               (attention mask computed in the graph as input_ids != 0)
  biomedclip_vision_fp32.onnx  pixel_values float [batch, 3, 224, 224] -> embeddings [batch, 512]

Run with Debian's interpreter (python3-torch, python3-onnx, python3-numpy):
  /usr/bin/python3 models/export_biomedclip.py --out-dir DIR --checkpoint open_clip_pytorch_model.bin
  /usr/bin/python3 models/export_biomedclip.py --out-dir DIR --random-init --seed 0 [--size tiny]
See models/README.md.
"""

import argparse
import dataclasses
import inspect
import math
import os
import sys
import time

import torch
from torch import nn

TEXT_FILE = "biomedclip_text_fp32.onnx"
VISION_FILE = "biomedclip_vision_fp32.onnx"
PAD_ID = 0  # PubMedBERT's [PAD]; open_clip's HFTextEncoder masks input_ids != pad_token_id


@dataclasses.dataclass(frozen=True)
class TextConfig:
    vocab_size: int = 30522
    hidden: int = 768
    layers: int = 12
    heads: int = 12
    intermediate: int = 3072
    max_positions: int = 512
    type_vocab: int = 2
    embed_dim: int = 512
    eps: float = 1e-12

    @property
    def proj_hidden(self):
        # open_clip HFTextEncoder, proj_type "mlp": (d_model + output_dim) // 2
        return (self.hidden + self.embed_dim) // 2


@dataclasses.dataclass(frozen=True)
class VisionConfig:
    image_size: int = 224
    patch: int = 16
    channels: int = 3
    hidden: int = 768
    layers: int = 12
    heads: int = 12
    mlp: int = 3072
    embed_dim: int = 512
    eps: float = 1e-6

    @property
    def tokens(self):
        return (self.image_size // self.patch) ** 2 + 1


SIZES = {
    # The real BiomedCLIP towers.
    "full": (TextConfig(), VisionConfig()),
    # Same structure, small dims (the dims of the tiny golden fixtures). The text tower keeps
    # the real 30522-token vocabulary (1M parameters at hidden 32) so that ids from the real
    # PubMedBERT tokenizer can be fed to it.
    "tiny": (TextConfig(hidden=32, layers=2, heads=2, intermediate=128),
             VisionConfig(hidden=64, layers=2, heads=2, mlp=256)),
}


# ----------------------------------------------------------------------------------------------
# Text tower: HF BertModel (as open_clip's HFTextEncoder holds it) + MLP projection.
# Module attribute names are HF's, so state-dict keys are text.transformer.<HF name>.

class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden, padding_idx=PAD_ID)
        self.position_embeddings = nn.Embedding(c.max_positions, c.hidden)
        self.token_type_embeddings = nn.Embedding(c.type_vocab, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.eps)
        self.register_buffer("position_ids", torch.arange(c.max_positions).unsqueeze(0),
                             persistent=False)

    def forward(self, input_ids):
        seq = input_ids.size(1)
        # HF order: (word + token_type) + position, then LayerNorm. Token type is 0 everywhere.
        x = self.word_embeddings(input_ids) + self.token_type_embeddings.weight[0]
        x = x + self.position_embeddings(self.position_ids[:, :seq])
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c.heads
        self.head_dim = c.hidden // c.heads
        self.query = nn.Linear(c.hidden, c.hidden)
        self.key = nn.Linear(c.hidden, c.hidden)
        self.value = nn.Linear(c.hidden, c.hidden)

    def split(self, x):
        return x.view(x.size()[:-1] + (self.heads, self.head_dim)).permute(0, 2, 1, 3)

    def forward(self, x, mask_bias):
        q = self.split(self.query(x))
        k = self.split(self.key(x))
        v = self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        probs = torch.softmax(scores + mask_bias, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.size()[:-2] + (self.heads * self.head_dim,))


class BertSelfOutput(nn.Module):
    def __init__(self, c, inner):
        super().__init__()
        self.dense = nn.Linear(inner, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c, c.hidden)

    def forward(self, x, mask_bias):
        return self.output(self.self(x, mask_bias), x)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden, c.intermediate)
        self.act = nn.GELU()  # exact (erf) GELU, HF "gelu"

    def forward(self, x):
        return self.act(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertSelfOutput(c, c.intermediate)  # HF BertOutput: same shape as this

    def forward(self, x, mask_bias):
        a = self.attention(x, mask_bias)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c.layers)])

    def forward(self, x, mask_bias):
        for layer in self.layer:
            x = layer(x, mask_bias)
        return x


class BertModel(nn.Module):
    """HF BertModel without the pooler (open_clip builds it with add_pooling_layer=False)."""

    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)

    def forward(self, input_ids, attention_mask):
        # HF's extended attention mask: 0 where attended, finfo.min where masked.
        m = attention_mask[:, None, None, :].to(torch.float32)
        mask_bias = (1.0 - m) * torch.finfo(torch.float32).min
        return self.encoder(self.embeddings(input_ids), mask_bias)


class TextTower(nn.Module):
    """open_clip HFTextEncoder (cls_last_hidden_state_pooler, proj_type mlp) + normalisation."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.transformer = BertModel(c)
        self.proj = nn.Sequential(nn.Linear(c.hidden, c.proj_hidden, bias=False), nn.GELU(),
                                  nn.Linear(c.proj_hidden, c.embed_dim, bias=False))

    def forward(self, input_ids):
        attention_mask = (input_ids != PAD_ID).long()
        hidden = self.transformer(input_ids, attention_mask)
        x = self.proj(hidden[:, 0, :])
        return x / x.norm(p=2, dim=-1, keepdim=True)


# ----------------------------------------------------------------------------------------------
# Vision tower: timm VisionTransformer (as open_clip's TimmModel holds it) + linear head.

class PatchEmbed(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.proj = nn.Conv2d(c.channels, c.hidden, kernel_size=c.patch, stride=c.patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, C, H, W] -> [B, HW, C]


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c.heads
        self.head_dim = c.hidden // c.heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(c.hidden, c.hidden * 3)
        self.proj = nn.Linear(c.hidden, c.hidden)

    def forward(self, x):
        b, n, ch = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = torch.softmax((q * self.scale) @ k.transpose(-2, -1), dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(b, n, ch)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1 = nn.Linear(c.hidden, c.mlp)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(c.mlp, c.hidden)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm1 = nn.LayerNorm(c.hidden, eps=c.eps)
        self.attn = Attention(c)
        self.norm2 = nn.LayerNorm(c.hidden, eps=c.eps)
        self.mlp = Mlp(c)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """timm vit_base_patch16_224 with num_classes=0, global_pool 'token' (no fc_norm)."""

    def __init__(self, c):
        super().__init__()
        self.patch_embed = PatchEmbed(c)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.hidden))
        self.pos_embed = nn.Parameter(torch.zeros(1, c.tokens, c.hidden))
        self.blocks = nn.Sequential(*[Block(c) for _ in range(c.layers)])
        self.norm = nn.LayerNorm(c.hidden, eps=c.eps)

    def forward(self, pixel_values):
        x = self.patch_embed(pixel_values)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return x[:, 0]


class Head(nn.Module):
    """open_clip TimmModel head for proj 'linear': Sequential(drop, proj)."""

    def __init__(self, c):
        super().__init__()
        self.proj = nn.Linear(c.hidden, c.embed_dim, bias=False)

    def forward(self, x):
        return self.proj(x)


class VisionTower(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.trunk = VisionTransformer(c)
        self.head = Head(c)

    def forward(self, pixel_values):
        x = self.head(self.trunk(pixel_values))
        return x / x.norm(p=2, dim=-1, keepdim=True)


class BiomedCLIP(nn.Module):
    """Both towers under open_clip's top-level names: text.*, visual.*, logit_scale."""

    def __init__(self, text_config, vision_config):
        super().__init__()
        self.text = TextTower(text_config)
        self.visual = VisionTower(vision_config)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))


# ----------------------------------------------------------------------------------------------
# Weights

def build_model(size="full"):
    text_config, vision_config = SIZES[size]
    return BiomedCLIP(text_config, vision_config).eval()


@torch.no_grad()
def random_init(model, seed):
    """HF/timm-style init, then made less uniform like the golden fixtures.

    Base (HF BERT / timm ViT): Linear, Conv and Embedding weights N(0, 0.02), LayerNorm 1/0,
    position embedding N(0, 0.02). Then, so that quantization behaves as on trained weights
    (the statistics of the fixture models): LayerNorm gains N(1, 0.1) and biases N(0, 0.05);
    Linear and Conv biases N(0, 0.02); class token N(0, 0.02); 2% of each Linear's input
    channels (at least one) scaled 4x as outlier features.
    """
    g = torch.Generator().manual_seed(seed)

    def normal_(t, std):
        t.copy_(torch.randn(t.shape, generator=g) * std)

    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            normal_(m.weight, 0.02)
            if m.bias is not None:
                normal_(m.bias, 0.02)
            if isinstance(m, nn.Linear):
                n_out = max(1, int(0.02 * m.in_features))
                idx = torch.randperm(m.in_features, generator=g)[:n_out]
                m.weight[:, idx] *= 4.0
        elif isinstance(m, nn.Embedding):
            normal_(m.weight, 0.02)
        elif isinstance(m, nn.LayerNorm):
            m.weight.copy_(1.0 + torch.randn(m.weight.shape, generator=g) * 0.1)
            normal_(m.bias, 0.05)
    trunk = model.visual.trunk
    normal_(trunk.cls_token, 0.02)
    normal_(trunk.pos_embed, 0.02)
    model.logit_scale.fill_(math.log(1 / 0.07))
    return model


class CheckpointError(Exception):
    pass


# Buffers some transformers versions saved in the state dict; they hold no weights.
IGNORED_KEYS = ("text.transformer.embeddings.position_ids",
                "text.transformer.embeddings.token_type_ids")


def normalize_state_dict(sd):
    """Unwraps {'state_dict': ...} and strips DataParallel's 'module.' prefix."""
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise CheckpointError(f"expected a state dict (name -> tensor), got {type(sd).__name__}")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return {k: v for k, v in sd.items() if k not in IGNORED_KEYS}


def _listing(title, items, limit=20):
    more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"  {title} ({len(items)}): " + ", ".join(items[:limit]) + more


def check_state_dict(expected, sd, hint=""):
    """Raises CheckpointError listing the missing, unexpected and mis-shaped names."""
    problems = []
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    for k in expected:
        if k in sd:
            if not torch.is_tensor(sd[k]):
                problems.append(f"  {k}: not a tensor ({type(sd[k]).__name__})")
            elif tuple(sd[k].shape) != tuple(expected[k].shape):
                problems.append(f"  {k}: shape {list(sd[k].shape)}, expected "
                                f"{list(expected[k].shape)}")
            elif not sd[k].is_floating_point():
                problems.append(f"  {k}: dtype {sd[k].dtype}, expected a float type")
    if len(problems) > 20:
        problems = problems[:20] + [f"  ... and {len(problems) - 20} more tensors"]
    if missing:
        problems.append(_listing("missing", missing))
    if unexpected:
        problems.append(_listing("unexpected", unexpected))
    if problems:
        raise CheckpointError("checkpoint does not match the BiomedCLIP model:\n"
                              + "\n".join(problems) + hint)


def _size_hint(sd, size):
    """' (it matches --size X)' when the checkpoint fits another size exactly."""
    for other in SIZES:
        if other != size:
            want = {k: tuple(v.shape) for k, v in build_model(other).state_dict().items()}
            if want == {k: tuple(v.shape) for k, v in sd.items() if torch.is_tensor(v)}:
                return f"\n  (the checkpoint has the shapes of --size {other})"
    return ""


@torch.no_grad()
def load_checkpoint(model, path, size=None):
    if not os.path.isfile(path):
        raise CheckpointError(f"cannot open checkpoint {path}")
    try:
        sd = torch.load(path, map_location="cpu")
    except Exception as e:  # a corrupt or non-torch file
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from e
    sd = normalize_state_dict(sd)
    expected = model.state_dict()
    try:
        check_state_dict(expected, sd)
    except CheckpointError as e:
        raise CheckpointError(str(e) + (_size_hint(sd, size) if size else "")) from None
    model.load_state_dict({k: v.to(torch.float32) for k, v in sd.items()}, strict=True)
    return model


# ----------------------------------------------------------------------------------------------
# Export

def example_text_input(c):
    ids = torch.randint(5, min(c.vocab_size, 1000), (2, 16), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = 2
    ids[1, 10:] = PAD_ID
    return ids


def export_onnx(module, example, path, input_name, dynamic, opset):
    # The TorchScript-based exporter on every torch, so each version writes the same graph:
    # torch >= 2.9 defaults to the dynamo exporter, which older ones lack.
    has_dynamo = "dynamo" in inspect.signature(torch.onnx.export).parameters
    legacy = {"dynamo": False} if has_dynamo else {}
    torch.onnx.export(
        module, (example,), path,
        input_names=[input_name], output_names=["embeddings"],
        dynamic_axes={input_name: dynamic, "embeddings": {0: "batch"}},
        opset_version=opset, do_constant_folding=True, **legacy)


def check_onnx(path, input_name, rank, elem_type):
    import onnx  # imported here so the model code needs only torch
    m = onnx.load(path, load_external_data=False)
    onnx.checker.check_model(m)
    g = m.graph
    ins = [i for i in g.input if i.name not in {t.name for t in g.initializer}]
    if [i.name for i in ins] != [input_name] or [o.name for o in g.output] != ["embeddings"]:
        raise RuntimeError(f"{path}: unexpected graph inputs/outputs "
                           f"{[i.name for i in ins]} -> {[o.name for o in g.output]}")
    t = ins[0].type.tensor_type
    if t.elem_type != elem_type or len(t.shape.dim) != rank:
        raise RuntimeError(f"{path}: unexpected input type {t}")
    if any(init.data_location == onnx.TensorProto.EXTERNAL for init in g.initializer):
        raise RuntimeError(f"{path}: has external data; expected a single file")
    return m


def export_all(model, out_dir, opset=17, log=print):
    os.makedirs(out_dir, exist_ok=True)
    import onnx
    written = []
    tc, vc = model.text.config, model.visual.config
    text_path = os.path.join(out_dir, TEXT_FILE)
    t0 = time.time()
    export_onnx(model.text, example_text_input(tc), text_path, "input_ids",
                {0: "batch", 1: "sequence"}, opset)
    check_onnx(text_path, "input_ids", 2, onnx.TensorProto.INT64)
    written.append((text_path, time.time() - t0, sum(p.numel() for p in model.text.parameters())))

    vision_path = os.path.join(out_dir, VISION_FILE)
    t0 = time.time()
    example = torch.randn(2, vc.channels, vc.image_size, vc.image_size,
                          generator=torch.Generator().manual_seed(0))
    export_onnx(model.visual, example, vision_path, "pixel_values", {0: "batch"}, opset)
    check_onnx(vision_path, "pixel_values", 4, onnx.TensorProto.FLOAT)
    written.append((vision_path, time.time() - t0, sum(p.numel() for p in model.visual.parameters())))
    for path, secs, params in written:
        size = os.path.getsize(path)
        log(f"wrote {path}: {size / 1e6:.1f} MB ({size} bytes), {params / 1e6:.2f}M parameters, "
            f"{secs:.1f} s")
    return [p for p, _, _ in written]


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Export BiomedCLIP's text and vision towers to FP32 ONNX "
                    f"({TEXT_FILE}, {VISION_FILE}).")
    ap.add_argument("--out-dir", required=True, help="folder for the two .onnx files")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="open_clip state dict (open_clip_pytorch_model.bin)")
    src.add_argument("--random-init", action="store_true",
                     help="random weights (no checkpoint), see --seed")
    ap.add_argument("--seed", type=int, help="seed for --random-init (default 0)")
    ap.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    ap.add_argument("--size", choices=sorted(SIZES), default="full",
                    help="full: the real BiomedCLIP dims (default); tiny: same structure, "
                         "small dims for tests")
    args = ap.parse_args(argv)
    prog = os.path.basename(sys.argv[0])
    if args.checkpoint and args.seed is not None:
        ap.error("--seed applies only with --random-init")
    if args.seed is None:
        args.seed = 0

    torch.set_grad_enabled(False)
    t0 = time.time()
    model = build_model(args.size)
    try:
        if args.checkpoint:
            load_checkpoint(model, args.checkpoint, args.size)
            print(f"loaded {args.checkpoint} ({len(model.state_dict())} tensors, all names and "
                  f"shapes checked)")
        else:
            random_init(model, args.seed)
            print(f"random init, size {args.size}, seed {args.seed}")
    except CheckpointError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    export_all(model, args.out_dir, args.opset)
    print(f"done in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
