"""The adaptive head is torch's adaptive softmax computed densely: same numbers, one normalised
distribution, frequent tokens chosen from the training text, saved and sampled like any model."""

import json

import numpy as np
import pytest
import torch

import tinylm
from tinylm.core.models import GPT, ModelConfig, lm_loss
from tinylm.core.models.config import HEAD_KINDS as HEADS
from tinylm.core.models.heads import AdaptiveHead
from tinylm.core.optim import make_optimizer
from tinylm.core.schedule import TrainConfig
from tinylm.core.spec import RunSpec, resolve

ADAPTIVE = dict(vocab_size=300, context=16, width=32, layers=1, heads=2, head="adaptive",
                head_shortlist=50, head_tail_width=8)


def test_matches_torch_adaptive_softmax():
    torch.manual_seed(0)
    head = AdaptiveHead(32, 300, shortlist=50, tail_width=8)
    ref = torch.nn.AdaptiveLogSoftmaxWithLoss(32, 300, cutoffs=[50], div_value=4.0)
    with torch.no_grad():  # torch's module assumes ids in frequency order: rank = identity
        ref.head.weight.copy_(head.short.weight)
        ref.tail[0][0].weight.copy_(head.tail_down.weight)
        ref.tail[0][1].weight.copy_(head.tail_up.weight)
    x, y = torch.randn(40, 32), torch.randint(0, 300, (40,))
    y[:5] = torch.arange(45, 50)  # both sides of the cutoff
    y[5:10] = torch.arange(50, 55)
    assert torch.allclose(head(x), ref.log_prob(x), atol=1e-5)
    assert torch.allclose(head.nll(x, y), ref(x, y).loss, atol=1e-5)


def test_a_normalised_distribution_in_any_token_order():
    torch.manual_seed(1)
    model = GPT(ModelConfig(**ADAPTIVE))
    model.head.set_order(torch.rand(300))
    x, y = torch.randint(0, 300, (3, 16)), torch.randint(0, 300, (3, 16))
    log_probs = model(x)
    assert log_probs.shape == (3, 16, 300)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 16), atol=1e-5)
    loss = model(x, y)  # the training path, which never builds log_probs
    assert torch.allclose(loss, lm_loss(log_probs, y), atol=1e-5)
    assert torch.allclose(model.nll(x, y), loss * y.numel(), rtol=1e-5)


def test_set_order_puts_the_most_frequent_tokens_in_the_shortlist():
    head = AdaptiveHead(8, 6, shortlist=2, tail_width=4)
    head.set_order(np.array([0, 5, 1, 9, 0, 3]))
    assert head.rank.tolist() == [4, 1, 3, 0, 5, 2]  # token 3 first, ties in id order
    assert set(torch.nonzero(head.rank < 2).flatten().tolist()) == {1, 3}


def test_fewer_parameters_and_flops_than_the_full_head():
    full = tinylm.core.models.param_count(ModelConfig(head="full"))
    adaptive = tinylm.core.models.param_count(ModelConfig(head="adaptive"))
    # 4096 x 96 -> 1025 x 96 + 24 x 96 + 3072 x 24
    assert full - adaptive == 4096 * 96 - (1025 * 96 + 24 * 96 + 3072 * 24)
    flops = {h: tinylm.core.models.train_flops_per_token(ModelConfig(head=h)) for h in HEADS}
    assert flops["full"] - flops["adaptive"] == 6 * (full - adaptive)  # 6 per weight per token


def test_its_matrices_are_trained_as_tables_by_adamw():
    model = GPT(ModelConfig(**ADAPTIVE))
    opt = make_optimizer(model, tinylm.TrainConfig())
    muon, adamw = opt.optimizers
    head = {id(p) for p in model.head.parameters()}
    assert not head & {id(p) for g in muon.param_groups for p in g["params"]}
    assert head <= {id(p) for g in adamw.param_groups for p in g["params"]}


@pytest.mark.parametrize("changes,message", [
    (dict(tie_embeddings=True), "tie_embeddings=True needs head='full'"),
    (dict(head_tail_width=0), "head_tail_width must be a positive integer"),
])
def test_bad_settings_name_the_fix(changes, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**{**ADAPTIVE, **changes}).validate()


def test_a_small_vocabulary_keeps_a_tail():
    assert ModelConfig(vocab_size=512).shortlist == 128  # a quarter, not the default 1024
    assert ModelConfig(vocab_size=8192).shortlist == 1024
    model = GPT(ModelConfig(**{**ADAPTIVE, "head_shortlist": 1024}))
    assert model.head.shortlist == 75 and model.head.tail_up.out_features == 225


