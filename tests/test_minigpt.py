"""Chapter 2's GPT, written from scratch, computes what tinylm's `gpt2` model computes; the
check that tells a student otherwise names the part to fix."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from tinylm.course import minigpt
from tinylm.course.minigpt import Config, MiniGPT, load_from_tinylm, tinylm_gpt2, where_they_differ

SMALL = Config(vocab_size=300, context=16, width=32, layers=2, heads=4)


def _pair(cfg: Config = SMALL):
    reference = minigpt.spread_weights(tinylm_gpt2(**asdict(cfg)))
    student = MiniGPT(cfg)
    load_from_tinylm(student, reference)
    idx = torch.randint(0, cfg.vocab_size, (2, cfg.context), generator=torch.Generator().manual_seed(0))
    return student, reference, idx


def test_the_reference_solution_matches_tinylm_exactly():
    student, reference, idx = _pair()
    assert reference.cfg.positions == "learned" and reference.cfg.tie_embeddings
    with torch.no_grad():
        ours, theirs = student(idx), reference(idx)
    assert ours.shape == (2, SMALL.context, SMALL.vocab_size)
    assert torch.allclose(ours, theirs, atol=1e-5), float((ours - theirs).abs().max())
    assert sum(p.numel() for p in student.parameters()) == reference.num_params()
    assert where_they_differ(student, reference, idx).startswith("no part differs")
    assert student.head.weight is student.tok_emb.weight


def test_the_size_is_the_gpt2_recipes():
    size = minigpt.gpt2_size()
    assert set(size) == {"context", "width", "layers", "heads"}
    assert size["width"] % size["heads"] == 0


def test_a_model_that_does_not_fit_is_named_and_left_alone():
    reference = tinylm_gpt2(**asdict(SMALL))
    wide = MiniGPT(Config(**{**asdict(SMALL), "width": 48, "heads": 4}))
    before = wide.tok_emb.weight.clone()
    with pytest.raises(ValueError, match=r"'tok_emb.weight' has shape \[300, 48\].*\[300, 32\]"):
        load_from_tinylm(wide, reference)
    assert torch.equal(wide.tok_emb.weight, before)
    untied = MiniGPT(SMALL)
    untied.head.weight = torch.nn.Parameter(untied.head.weight.clone())
    with pytest.raises(ValueError, match="'head.weight'.*ties the head"):
        load_from_tinylm(untied, reference)
    short = MiniGPT(Config(**{**asdict(SMALL), "layers": 1}))
    with pytest.raises(ValueError, match="blocks.1.norm1.weight.*no counterpart in your model"):
        load_from_tinylm(short, reference)


def test_a_wrong_part_is_found(monkeypatch):
    student, reference, idx = _pair()

    def peeking(q, k, v):  # attention without the causal mask
        return (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(-1) @ v

    monkeypatch.setattr(minigpt, "causal_self_attention", peeking)
    message = where_they_differ(student, reference, idx)
    assert message.startswith("the first difference is in blocks.0.attn ("), message
    assert "causal_self_attention" in message
    monkeypatch.undo()
    mlp = student.blocks[1].mlp
    mlp.forward = lambda x: mlp.proj(torch.nn.functional.gelu(mlp.up(x)))  # exact, not tanh
    assert "blocks.1.mlp (" in where_they_differ(student, reference, idx)


def test_the_diagram_draws():
    from tinylm import notebook as nb

    fig = nb.gpt_diagram()
    assert fig._repr_png_().startswith(b"\x89PNG")
