"""Golden values for the ORPO plugin, computed independently of ortrl.

ORPO (Hong, Lee, Thorne 2024, arXiv 2403.07691) written from the paper's equations, in float64:

    P(y|x)   = exp( (1/|y|) * sum_t log pi(y_t | x, y_<t) )              (sec. 4.1, length-normalised likelihood)
    odds(y|x) = P(y|x) / (1 - P(y|x))                                     (sec. 4.1)
    OR        = odds(y_w|x) / odds(y_l|x)                                 (sec. 4.1)
    L_OR      = -log sigmoid(log OR)                                      (eq. 7)
    L_SFT     = -(1/|y_w|) * sum_t log pi(y_w,t | x, y_w,<t)              (the chosen completion's token-mean NLL)
    L         = E[ L_SFT + lambda * L_OR ]                                (eq. 6; lambda is TRL's `beta`)

The odds are formed literally as P / (1 - P) (no log1p trick), so this checks ortrl's stable
log(1 - P) rather than repeating it. Each sequence prompt + completion is its own forward pass (batch of
one, no padding, no shared prompt), so it is also independent of ortrl's branched rows.

Model: ../shared/fixtures/tiny-llama (base + its PEFT adapter, scaling 2), run with the shared PyTorch
Llama reference (../shared/reference/ref_llama.py). Metrics follow TRL's ORPOTrainer definitions:
rewards/chosen = beta * logps/chosen (per-token average log-probs), accuracies = chosen > rejected,
margins = their difference, nll_loss = L_SFT, log_odds_ratio = mean log sigmoid(log OR),
log_odds_chosen = mean log OR, logits/* = mean raw logit over the vocabulary at the positions that
predict the completion's tokens.

Usage: /usr/bin/python3 examples/plugin-orpo/scripts/orpo_reference.py [SHARED_DIR]
Writes examples/plugin-orpo/test-fixtures/orpo-expected.json and orpo-grads.safetensors.
"""
import json, os, sys
import torch

torch.set_num_threads(2)
HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../../../shared")
sys.path.insert(0, os.path.join(SHARED, "reference"))
import ref_llama  # noqa: E402
import st_io  # noqa: E402

FIX = os.path.join(SHARED, "fixtures/tiny-llama")
OUT = os.path.join(HERE, "../test-fixtures")
DT = torch.float64
BETA = 0.1
BETA_ALT = 0.5

cfg = json.load(open(os.path.join(FIX, "model/config.json")))
P = {k: v.to(DT) for k, v in st_io.load(os.path.join(FIX, "model/model.safetensors")).items()}
acfg = json.load(open(os.path.join(FIX, "adapter/adapter_config.json")))
scale = acfg["lora_alpha"] / acfg["r"]
raw = st_io.load(os.path.join(FIX, "adapter/adapter_model.safetensors"))
PREFIX = "base_model.model."
leaves = {k[len(PREFIX):]: v.to(DT).clone().requires_grad_(True) for k, v in raw.items()}
lora = {}
for name in leaves:
    if name.endswith(".lora_A.weight"):
        mod = name[: -len(".lora_A.weight")]
        lora[mod] = (leaves[name], leaves[mod + ".lora_B.weight"], scale)

# Three pairs of different lengths (BOS = 1 first), so a batch of them is padded and masked.
g = torch.Generator().manual_seed(20240312)
def ids(n):
    return torch.randint(3, cfg["vocab_size"], (n,), generator=g).tolist()
pairs = [
    {"prompt": [1] + ids(4), "chosen": ids(6), "rejected": ids(4)},
    {"prompt": [1] + ids(2), "chosen": ids(3), "rejected": ids(7)},
    {"prompt": [1] + ids(6), "chosen": ids(5), "rejected": ids(5)},
]

def completion(prompt, comp):
    """Per-token log-probs [|y|] and the sum of raw vocabulary logits at the predicting positions."""
    seq = torch.tensor([prompt + comp])
    logits = ref_llama.forward(P, cfg, seq, lora=lora)[0]  # [T, V]
    pos = torch.arange(len(prompt) - 1, len(prompt) + len(comp) - 1)
    lp = torch.log_softmax(logits[pos], -1).gather(-1, torch.tensor(comp)[:, None])[:, 0]
    return lp, logits[pos].sum()

