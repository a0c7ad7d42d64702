"""Golden outputs, as in llama2.c: small models of every family and flavour, built from a fixed
seed, must give the logits and losses stored in tests/golden/outputs.json. A refactor that
changes the numbers (initialization, layer order, a norm's epsilon) fails here even when every
behavioural test still passes. Each config names every field, so moving a default changes
nothing here. If a change of the numbers is intended, regenerate the golden files (this one and
the trained run's run.json of test_golden_run.py) and commit them:

    python tests/regenerate_golden.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

GOLDEN = Path(__file__).resolve().parent / "golden" / "outputs.json"
BASE = dict(vocab_size=300, context=16, width=32, layers=2, heads=2, mlp="gelu", mlp_ratio=4.0,
            norm="layernorm", positions="rotary", tie_embeddings=False, qk_norm=False,
            dropout=0.0, logit_softcap=0.0, zero_init_proj=False, head="full",
            head_shortlist=64, head_tail_width=8, smear=False,
            doc_mask=False, value_embeds=False)
CASES = {
    "gpt-default": dict(family="gpt"),
    "gpt2-style": dict(family="gpt", positions="learned", tie_embeddings=True),
    "gpt-swiglu-rmsnorm-qknorm-softcap": dict(family="gpt", mlp="swiglu", norm="rmsnorm",
                                              qk_norm=True, logit_softcap=15.0),
    "gpt-adaptive-head": dict(family="gpt", head="adaptive"),
    "gpt-smear": dict(family="gpt", smear=True),
    "gpt-doc-mask-value-embeds": dict(family="gpt", doc_mask=True, value_embeds=True),
    "lstm": dict(family="lstm", layers=1),
    "mdlm": dict(family="mdlm"),
}


def outputs(name: str) -> dict:
    """Logits (a slice and summary numbers) and the loss of case `name`, seeded, fp32."""
    from tinylm.core.models import ModelConfig, build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(**{**BASE, **CASES[name]})).eval()
    with torch.no_grad():  # the input-side extras start at zero (a no-op): give them values
        torch.manual_seed(2)
        for key, p in model.named_parameters():
            if key.startswith(("smear_", "value_embs")):
                p.normal_()
    tokens = (torch.arange(2 * BASE["context"]).view(2, -1) * 7) % BASE["vocab_size"]
    if CASES[name].get("doc_mask"):
        tokens[:, 8] = 0  # an end of text mid-window, so the mask acts
    with torch.no_grad():
        logits = model(tokens).float()
        torch.manual_seed(1)  # the diffusion loss draws its masking times
        loss = model(tokens, tokens) if name == "mdlm" else torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, BASE["vocab_size"]), tokens[:, 1:].reshape(-1))
    return {"logits_first": [round(v, 6) for v in logits[0, 0, :6].tolist()],
            "logits_last": [round(v, 6) for v in logits[1, -1, -6:].tolist()],
            "logits_sum": round(logits.sum().item(), 4),
            "logits_abs_mean": round(logits.abs().mean().item(), 6),
            "loss": round(float(loss), 6)}


@pytest.mark.parametrize("name", list(CASES))
def test_outputs_match_the_golden_file(name):
    expected = json.loads(GOLDEN.read_text())[name]
    got = outputs(name)
    for key in ("logits_first", "logits_last"):
        assert got[key] == pytest.approx(expected[key], abs=1e-4), key
    assert got["logits_sum"] == pytest.approx(expected["logits_sum"], abs=1e-2)
    assert got["logits_abs_mean"] == pytest.approx(expected["logits_abs_mean"], rel=1e-4)
    assert got["loss"] == pytest.approx(expected["loss"], abs=1e-4)


def write() -> Path:
    """Write every case's outputs to the golden file."""
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps({name: outputs(name) for name in CASES}, indent=1) + "\n")
    return GOLDEN


if __name__ == "__main__":
    sys.path.insert(0, str(GOLDEN.parents[2]))
    print(f"wrote {write()}")
