#!/usr/bin/env python3
"""PyTorch peer for ortrl's DPO and GRPO step benchmarks (bench/llama-worker.ts modes `dpo` and `grpo`).

Same model as llama_bench.py (plain-PyTorch Llama, fp32, random init, LoRA r 16 alpha 32 on all linear layers,
everything else frozen), written the way a careful TRL user's step runs, plus the cheap wins TRL leaves out:

- dpo: one preference pair, prompt P + chosen P and prompt P + rejected P tokens (P = seq / 2), as a batch of 2
  (TRL's concatenated forward); the LM head only on completion positions; a reference forward with the adapter
  disabled under inference_mode (PEFT's disable_adapter, TRL's default reference for PEFT models); sigmoid DPO loss
  (beta 0.1); backward; AdamW (foreach) on the adapters.
- grpo: 2 prompts of 64 tokens x 8 generations of 128 new tokens, sampled at temperature 1 with a preallocated KV
  cache (batch 16, inference_mode, adapter on); rewards from a trivial function; group-normalised advantages;
  reference per-token log-probs with the adapter disabled; policy forward + backward of TRL's GRPO loss (beta 0.04,
  one iteration so the ratio is exp(logp - logp.detach()), per-token k3 KL); AdamW on the adapters.

Prints ONE JSON line; seconds per phase are medians over the measured steps. Run with /usr/bin/python3.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from llama_bench import CONFIGS, Llama, load1, peak_rss_bytes


def completion_logps(model, ids, start):
    """log p(ids[:, t] | ids[:, :t]) for t >= start: [B, T - start] (LM head only from position start - 1)."""
    logits = model(ids[:, :-1], keep_from=start - 1)
    return torch.log_softmax(logits, -1).gather(-1, ids[:, start:, None]).squeeze(-1)


def dpo_step(model, opt, ids, P, beta=0.1):
    with torch.inference_mode():
        model.set_adapter_enabled(False)
        ref = completion_logps(model, ids, P).sum(-1)
        model.set_adapter_enabled(True)
    pol = completion_logps(model, ids, P).sum(-1)
    logits = beta * ((pol[0] - ref[0]) - (pol[1] - ref[1]))
    loss = -F.logsigmoid(logits)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()


def sample(model, prompts, new_tokens, gen):
    """Multinomial sampling at temperature 1 with a preallocated KV cache: [B, new_tokens] ids."""
    B, Tp = prompts.shape
    c = model.c
    S = Tp + new_tokens
    caches = [[torch.empty(B, c["num_key_value_heads"], S, c["head_dim"]) for _ in range(2)] for _ in range(c["num_hidden_layers"])]
    out = []
    logits = model(prompts, caches, 0, last_only=True)[:, -1]
    for t in range(new_tokens):
        tok = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)
        out.append(tok)
        if t + 1 < new_tokens:
            logits = model(tok, caches, Tp + t)[:, -1]
    return torch.cat(out, 1)


def grpo_step(model, opt, prompts, G, new_tokens, gen, beta=0.04):
    t = {}
    t0 = time.perf_counter()
    rows = prompts.repeat_interleave(G, 0)
    with torch.inference_mode():
        completions = sample(model, rows, new_tokens, gen)
    t["generation"] = time.perf_counter() - t0
    ids = torch.cat([rows, completions], 1).clone()  # out of inference mode for autograd
    Tp = rows.shape[1]
    t0 = time.perf_counter()
    rewards = torch.tensor([float((i * 7919) % 3) for i in range(ids.shape[0])])
    g = rewards.view(-1, G)
    adv = ((g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + 1e-4)).view(-1)
    t["reward"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with torch.inference_mode():
        model.set_adapter_enabled(False)
        ref = completion_logps(model, ids, Tp)
        model.set_adapter_enabled(True)
    ref = ref.clone()
    t["reference"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    logp = completion_logps(model, ids, Tp)
    ratio = torch.exp(logp - logp.detach())
    kl = torch.exp(ref - logp) - (ref - logp) - 1
    per_token = -(ratio * adv[:, None]) + beta * kl
    loss = per_token.mean(-1).mean()
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    t["update"] = time.perf_counter() - t0
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["dpo", "grpo"], required=True)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="smollm2-135m")
    ap.add_argument("--seq", type=int, default=512, help="dpo: prompt + completion tokens per sequence")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    c = CONFIGS[a.config]
    model = Llama(c, 16, 32)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.0, foreach=True)
    V = c["vocab_size"]
    out = {"impl": "pytorch", "torch": torch.__version__, "mode": a.mode, "config": a.config, "threads": a.threads,
           "loadavg_start": load1()}
    times = []
    if a.mode == "dpo":
        P = a.seq // 2
        prompt = torch.randint(3, V, (1, P))
        ids = torch.cat([prompt.repeat(2, 1), torch.randint(3, V, (2, P))], 1)
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            dpo_step(model, opt, ids, P)
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
        out.update(prompt_tokens=P, completion_tokens=P, sequences=2, tokens_per_second=2 * a.seq / statistics.median(times))
    else:
        G, new_tokens = 8, 128
        prompts = torch.randint(3, V, (2, 64))
        gen = torch.Generator().manual_seed(a.seed)
        phases = {k: [] for k in ("generation", "reward", "reference", "update")}
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            t = grpo_step(model, opt, prompts, G, new_tokens, gen)
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
                for k, v in t.items():
                    phases[k].append(v)
        med = {k: statistics.median(v) for k, v in phases.items()}
        out.update(prompts=2, num_generations=G, new_tokens=new_tokens,
                   generation_seconds=med["generation"], reward_seconds=med["reward"],
                   reference_seconds=med["reference"], policy_update_seconds=med["update"],
                   generation_tokens_per_second=2 * G * new_tokens / med["generation"],
                   tokens_per_second=2 * G * new_tokens / statistics.median(times))
    out["seconds_per_step_median"] = statistics.median(times)
    out["seconds_per_step_all"] = [round(x, 3) for x in times]
    out["loadavg_end"] = load1()
    out["peak_rss_bytes"] = peak_rss_bytes()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
