#!/usr/bin/env python3
"""PyTorch performance peer for ortrl's LLM benchmarks.

A self-contained plain-PyTorch Llama with Hugging Face LlamaForCausalLM semantics (RMSNorm, rotary with the
rotate_half convention, grouped-query attention with a causal mask, SwiGLU MLP, tied embeddings), float32, random
init, optional LoRA on all linear layers (q,k,v,o,gate,up,down) and a hand-written KV cache for greedy generation.
Math follows /work/shared/reference/ref_llama.py. Attention is the "eager" path (scores = QK^T/sqrt(D) + mask,
softmax, @V) since Debian's torch 1.13 has no scaled_dot_product_attention.

Run with Debian's interpreter (python3-torch + libopenblas0-openmp), not the pyenv one:
    /usr/bin/python3 bench/pytorch/llama_bench.py --mode train --config smollm2-135m --seq 512 --batch 1 \
        --threads 2 --steps 5 --warmup 1

Prints ONE JSON line on stdout.
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "smollm2-135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, head_dim=64, vocab_size=49152, rope_theta=100000.0,
                         rms_norm_eps=1e-5, tie_word_embeddings=True),
    "small": dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=8,
                  num_key_value_heads=4, head_dim=32, vocab_size=8192, rope_theta=10000.0,
                  rms_norm_eps=1e-5, tie_word_embeddings=True),
}
INIT_STD = 0.02  # HF initializer_range


class LoRALinear(nn.Module):
    """nn.Linear (no bias) with an optional LoRA branch: y = x W^T + (x A^T) B^T * alpha/r (PEFT layout/init)."""

    def __init__(self, in_f, out_f, r=0, alpha=0):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_f, in_f).normal_(0.0, INIT_STD))
        self.r = r
        self.enabled = True  # False: the base layer alone (a DPO/GRPO reference model; PEFT's disable_adapter)
        if r > 0:
            self.weight.requires_grad_(False)
            self.lora_A = nn.Parameter(torch.empty(r, in_f))
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # PEFT default
            self.lora_B = nn.Parameter(torch.zeros(out_f, r))
            self.scaling = alpha / r

    def forward(self, x):
        y = F.linear(x, self.weight)
        if self.r > 0 and self.enabled:
            y = y + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scaling
        return y


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    d = x.shape[-1] // 2
    return torch.cat([-x[..., d:], x[..., :d]], -1)


class Attention(nn.Module):
    def __init__(self, c, r, alpha):
        super().__init__()
        self.H, self.KV, self.D = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        hid = c["hidden_size"]
        self.q_proj = LoRALinear(hid, self.H * self.D, r, alpha)
        self.k_proj = LoRALinear(hid, self.KV * self.D, r, alpha)
        self.v_proj = LoRALinear(hid, self.KV * self.D, r, alpha)
        self.o_proj = LoRALinear(self.H * self.D, hid, r, alpha)

    def forward(self, x, cos, sin, mask, cache=None, past_len=0):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.H, self.D).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.KV, self.D).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.KV, self.D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:  # cache: preallocated [B, KV, S, D] keys and values, written in place
            cache[0][:, :, past_len:past_len + T] = k
            cache[1][:, :, past_len:past_len + T] = v
            k, v = cache[0][:, :, :past_len + T], cache[1][:, :, :past_len + T]
        rep = self.H // self.KV
        # Grouped-query attention without repeating K/V (HF's repeat_kv copies them rep times): the rep query
        # heads of a KV head are stacked along the row axis, [B, KV, rep*T, D] x [B, KV, D, S].
        qg = q.reshape(B, self.KV, rep * T, self.D)
        s = torch.matmul(qg, k.transpose(-1, -2)).mul_(1.0 / math.sqrt(self.D))
        if mask is not None:
            s = s.view(B, self.KV, rep, T, -1).masked_fill_(mask, torch.finfo(s.dtype).min).view(B, self.KV, rep * T, -1)
        a = torch.matmul(torch.softmax(s, -1), v)  # [B, KV, rep*T, D]
        return self.o_proj(a.view(B, self.H, T, self.D).transpose(1, 2).reshape(B, T, self.H * self.D))


class MLP(nn.Module):
    def __init__(self, c, r, alpha):
        super().__init__()
        hid, inter = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = LoRALinear(hid, inter, r, alpha)
        self.up_proj = LoRALinear(hid, inter, r, alpha)
        self.down_proj = LoRALinear(inter, hid, r, alpha)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c, r, alpha):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Attention(c, r, alpha)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = MLP(c, r, alpha)

    def forward(self, x, cos, sin, mask, cache=None, past_len=0):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache, past_len)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    """LlamaForCausalLM-shaped module (parameter names match HF's `model.*` minus the prefix)."""

    def __init__(self, c, lora_r=0, lora_alpha=0):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        nn.init.normal_(self.embed_tokens.weight, 0.0, INIT_STD)
        self.layers = nn.ModuleList([Layer(c, lora_r, lora_alpha) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        assert c["tie_word_embeddings"]
        D = c["head_dim"]
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
        self.register_buffer("inv_freq", inv, persistent=False)
        if lora_r > 0:  # PEFT: everything but the adapters is frozen
            for n, p in self.named_parameters():
                p.requires_grad_("lora_" in n)

    def rope(self, pos):  # pos: [T] -> cos/sin [1,1,T,D]
        fr = pos[:, None].float() * self.inv_freq[None]
        emb = torch.cat([fr, fr], -1)
        return emb.cos()[None, None], emb.sin()[None, None]

    def set_adapter_enabled(self, on):
        for m in self.modules():
            if isinstance(m, LoRALinear):
                m.enabled = on

    def forward(self, ids, caches=None, past_len=0, last_only=False, keep_from=None):
        """Logits [B, T, V]; last_only: of the last position; keep_from: of positions keep_from.. only."""
        B, T = ids.shape
        x = self.embed_tokens(ids)
        cos, sin = self.rope(torch.arange(past_len, past_len + T))
        # True = masked out. With a cache and T == 1 every past position is visible: no mask.
        mask = None
        if T > 1:
            mask = torch.ones(T, past_len + T, dtype=torch.bool).triu(past_len + 1)[None, None, None]
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask, None if caches is None else caches[i], past_len)
        x = self.norm(x)
        if last_only:
            x = x[:, -1:]
        elif keep_from is not None:
            x = x[:, keep_from:]
        return F.linear(x, self.embed_tokens.weight)  # tied lm_head


def causal_lm_loss(logits, ids):
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))


