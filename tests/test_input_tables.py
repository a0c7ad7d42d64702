"""Cheap input-side capacity: the smear gate and the value-embedding tables start as no-ops,
stay causal, are tables (AdamW) not matrices (Muon), cost no counted FLOPs, go on by the
budget (value tables), and train and save."""

import numpy as np
import pytest
import torch
from fast import TINY_MODEL

import tinylm
from tinylm.core.models import GPT, ModelConfig, param_count, train_flops_per_token
from tinylm.core.optim import make_optimizer
from tinylm.core.spec import resolve_model
from tinylm.measured import VALUE_EMBEDS_FROM_S

SMALL = dict(vocab_size=300, context=16, width=32, layers=2, heads=2, smear=False,
             value_embeds=False)
EXTRAS = dict(smear=True, value_embeds=True)


def in_optimizers(model: GPT) -> tuple[set, set]:
    """ids of the parameters (Muon's, AdamW's) of the default optimizer."""
    muon, adamw = make_optimizer(model, tinylm.TrainConfig()).optimizers
    return ({id(p) for g in muon.param_groups for p in g["params"]},
            {id(p) for g in adamw.param_groups for p in g["params"]})


def test_the_default_smears_and_has_no_mask():
    cfg = ModelConfig()
    assert cfg.smear and not cfg.doc_mask
    assert cfg.value_embeds == "auto"  # decided by the budget: see below
    built = GPT(ModelConfig(**{**SMALL, "value_embeds": "auto"}))  # built without a budget
    assert built.value_embs is None and built.cfg.value_embeds is False


def test_value_tables_go_on_from_the_measured_budget():
    auto = ModelConfig()
    assert resolve_model(auto, 60).value_embeds is False  # they lose in a minute
    assert resolve_model(auto, VALUE_EMBEDS_FROM_S - 1).value_embeds is False
    assert resolve_model(auto, VALUE_EMBEDS_FROM_S).value_embeds is True
    assert resolve_model(auto, 300).value_embeds is True  # and win in five
    assert resolve_model(auto).value_embeds is False  # a model built without a budget
    assert resolve_model(ModelConfig(family="lstm"), 300).value_embeds is False  # gpt only
    for asked in (True, False):  # an explicit choice is kept at every budget
        assert resolve_model(ModelConfig(value_embeds=asked), 60).value_embeds is asked
        assert resolve_model(ModelConfig(value_embeds=asked), 300).value_embeds is asked
    with pytest.raises(ValueError, match="value_embeds.*auto"):
        ModelConfig(value_embeds="yes").validate()


def test_the_trainer_decides_value_tables_by_its_budget(small_data, fast_cfg):
    cfg = ModelConfig(vocab_size=small_data.vocab_size, **TINY_MODEL)
    long = tinylm.train(small_data, cfg, fast_cfg(budget_s=VALUE_EMBEDS_FROM_S, steps=2),
                        progress=False)  # two steps, but a five-minute-class budget
    assert long.metrics["value_embeds"] is True and long.model.value_embs is not None
    short = tinylm.train(small_data, cfg, fast_cfg(budget_s=5, steps=2), progress=False)
    assert short.metrics["value_embeds"] is False and short.model.value_embs is None


def test_stored_runs_keep_their_labels_across_the_budget_rule():
    from tinylm.lab.recipes import RECIPES, defaults, label

    def stored(budget_s, value_embeds, recipe="default"):
        return {**defaults(), **RECIPES[recipe], "budget_s": budget_s, "value_embeds": value_embeds}

    assert label("default", stored(300.0, True)) == "default"  # what auto gives at 300 s
    assert label("default", stored(300.0, False)) == "default:value_embeds=False"
    assert label("default", stored(60.0, False)) == "default"
    assert label("default", stored(60.0, True)) == "default:value_embeds=True"
    assert label("gpt2", stored(300.0, False, "gpt2")) == "gpt2"  # the baseline never has them
    assert label("default", stored(300.0, "auto")) == "default"  # stored as asked, not as decided
    assert label("default", stored(60.0, "auto")) == "default"


