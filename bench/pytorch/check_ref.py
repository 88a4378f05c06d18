#!/usr/bin/env python3
"""Checks llama_bench.Llama against /work/shared/reference/ref_llama.py (logits, LoRA, KV-cache decode)."""
import os, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, "/work/shared/reference")
import llama_bench as lb
import ref_llama as ref

torch.manual_seed(0)
c = lb.CONFIGS["small"]
for r in (0, 8):
    m = lb.Llama(c, r, 16).eval()
    P, L = {}, {}
    for n, p in m.named_parameters():
        if "lora_" in n:
            continue
        P["model." + n] = p.detach()
    if r:
        for n, mod in m.named_modules():
            if isinstance(mod, lb.LoRALinear):
                torch.nn.init.normal_(mod.lora_B, 0, 0.02)  # non-zero B so the branch matters
                L["model." + n] = (mod.lora_A.detach(), mod.lora_B.detach(), mod.scaling)
    ids = torch.randint(0, c["vocab_size"], (2, 40))
    with torch.no_grad():
        a = m(ids)
        b = ref.forward(P, c, ids, lora=L or None)
        print(f"r={r} max|logits - ref| = {(a - b).abs().max().item():.2e}")
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
        caches = [[torch.empty(2, c["num_key_value_heads"], 40, c["head_dim"]) for _ in range(2)] for _ in range(c["num_hidden_layers"])]
        out = [m(ids[:, :30], caches, 0)[:, -1]]
        for t in range(30, 40):
            out.append(m(ids[:, t:t + 1], caches, t)[:, -1])
        inc = torch.stack(out[:-1], 1)
        print(f"r={r} max|cached decode - full| = {(inc - a[:, 29:39]).abs().max().item():.2e}")
        assert torch.allclose(inc, a[:, 29:39], atol=1e-4, rtol=1e-4)
    # loss matches the reference ce_loss
    assert torch.allclose(lb.causal_lm_loss(a, ids), ref.ce_loss(b, ids), atol=1e-5)
print("ok")