def test_other_families_keep_a_full_head():
    for family in ("lstm", "mdlm"):
        model = tinylm.core.models.build_model(ModelConfig(**{**ADAPTIVE, "family": family}))
        assert isinstance(model.head, torch.nn.Linear)


def test_trains_saves_and_samples(small_data, fast_cfg, tmp_path):
    cfg = ModelConfig(vocab_size=small_data.vocab_size, context=64, width=32, layers=2, heads=2,
                      head="adaptive", head_shortlist=128, head_tail_width=8)
    result = tinylm.train(small_data, cfg, fast_cfg(steps=40), out_dir=tmp_path / "run",
                          progress=False)
    counts = np.bincount(small_data.train, minlength=small_data.vocab_size)
    rank = result.model.head.rank
    assert rank[int(counts.argmax())] == 0  # the training text's most frequent token first
    assert result.metrics["val_loss"] < np.log(small_data.vocab_size) - 0.5  # beats uniform
    loaded = tinylm.load(tmp_path / "run")
    assert torch.equal(loaded.model.head.rank, rank)
    text = tinylm.generate(loaded.model, loaded.tokenizer, "Once upon a time",
                           max_new_tokens=10, seed=0)
    assert text.startswith("Once upon a time") and len(text) > len("Once upon a time")


def head_for(cfg: ModelConfig, device: str, dtype: str) -> str:
    """The head `resolve` gives `cfg` for a run on `device` computing in `dtype`."""
    train = TrainConfig(device=device, dtype=dtype, compile="off")
    return resolve(RunSpec(model=cfg, train=train)).spec.model.head


@pytest.mark.parametrize("device,dtype,expected", [
    ("cpu", "float32", "adaptive"),  # fp32 matmuls are the cost: the adaptive head wins
    ("cpu", "bfloat16", "full"),  # native bf16 makes the full head cheap
    ("cuda", "bfloat16", "full"),
    ("mps", "float32", "full"),  # an accelerator: unmeasured, the plain head
])
def test_auto_head_follows_the_device(monkeypatch, device, dtype, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # every device exists here
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert ModelConfig().head == "auto"
    assert head_for(ModelConfig(), device, dtype) == expected
    assert head_for(ModelConfig(tie_embeddings=True), "cpu", "float32") == "full"
    for head in ("full", "adaptive"):  # asked for explicitly: kept
        assert head_for(ModelConfig(head=head), device, dtype) == head


@pytest.mark.parametrize("fast_bf16,expected", [(False, "adaptive"), (True, "full")])
def test_a_model_built_directly_decides_for_this_cpu(monkeypatch, fast_bf16, expected):
    monkeypatch.setattr("tinylm.machine.device.cpu_has_fast_bf16", lambda: fast_bf16)
    model = GPT(ModelConfig(**{**ADAPTIVE, "head": "auto"}))
    assert model.cfg.head == expected
    assert isinstance(model.head, AdaptiveHead) == (expected == "adaptive")


@pytest.mark.parametrize("dtype,expected", [("float32", "adaptive"), ("bfloat16", "full")])
def test_the_trainer_decides_the_head_for_its_dtype(small_data, fast_cfg, tmp_path, dtype,
                                                    expected):
    cfg = ModelConfig(vocab_size=small_data.vocab_size, context=64, width=32, layers=1, heads=2)
    result = tinylm.train(small_data, cfg, fast_cfg(steps=3, dtype=dtype), progress=False,
                          out_dir=tmp_path / "run")
    assert result.model.cfg.head == result.metrics["head"] == expected
    assert tinylm.load(tmp_path / "run").model.cfg.head == expected  # saved decided


def test_a_checkpoint_from_before_the_head_setting_loads_with_the_full_head(small_data, fast_cfg,
                                                                            tmp_path):
    cfg = ModelConfig(vocab_size=small_data.vocab_size, context=64, width=32, layers=1, heads=2,
                      head="full", smear=False, value_embeds=False)  # a model of those days
    tinylm.train(small_data, cfg, fast_cfg(steps=2), out_dir=tmp_path / "old", progress=False)
    index_file = tmp_path / "old" / "checkpoint.json"
    index = json.loads(index_file.read_text())
    for key in ("head", "head_shortlist", "head_tail_width", "smear", "doc_mask",
                "value_embeds"):
        del index["model_config"][key]  # as a checkpoint written before these settings existed
    index_file.write_text(json.dumps(index))
    assert tinylm.load(tmp_path / "old").model.cfg.head == "full"
