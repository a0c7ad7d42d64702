"""The LSTM and the masked diffusion model share the trainer, evaluation and sampling."""

import math

import pytest
import torch
from fast import FAST_TRAIN

import tinylm
from tinylm.core.models import MaskedDiffusionLM, ModelConfig, build_model
from tinylm.core.schedule import TrainConfig
from tinylm.runs.train import train


def quick(**kw):
    return TrainConfig(**{**FAST_TRAIN, "budget_s": 5.0, "final_eval_tokens": 4096, **kw})


@pytest.mark.parametrize("family", ["lstm", "mdlm"])
def test_family_trains_and_loss_falls(small_data, family, tmp_path):
    cfg = ModelConfig(family=family, vocab_size=small_data.vocab_size, context=64, width=32,
                      layers=2, heads=2)
    # a fixed number of steps, not seconds: the same work on a fast or a busy machine (the
    # diffusion loss of single batches is too noisy to compare first and last logged values)
    result = train(small_data, cfg, quick(steps=150, budget_s=120), out_dir=tmp_path / family,
                   progress=False)
    assert result.metrics["steps"] == 150
    # an untrained model predicts about uniformly: ln(vocab) nats per token, for both families
    assert result.metrics["val_loss"] < math.log(small_data.vocab_size) - 0.8
    loaded = tinylm.load(tmp_path / family)
    assert type(loaded.model) is type(result.model)
    text = tinylm.generate(loaded.model, loaded.tokenizer, "Once", max_new_tokens=20, seed=1)
    assert text.startswith("Once") and len(text) > 4


def test_uniform_diffusion_model_bound_is_exactly_ln_vocab():
    cfg = ModelConfig(family="mdlm", vocab_size=300, context=16, width=16, layers=1, heads=2)
    model = MaskedDiffusionLM(cfg)
    torch.nn.init.zeros_(model.head.weight)  # predicts every token with probability 1/300
    y = torch.randint(0, 300, (4, 16))
    nats = model.nll(y, y)
    assert float(nats) / y.numel() == pytest.approx(math.log(300), rel=1e-6)


def test_diffusion_sampling_is_seeded_and_has_the_requested_length():
    torch.manual_seed(0)
    model = build_model(ModelConfig(family="mdlm", vocab_size=300, context=40, width=16,
                                    layers=1, heads=2))
    a = model.unmask([1, 2, 3], length=30, steps=7, seed=5)
    b = model.unmask([1, 2, 3], length=30, steps=7, seed=5)
    c = model.unmask([1, 2, 3], length=30, steps=7, seed=6)
    assert a == b and a != c and len(a) == 30
    assert model.mask_id not in a
    with pytest.raises(ValueError, match="more than the context"):
        model.unmask([1, 2, 3], length=40)
