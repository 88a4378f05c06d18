#!/usr/bin/env python3
"""Golden fixtures for the Llama-family variants: Qwen2 (q/k/v biases), Llama attention_bias + mlp_bias,
Llama 3.1 ("llama3") rope scaling, and Mistral sliding-window attention.

Usage (from anywhere; run with the Debian python that has torch):
    /usr/bin/python3 scripts/golden/make_arch_fixtures.py [PATH/TO/shared/reference]

The reference directory defaults to ../shared/reference beside the repository root. Its ref_llama.py (plain
PyTorch, Hugging Face LlamaForCausalLM semantics) has no biases and no rope scaling; this script extends its
forward with both, following transformers:
  - LlamaAttention: q/k/v/o_proj use bias=config.attention_bias; LlamaMLP: gate/up/down_proj use bias=config.mlp_bias.
  - Qwen2Attention: q/k/v_proj bias=True, o_proj bias=False; Qwen2MLP has no biases.
  - modeling_rope_utils._compute_llama3_parameters for rope_scaling {"rope_type": "llama3", ...}.
  - MistralConfig.sliding_window (default 4096, null = off), every layer: masking_utils.sliding_window_overlay,
    query i sees key j iff j > i - sliding_window (on top of the causal and padding masks).
The extended forward is checked against ref_llama.forward on a bias-free, unscaled model.

Writes test/fixtures/arch/<name>/{config.json, model.safetensors, expected.safetensors, expected.json}:
  model.safetensors     seeded float32 weights (HF names)
  expected.safetensors  "logits" [B, T, V] (float64 computed, stored F32) and "grad.<param>" for every parameter
                        (gradient of the mean causal-LM loss over the label tokens)
  expected.json         the batch (input_ids, attention_mask, labels), lm.loss, lm.label_tokens,
                        lm.grad_global_norm, rope.inv_freq (float64) and, with llama3 scaling, rope.regimes; with a
                        sliding window also lm.loss_full_attention (the same batch without the window) and greedy.*
                        (greedy decoding, one full forward per token: prompt_ids, ids, min_top2_margin)
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # leave no __pycache__ in the shared reference folder

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
REF_DIR = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "..", "shared", "reference"))
sys.path.insert(0, REF_DIR)
import ref_llama  # noqa: E402
import st_io  # noqa: E402

OUT_DIR = os.path.join(REPO, "test", "fixtures", "arch")


# ----------------------------------------------------------------------------------------------------------------
# Rotary frequencies
# ----------------------------------------------------------------------------------------------------------------

def default_inv_freq(head_dim, theta):
    """theta^(-2i/D), float64, written as ref_llama.rope computes it."""
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))


def llama3_inv_freq(inv_freq, rope_scaling):
    """transformers' modeling_rope_utils._compute_llama3_parameters (attention_factor is 1.0), in float64."""
    factor = rope_scaling["factor"]
    low_freq_factor = rope_scaling["low_freq_factor"]
    high_freq_factor = rope_scaling["high_freq_factor"]
    old_context_len = rope_scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    # wavelen < high_freq_wavelen: unchanged; wavelen > low_freq_wavelen: divided by factor
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    # otherwise: interpolate between the two
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def llama3_regimes(inv_freq, rope_scaling):
    """'high' (unchanged), 'medium' (smoothed) or 'low' (divided by factor) for each default inverse frequency."""
    old = rope_scaling["original_max_position_embeddings"]
    low_wl, high_wl = old / rope_scaling["low_freq_factor"], old / rope_scaling["high_freq_factor"]
    out = []
    for f in inv_freq.tolist():
        wl = 2 * math.pi / f
        out.append("low" if wl > low_wl else "high" if wl < high_wl else "medium")
    return out


def model_inv_freq(cfg):
    D = head_dim(cfg)
    inv = default_inv_freq(D, cfg["rope_theta"])
    rs = cfg.get("rope_scaling")
    if rs:
        assert rs.get("rope_type", rs.get("type")) == "llama3"
        inv = llama3_inv_freq(inv, rs)
    return inv