def peak_rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load1():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["forward", "train", "lora", "generate"], required=True)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="smollm2-135m")
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--batch", type=int, default=None, help="default 1 (generate: 4)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5, help="measured steps (generate: measured runs)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--lora-alpha", type=float, default=32)
    ap.add_argument("--prompt", type=int, default=32, help="generate: prompt tokens")
    ap.add_argument("--new-tokens", type=int, default=64, help="generate: new tokens")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--foreach", type=int, default=1, help="AdamW foreach implementation (1) or the per-tensor loop (0)")
    a = ap.parse_args()
    if a.batch is None:
        a.batch = 4 if a.mode == "generate" else 1

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    c = CONFIGS[a.config]
    lora = a.mode == "lora"
    model = Llama(c, a.lora_r if lora else 0, a.lora_alpha if lora else 0)
    V = c["vocab_size"]
    out = {"impl": "pytorch", "torch": torch.__version__, "mode": a.mode, "config": a.config,
           "seq": a.seq, "batch": a.batch, "threads": a.threads}
    times = []
    cpu = []  # per measured step: process CPU seconds / wall seconds (~threads when the cores are not contended)
    out["loadavg_start"] = load1()

    if a.mode in ("train", "lora"):
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=a.lr, foreach=a.foreach)
        ids = torch.randint(0, V, (a.batch, a.seq))
        losses = []
        for i in range(a.warmup + a.steps):
            t0, c0 = time.perf_counter(), time.process_time()
            loss = causal_lm_loss(model(ids), ids)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            dt = time.perf_counter() - t0
            losses.append(loss.item())
            if i >= a.warmup:
                times.append(dt)
                cpu.append((time.process_time() - c0) / dt)
        out["trainable_params"] = sum(p.numel() for p in params)
        out["loss_first"], out["loss_last"] = losses[0], losses[-1]
        tokens = a.batch * a.seq
    elif a.mode == "forward":
        model.eval()
        ids = torch.randint(0, V, (a.batch, a.seq))
        with torch.inference_mode():
            for i in range(a.warmup + a.steps):
                t0, c0 = time.perf_counter(), time.process_time()
                model(ids)
                dt = time.perf_counter() - t0
                if i >= a.warmup:
                    times.append(dt)
                    cpu.append((time.process_time() - c0) / dt)
        tokens = a.batch * a.seq
    else:  # generate: greedy, KV cache; prefill yields new token 1, then new_tokens-1 single-token decode steps
        model.eval()
        out["seq"] = a.prompt
        out.update(prompt_tokens=a.prompt, new_tokens=a.new_tokens)
        prompt = torch.randint(0, V, (a.batch, a.prompt))
        prefill_s, decode_s, total_s = [], [], []
        S = a.prompt + a.new_tokens
        with torch.inference_mode():
            for i in range(a.warmup + a.steps):
                caches = [[torch.empty(a.batch, c["num_key_value_heads"], S, c["head_dim"]) for _ in range(2)]
                          for _ in range(c["num_hidden_layers"])]
                c0 = time.process_time()
                t0 = time.perf_counter()
                logits = model(prompt, caches, 0, last_only=True)
                tok = logits[:, -1].argmax(-1, keepdim=True)
                gen = [tok]
                t1 = time.perf_counter()
                pos = a.prompt
                for _ in range(a.new_tokens - 1):
                    logits = model(tok, caches, pos)
                    tok = logits[:, -1].argmax(-1, keepdim=True)
                    gen.append(tok)
                    pos += 1
                t2 = time.perf_counter()
                assert torch.cat(gen, 1).shape == (a.batch, a.new_tokens)
                if i >= a.warmup:
                    prefill_s.append(t1 - t0)
                    decode_s.append(t2 - t1)
                    total_s.append(t2 - t0)
                    cpu.append((time.process_time() - c0) / (t2 - t0))
        pf, dc, tt = (statistics.median(x) for x in (prefill_s, decode_s, total_s))
        times = total_s
        decode_tokens = a.batch * (a.new_tokens - 1)
        # tokens_per_second: decode-phase rate, i.e. tokens produced by the single-token steps over their time
        # (the prefill's time and its one token per sequence excluded).
        out["tokens_per_second"] = decode_tokens / dc
        out["tokens_per_second_incl_prefill"] = a.batch * a.new_tokens / tt
        clean = [d for d, u in zip(decode_s, cpu) if u >= 0.9 * a.threads]
        out["tokens_per_second_clean"] = decode_tokens / statistics.median(clean) if clean else None
        out["clean_steps"] = len(clean)
        out["prefill_seconds_median"] = pf
        out["decode_seconds_median"] = dc
        out["ms_per_decode_step"] = dc / (a.new_tokens - 1) * 1000
        out["seconds_per_step_median"] = tt
        out["runs"] = len(total_s)
        out["decode_seconds_all"] = [round(x, 4) for x in decode_s]
        out["cpu_util_per_step"] = [round(x, 2) for x in cpu]
        out["loadavg_end"] = load1()
        out["peak_rss_bytes"] = peak_rss_bytes()
        print(json.dumps(out))
        return

    t = statistics.median(times)
    out["tokens_per_second"] = tokens / t
    out["seconds_per_step_median"] = t
    out["seconds_per_step_all"] = [round(x, 4) for x in times]
    out["tokens_per_second_best"] = tokens / min(times)
    clean = [t for t, u in zip(times, cpu) if u >= 0.9 * a.threads]
    # median over steps where this process got ~all its threads' CPU (other load on the cores makes OpenMP
    # threads wait on each other, and a step can take 2-15x longer); null if no step was clean
    out["tokens_per_second_clean"] = tokens / statistics.median(clean) if clean else None
    out["clean_steps"] = len(clean)
    out["cpu_util_per_step"] = [round(x, 2) for x in cpu]
    out["steps"], out["warmup"] = a.steps, a.warmup
    out["loadavg_end"] = load1()
    out["peak_rss_bytes"] = peak_rss_bytes()
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