def test_extras_start_as_a_no_op():
    torch.manual_seed(0)
    plain = GPT(ModelConfig(**SMALL))
    extra = GPT(ModelConfig(**{**SMALL, **EXTRAS}))
    missing, unexpected = extra.load_state_dict(plain.state_dict(), strict=False)
    assert set(missing) == {"smear_gate", "smear_lambda", "value_embs.0.weight",
                            "value_embs.1.weight"} and not unexpected
    x = torch.randint(0, 300, (2, 16))
    assert torch.allclose(extra(x), plain(x), atol=1e-6)
    for name, wake in (("smear", lambda m: m.smear_lambda.fill_(1.0)),
                       ("value_embeds", lambda m: [t.weight.normal_() for t in m.value_embs])):
        one = GPT(ModelConfig(**{**SMALL, name: True}))
        one.load_state_dict(plain.state_dict(), strict=False)
        with torch.no_grad():
            wake(one)
        assert not torch.allclose(one(x), plain(x), atol=1e-3), name  # each acts on its own


@pytest.mark.parametrize("extras", [dict(smear=True), dict(value_embeds=True), EXTRAS])
def test_still_causal(extras):
    torch.manual_seed(1)
    model = GPT(ModelConfig(**{**SMALL, **extras}))
    with torch.no_grad():  # away from the no-op start, so the extras act
        for table in model.value_embs or []:
            table.weight.normal_()
        for p in (model.smear_lambda, model.smear_gate):
            if p is not None:
                p.normal_()
    x = torch.randint(0, 300, (2, 16))
    y = x.clone()
    y[:, 10:] = (y[:, 10:] + 1) % 300  # change the future only
    assert torch.allclose(model(y)[:, :10], model(x)[:, :10], atol=1e-5)
    assert not torch.allclose(model(y)[:, 10:], model(x)[:, 10:], atol=1e-3)


def test_tables_not_flops_and_adamw_not_muon():
    plain = ModelConfig(**SMALL)
    smear = ModelConfig(**{**SMALL, "smear": True})
    values = ModelConfig(**{**SMALL, "value_embeds": True})
    assert param_count(smear) - param_count(plain) == 12 + 1  # gate and lambda
    assert param_count(smear, non_embedding=True) - param_count(plain, non_embedding=True) == 13
    assert train_flops_per_token(smear) - train_flops_per_token(plain) == 6 * 13
    assert param_count(values) - param_count(plain) == 2 * 300 * 32  # a [300, 32] table a layer
    assert param_count(values, non_embedding=True) == param_count(plain, non_embedding=True)
    assert train_flops_per_token(values) == train_flops_per_token(plain)  # a lookup: no matmul
    model = GPT(ModelConfig(**{**SMALL, **EXTRAS}))
    in_muon, in_adamw = in_optimizers(model)
    for p in (model.smear_gate, model.smear_lambda, *(t.weight for t in model.value_embs)):
        assert id(p) in in_adamw and id(p) not in in_muon


def test_trains_saves_and_samples(small_data, fast_cfg, tmp_path):
    cfg = ModelConfig(vocab_size=small_data.vocab_size, context=64, width=32, layers=2, heads=2,
                      head_shortlist=128, head_tail_width=8, **EXTRAS)
    result = tinylm.train(small_data, cfg, fast_cfg(steps=40), out_dir=tmp_path / "run",
                          progress=False)
    model = result.model
    assert model.smear_lambda.item() != 0 and model.value_embs[0].weight.abs().sum() > 0  # learnt
    assert result.metrics["val_loss"] < np.log(small_data.vocab_size) - 0.5  # beats uniform
    loaded = tinylm.load(tmp_path / "run")
    assert loaded.model.cfg.smear and loaded.model.cfg.value_embeds
    assert torch.equal(loaded.model.smear_gate, model.smear_gate)
    assert torch.equal(loaded.model.value_embs[1].weight, model.value_embs[1].weight)
    text = tinylm.generate(loaded.model, loaded.tokenizer, "Once upon a time",
                           max_new_tokens=10, seed=0)
    assert text.startswith("Once upon a time") and len(text) > len("Once upon a time")