def orpo_terms(avg_c, avg_r):
    """Eq. 4-7 literally: odds = P / (1 - P), log OR, L_OR."""
    pc, pr = torch.exp(avg_c), torch.exp(avg_r)
    log_or = torch.log((pc / (1 - pc)) / (pr / (1 - pr)))
    l_or = -torch.log(torch.sigmoid(log_or))
    return log_or, l_or

rows = []
for p in pairs:
    lc, sc = completion(p["prompt"], p["chosen"])
    lr, sr = completion(p["prompt"], p["rejected"])
    avg_c, avg_r = lc.mean(), lr.mean()
    log_or, l_or = orpo_terms(avg_c, avg_r)
    rows.append(dict(avg_c=avg_c, avg_r=avg_r, log_or=log_or, l_or=l_or, nll=-avg_c, logit_sum_c=sc, logit_sum_r=sr, n_c=len(p["chosen"]), n_r=len(p["rejected"])))

def mean(k):
    return torch.stack([r[k] for r in rows]).mean()

def loss_for(beta):
    return torch.stack([r["nll"] + beta * r["l_or"] for r in rows]).mean()

loss = loss_for(BETA)
grads = torch.autograd.grad(loss, list(leaves.values()))
V = cfg["vocab_size"]
rc = torch.stack([BETA * r["avg_c"] for r in rows])
rr = torch.stack([BETA * r["avg_r"] for r in rows])
f = lambda t: float(t.detach())
expected = {
    "beta": BETA,
    "beta_alt": BETA_ALT,
    "pairs": pairs,
    "per_pair": [{k: (f(v) if torch.is_tensor(v) else v) for k, v in r.items()} for r in rows],
    "loss": f(loss),
    "loss_beta_alt": f(loss_for(BETA_ALT)),
    "metrics": {
        "rewards/chosen": f(rc.mean()),
        "rewards/rejected": f(rr.mean()),
        "rewards/accuracies": f((rc > rr).to(DT).mean()),
        "rewards/margins": f((rc - rr).mean()),
        "logps/chosen": f(mean("avg_c")),
        "logps/rejected": f(mean("avg_r")),
        "logits/chosen": f(sum(r["logit_sum_c"] for r in rows) / (sum(r["n_c"] for r in rows) * V)),
        "logits/rejected": f(sum(r["logit_sum_r"] for r in rows) / (sum(r["n_r"] for r in rows) * V)),
        "nll_loss": f(mean("nll")),
        "log_odds_ratio": f(torch.stack([torch.log(torch.sigmoid(r["log_or"])) for r in rows]).mean()),
        "log_odds_chosen": f(mean("log_or")),
    },
    "grad_global_norm": f(torch.sqrt(sum((x * x).sum() for x in grads))),
}

# The loss on given average log-probs, up to P -> 1 (logp -> 0): values and d(sum of per-pair losses)/d logp.
avg_c = torch.tensor([-1e-9, -1e-6, -0.01, -0.2, -0.3, -5.0, -0.7], dtype=DT, requires_grad=True)
avg_r = torch.tensor([-2.0, -1e-5, -0.02, -0.25, -0.1, -40.0, -0.69], dtype=DT, requires_grad=True)
log_or, l_or = orpo_terms(avg_c, avg_r)
per = -avg_c + BETA * l_or
gc, gr = torch.autograd.grad(per.sum(), [avg_c, avg_r])
expected["logps_case"] = {
    "chosen": avg_c.tolist(), "rejected": avg_r.tolist(), "beta": BETA,
    "log_odds": log_or.tolist(), "losses": per.tolist(), "grad_chosen": gc.tolist(), "grad_rejected": gr.tolist(),
}

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "orpo-expected.json"), "w") as fh:
    json.dump(expected, fh, indent=1)
    fh.write("\n")
st_io.save(os.path.join(OUT, "orpo-grads.safetensors"), {f"orpo_grad.{n}": gr_.to(torch.float32) for n, gr_ in zip(leaves, grads)})
print(json.dumps({"loss": expected["loss"], **expected["metrics"]}, indent=1))
