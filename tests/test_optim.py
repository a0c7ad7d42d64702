"""The batched Muon must be torch's Muon, only faster: same updates, same state."""

import pytest
import torch

from tinylm.core.models import GPT, ModelConfig
from tinylm.core.optim import BatchedMuon, make_optimizer
from tinylm.core.schedule import TrainConfig

SHAPES = [(48, 16), (16, 16), (16, 48), (48, 16), (16, 16), (24, 40)]  # tall, square, wide


def _run(cls, steps=4, **options):
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s) * 0.1) for s in SHAPES]
    opt = cls(params, lr=0.02, adjust_lr_fn="match_rms_adamw", **options)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen)
        opt.step()
    return params, opt


@pytest.mark.parametrize("options", [{}, {"nesterov": False, "weight_decay": 0.0},
                                     {"momentum": 0.5, "weight_decay": 0.3}])
def test_batched_muon_matches_torch_muon(options):
    ours, _ = _run(BatchedMuon, ns_dtype=torch.bfloat16, **options)  # torch's own precision
    theirs, _ = _run(torch.optim.Muon, **options)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
        assert not torch.equal(a, torch.zeros_like(a))


def test_newton_schulz_in_fp32_where_bf16_is_slow(monkeypatch):
    """Without native bf16 the update is computed in fp32: the same update to bf16 precision."""
    monkeypatch.setattr("tinylm.machine.device.cpu_has_fast_bf16", lambda: False)
    ours, opt = _run(BatchedMuon)
    assert opt.ns_dtype == torch.float32
    theirs, _ = _run(torch.optim.Muon)
    start = _run(BatchedMuon, steps=0)[0]
    for a, b, a0 in zip(ours, theirs, start, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=2e-3)
        assert (a - a0).abs().max() > 20 * (a - b).abs().max()  # differences << the update
    monkeypatch.setattr("tinylm.machine.device.cpu_has_fast_bf16", lambda: True)
    assert _run(BatchedMuon, steps=1)[1].ns_dtype == torch.bfloat16


def test_batched_muon_state_loads_into_torch_muon():
    ours, opt = _run(BatchedMuon, steps=2)
    state = opt.state_dict()
    fresh = torch.optim.Muon([torch.nn.Parameter(p.detach().clone()) for p in ours], lr=0.02)
    fresh.load_state_dict(state)
    buffers = [s["momentum_buffer"] for s in fresh.state.values()]
    assert len(buffers) == len(SHAPES)
    assert all(b.abs().sum() > 0 for b in buffers)


def test_default_optimizer_uses_batched_muon_for_hidden_matrices():
    model = GPT(ModelConfig(vocab_size=300, context=16, width=32, layers=2, heads=2, head="full"))
    opt = make_optimizer(model, TrainConfig())
    muon, adam = opt.optimizers
    assert isinstance(muon, BatchedMuon)
    hidden = {id(p) for g in muon.param_groups for p in g["params"]}
    assert id(model.blocks[0].attn.qkv.weight) in hidden
    assert id(model.tok_emb.weight) not in hidden and id(model.head.weight) not in hidden
    assert all(g["fused"] for g in adam.param_groups)


@pytest.mark.parametrize("optimizer", ["muon", "adamw"])
def test_every_parameter_is_in_exactly_one_group(optimizer):
    model = GPT(ModelConfig(vocab_size=300, context=16, width=32, layers=2, heads=2, head="full",
                            value_embeds=True))
    opt = make_optimizer(model, TrainConfig(optimizer=optimizer))
    scale = {id(p): g["lr_scale"] for g in opt.param_groups for p in g["params"]}
    assert len(scale) == sum(len(g["params"]) for g in opt.param_groups)  # none twice
    assert len(scale) == len(list(model.parameters()))  # none left out
    tables = [model.tok_emb.weight, *(t.weight for t in model.value_embs), model.head.weight]
    assert all(scale[id(t)] == 1.0 for t in tables)  # AdamW's rate
    assert scale[id(model.blocks[0].attn.qkv.weight)] == (
        TrainConfig.muon_lr_scale if optimizer == "muon" else 1.0)


def test_a_tied_table_is_one_input_table():
    model = GPT(ModelConfig(vocab_size=300, context=16, width=32, layers=2, heads=2, head="full",
                            tie_embeddings=True))
    opt = make_optimizer(model, TrainConfig(optimizer="adamw"))
    assert model.head.weight is model.tok_emb.weight
    assert len(opt.param_groups) == 3  # matrices, input tables, gains: no empty head group
    assert all(g["params"] for g in opt.param_groups)
    tables = [g for g in opt.param_groups if any(p is model.tok_emb.weight for p in g["params"])]
    assert len(tables) == 1 and tables[0]["weight_decay"] == TrainConfig.weight_decay