def rope_with(q, pos, inv):
    """ref_llama.rope with the inverse frequencies given (q: [B,H,T,D], HF rotate_half convention)."""
    D = q.shape[-1]
    fr = pos[..., None].to(torch.float64) * inv  # [B,T,D/2]
    emb = torch.cat([fr, fr], -1)
    cos, sin = emb.cos()[:, None].to(q.dtype), emb.sin()[:, None].to(q.dtype)
    x1, x2 = q[..., : D // 2], q[..., D // 2:]
    return q * cos + torch.cat([-x2, x1], -1) * sin


# ----------------------------------------------------------------------------------------------------------------
# Extended forward (ref_llama.forward + biases + rope scaling)
# ----------------------------------------------------------------------------------------------------------------

def head_dim(cfg):
    # Qwen2 has no head_dim key; Llama/Mistral read it with default hidden_size // num_attention_heads.
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def bias_flags(cfg):
    """(q/k/v bias, o bias, mlp bias) as transformers builds the modules."""
    arch = cfg["architectures"][0]
    if arch == "Qwen2ForCausalLM":
        return True, False, False
    if arch == "LlamaForCausalLM":
        ab = bool(cfg.get("attention_bias", False))
        return ab, ab, bool(cfg.get("mlp_bias", False))
    if arch == "MistralForCausalLM":
        return False, False, False
    raise ValueError(arch)


def sliding_window(cfg):
    """The window transformers applies: MistralConfig.sliding_window (default 4096, None = off); none for the others."""
    if cfg["architectures"][0] == "MistralForCausalLM":
        return cfg.get("sliding_window", 4096)
    return None


def forward(P, cfg, ids, attention_mask=None, position_ids=None, use_window=True):
    """ref_llama.forward plus optional `<module>.bias` tensors on every linear, llama3 rope scaling and Mistral's
    sliding window (over sequence indices, as transformers' cache positions; use_window=False drops it)."""
    B, T = ids.shape
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = head_dim(cfg)
    eps = cfg["rms_norm_eps"]
    inv = model_inv_freq(cfg)
    if attention_mask is None:
        attention_mask = torch.ones(B, T, dtype=torch.long)
    if position_ids is None:
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)

    def lin(x, name):
        y = x @ P[name + ".weight"].T
        if name + ".bias" in P:
            y = y + P[name + ".bias"]
        return y

    x = P["model.embed_tokens.weight"][ids]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    mask = causal[None, None] & attention_mask.bool()[:, None, None, :]
    sw = sliding_window(cfg) if use_window else None
    if sw is not None:
        idx = torch.arange(T)
        mask = mask & (idx[None, :] > idx[:, None] - sw)[None, None]  # kv_idx > q_idx - sliding_window
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = ref_llama.rms_norm(x, P[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj").view(B, T, H, D).transpose(1, 2)
        k = lin(h, p + "self_attn.k_proj").view(B, T, KV, D).transpose(1, 2)
        v = lin(h, p + "self_attn.v_proj").view(B, T, KV, D).transpose(1, 2)
        q, k = rope_with(q, position_ids, inv), rope_with(k, position_ids, inv)
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(~mask, torch.finfo(s.dtype).min)
        a = torch.softmax(s, -1) @ v
        a = a.transpose(1, 2).reshape(B, T, H * D)
        x = x + lin(a, p + "self_attn.o_proj")
        h = ref_llama.rms_norm(x, P[p + "post_attention_layernorm.weight"], eps)
        x = x + lin(F.silu(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = ref_llama.rms_norm(x, P["model.norm.weight"], eps)
    W = P["lm_head.weight"] if "lm_head.weight" in P else P["model.embed_tokens.weight"]
    return x @ W.T


# ----------------------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------------------

def param_specs(cfg):
    """HF names and shapes, in ortrl's llamaParamSpecs order."""
    hid, inter, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    D = head_dim(cfg)
    q, kv = cfg["num_attention_heads"] * D, cfg["num_key_value_heads"] * D
    qkv_b, o_b, mlp_b = bias_flags(cfg)
    lins = [("self_attn.q_proj", q, hid, qkv_b), ("self_attn.k_proj", kv, hid, qkv_b), ("self_attn.v_proj", kv, hid, qkv_b),
            ("self_attn.o_proj", hid, q, o_b), ("mlp.gate_proj", inter, hid, mlp_b), ("mlp.up_proj", inter, hid, mlp_b),
            ("mlp.down_proj", hid, inter, mlp_b)]
    specs = [("model.embed_tokens.weight", [V, hid])]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        specs.append((p + "input_layernorm.weight", [hid]))
        for name, o, n_in, b in lins:
            specs.append((p + name + ".weight", [o, n_in]))
            if b:
                specs.append((p + name + ".bias", [o]))
        specs.append((p + "post_attention_layernorm.weight", [hid]))
    specs.append(("model.norm.weight", [hid]))
    if not cfg.get("tie_word_embeddings", False):
        specs.append(("lm_head.weight", [V, hid]))
    return specs


def init_params(cfg, seed):
    """Seeded float32 weights: N(0, 1/in) projections, N(0, 0.3) embeddings, 1 + N(0, 0.1) norms, N(0, 0.2) biases."""
    g = torch.Generator().manual_seed(seed)
    P = {}
    for name, shape in param_specs(cfg):
        if name.endswith("norm.weight"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif name.endswith(".bias"):
            t = 0.2 * torch.randn(shape, generator=g)
        elif name == "model.embed_tokens.weight":
            t = 0.3 * torch.randn(shape, generator=g)
        else:
            t = torch.randn(shape, generator=g) / math.sqrt(shape[1])
        P[name] = t.to(torch.float32).contiguous()
    return P


HID, INTER, VOCAB, LAYERS = 32, 32, 61, 2

MODELS = {
    "qwen2": {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "hidden_size": HID,
        "intermediate_size": INTER,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": VOCAB,
        "max_position_embeddings": 64,
        "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0,
        "rope_scaling": None,
        "tie_word_embeddings": False,
        "use_sliding_window": False,
        "sliding_window": None,
        "max_window_layers": LAYERS,
        "hidden_act": "silu",
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
    },
    # head_dim 16 (2 heads, 1 KV head): with rope_theta 500000 the default wavelengths are 2*pi, 32.4, 167, ...;
    # original_max_position_embeddings 64 with low/high_freq_factor 1/4 puts the band edges at 64 and 16, so the
    # first frequency is "high" (kept), the second "medium" (smoothed) and the rest "low" (divided by factor).
    # (With head_dim 8 the wavelengths jump from 2*pi to 167, so no original context gives all three regimes.)
    "llama-bias-rope3": {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": HID,
        "intermediate_size": INTER,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 16,
        "vocab_size": VOCAB,
        "max_position_embeddings": 128,
        "rms_norm_eps": 1e-05,
        "rope_theta": 500000.0,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 64},
        "attention_bias": True,
        "mlp_bias": True,
        "tie_word_embeddings": True,
        "hidden_act": "silu",
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
    },
    # sliding_window 4 < T = 10: queries past position 3 lose their earliest keys; the greedy decode (3 prompt + 9 new
    # tokens) runs past the window too, so ortrl's KV-cache path is checked against full forwards.
    "mistral-swa": {
        "architectures": ["MistralForCausalLM"],
        "model_type": "mistral",
        "hidden_size": HID,
        "intermediate_size": INTER,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 8,
        "vocab_size": VOCAB,
        "max_position_embeddings": 64,
        "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0,
        "sliding_window": 4,
        "tie_word_embeddings": False,
        "hidden_act": "silu",
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
    },
}

SEEDS = {"qwen2": 20240601, "llama-bias-rope3": 20240602, "mistral-swa": 20240603}
GREEDY_PROMPT, GREEDY_NEW = 3, 9


def greedy(P, cfg, prompt, n):
    """Greedy decoding with one full forward per new token (no cache); also the smallest top-2 logit margin."""
    ids = list(prompt)
    margin = math.inf
    for _ in range(n):
        logits = forward(P, cfg, torch.tensor([ids]))[0, -1]
        top = torch.topk(logits, 2).values
        margin = min(margin, float(top[0] - top[1]))
        ids.append(int(torch.argmax(logits)))
    return ids[len(prompt):], margin

B, T, LEN2, PROMPT = 2, 10, 7, 3  # row 2 has 7 real tokens then 3 pads; labels skip the first 3 positions


def make_batch(seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, LEN2:] = 0
    ids[mask == 0] = 0  # pad id 0 (ortrl's padBatch default)
    labels = ids.clone()
    labels[mask == 0] = -100
    labels[:, :PROMPT] = -100
    return ids, mask, labels


def check_extension_matches_reference():
    """On a bias-free, unscaled config the extended forward must equal ref_llama.forward."""
    cfg = dict(MODELS["qwen2"], architectures=["LlamaForCausalLM"], model_type="llama")
    P = {k: v.to(torch.float64) for k, v in init_params(cfg, 7).items()}
    ids, mask, _ = make_batch(7)
    a = forward(P, cfg, ids, mask)
    b = ref_llama.forward(P, cfg, ids, mask)
    assert torch.equal(a, b), (a - b).abs().max()


def build(name):
    cfg = MODELS[name]
    d = os.path.join(OUT_DIR, name)
    os.makedirs(d, exist_ok=True)
    P32 = init_params(cfg, SEEDS[name])
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    st_io.save(os.path.join(d, "model.safetensors"), P32, metadata={"format": "pt"})

    P = {k: v.to(torch.float64).requires_grad_(True) for k, v in P32.items()}
    ids, mask, labels = make_batch(SEEDS[name] + 1)
    logits = forward(P, cfg, ids, mask)
    loss = ref_llama.ce_loss(logits, labels)
    names = [n for n, _ in param_specs(cfg)]
    grads = torch.autograd.grad(loss, [P[n] for n in names])
    gnorm = math.sqrt(sum(float((g * g).sum()) for g in grads))
    label_tokens = int((labels[:, 1:] != -100).sum())

    inv = model_inv_freq(cfg).tolist()
    exp = {
        "architecture": cfg["architectures"][0],
        "batch.input_ids": ids.tolist(),
        "batch.attention_mask": mask.tolist(),
        "batch.labels": labels.tolist(),
        "lm.loss": float(loss),
        "lm.label_tokens": label_tokens,
        "lm.grad_global_norm": gnorm,
        "rope.head_dim": head_dim(cfg),
        "rope.theta": cfg["rope_theta"],
        "rope.inv_freq": inv,
    }
    if sliding_window(cfg) is not None:
        with torch.no_grad():
            full = forward(P, cfg, ids, mask, use_window=False)
            exp["lm.loss_full_attention"] = float(ref_llama.ce_loss(full, labels))
            assert abs(exp["lm.loss_full_attention"] - float(loss)) > 1e-3, "the window changes nothing on this batch"
            prompt = make_batch(SEEDS[name] + 2)[0][0, :GREEDY_PROMPT].tolist()
            out, margin = greedy(P, cfg, prompt, GREEDY_NEW)
            full_out, _ = greedy(P, dict(cfg, sliding_window=None), prompt, GREEDY_NEW)
        assert out != full_out, "greedy decoding is the same without the window"
        exp["greedy.prompt_ids"], exp["greedy.ids"], exp["greedy.min_top2_margin"] = prompt, out, margin
        print(f"{name}: sliding_window {sliding_window(cfg)}: loss {float(loss):.6f} vs {exp['lm.loss_full_attention']:.6f} "
              f"without; greedy {out} (min top-2 margin {margin:.4f}) vs {full_out} without")
    rs = cfg.get("rope_scaling")
    if rs:
        base = default_inv_freq(head_dim(cfg), cfg["rope_theta"])
        regimes = llama3_regimes(base, rs)
        exp["rope.default_inv_freq"] = base.tolist()
        exp["rope.regimes"] = regimes
        for r in ("high", "medium", "low"):
            assert r in regimes, f"{name}: no inverse frequency in the {r}-frequency regime: {regimes}"
        print(f"{name}: llama3 rope scaling (head_dim {head_dim(cfg)}, theta {cfg['rope_theta']}, {rs})")
        for i, (b0, f, r) in enumerate(zip(base.tolist(), inv, regimes)):
            print(f"  i={i}: wavelen {2 * math.pi / b0:12.3f}  inv_freq {b0:.6e} -> {f:.6e}  ({r})")
    with open(os.path.join(d, "expected.json"), "w") as f:  # one key per line, values compact
        f.write("{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in exp.items()) + "\n}\n")
    tensors = {"logits": logits.detach().to(torch.float32)}
    for n, g in zip(names, grads):
        tensors["grad." + n] = g.detach().to(torch.float32)
    st_io.save(os.path.join(d, "expected.safetensors"), tensors)
    print(f"{name}: loss {float(loss):.6f} over {label_tokens} label tokens, grad norm {gnorm:.6f}, {len(names)} parameters")


def main():
    torch.set_grad_enabled(True)
    check_extension_matches_reference()
    for name in MODELS:
        build(name)
    total = 0
    for root, _, files in os.walk(OUT_DIR):
        for fn in files:
            total += os.path.getsize(os.path.join(root, fn))
    print(f"wrote {OUT_DIR} ({total / 1024:.1f} KiB)")
    assert total < 480 * 1024, "fixtures too large"


if __name__ == "__main__":
    main()
