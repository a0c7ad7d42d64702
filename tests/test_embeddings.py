"""Cheap input-side capacity: the bigram-hash table and the smear gate start as no-ops, stay
causal, are tables (AdamW) not matrices (Muon), cost no counted FLOPs, and train and save."""

import numpy as np
import pytest
import torch
from fast import TINY_MODEL

import tinylm
from tinylm.measured import VALUE_EMBEDS_FROM_S
from tinylm.models import GPT, ModelConfig
from tinylm.models.gpt import bigram_hash
from tinylm.optim import make_optimizer

SMALL = dict(vocab_size=300, context=16, width=32, layers=1, heads=2, smear=False,
             bigram_buckets=0, value_embeds=False)
EXTRAS = dict(bigram_buckets=64, smear=True)


def test_bigram_hash_depends_on_the_previous_token():
    idx = torch.tensor([[5, 7, 7, 9], [6, 7, 7, 9]])
    h = bigram_hash(idx, 64)
    assert h.shape == idx.shape and h.dtype == idx.dtype
    assert (h[:, 0] == 63).all()  # no previous token: the reserved bucket
    assert ((0 <= h[:, 1:]) & (h[:, 1:] < 63)).all()
    assert h[0, 1] != h[1, 1]  # (5, 7) and (6, 7): same token, different pair
    assert torch.equal(h[0, 2:], h[1, 2:])  # the same pairs from there on
    pairs = torch.randint(0, 4096, (1, 20_000))
    used = torch.unique(bigram_hash(pairs, 8192)).numel()
    assert used > 0.85 * 8191  # spread over (nearly) every bucket


def test_the_default_smears_and_has_no_extra_tables_or_mask():
    cfg = ModelConfig()
    assert cfg.smear and cfg.bigram_buckets == 0 and not cfg.doc_mask
    assert cfg.value_embeds == "auto"  # decided by the budget: see below
    built = GPT(ModelConfig(**{**SMALL, "value_embeds": "auto"}))  # built without a budget
    assert built.value_embs is None and built.cfg.value_embeds is False


def test_value_tables_go_on_from_the_measured_budget():
    auto = ModelConfig()
    assert auto.for_budget(60).value_embeds is False  # they lose in a minute
    assert auto.for_budget(VALUE_EMBEDS_FROM_S - 1).value_embeds is False
    assert auto.for_budget(VALUE_EMBEDS_FROM_S).value_embeds is True
    assert auto.for_budget(300).value_embeds is True  # and win in five
    assert auto.for_budget(None).value_embeds is False
    assert ModelConfig(family="lstm").for_budget(300).value_embeds is False  # gpt only
    for asked in (True, False):  # an explicit choice is kept at every budget
        assert ModelConfig(value_embeds=asked).for_budget(60).value_embeds is asked
        assert ModelConfig(value_embeds=asked).for_budget(300).value_embeds is asked
    with pytest.raises(ValueError, match="value_embeds.*auto"):
        ModelConfig(value_embeds="yes").validate()


def test_the_trainer_decides_value_tables_by_its_budget(small_data, fast_cfg):
    cfg = ModelConfig(vocab_size=small_data.vocab_size, **TINY_MODEL)
    long = tinylm.train(small_data, cfg, fast_cfg(budget_s=VALUE_EMBEDS_FROM_S, steps=2),
                        progress=False)  # two steps, but a five-minute-class budget
    assert long.metrics["value_embeds"] is True and long.model.value_embs is not None
    short = tinylm.train(small_data, cfg, fast_cfg(budget_s=5, steps=2), progress=False)
    assert short.metrics["value_embeds"] is False and short.model.value_embs is None


def test_the_trainer_decides_the_width_by_its_budget(small_data, fast_cfg):
    from tinylm.measured import NARROW_WIDTH, WIDE_FROM_S, WIDE_WIDTH

    cfg = ModelConfig(vocab_size=small_data.vocab_size, context=64, layers=1)  # width "auto"
    long = tinylm.train(small_data, cfg, fast_cfg(budget_s=WIDE_FROM_S, steps=1), progress=False)
    assert long.metrics["width"] == WIDE_WIDTH == long.model.tok_emb.embedding_dim
    short = tinylm.train(small_data, cfg, fast_cfg(budget_s=5, steps=1), progress=False)
    assert short.metrics["width"] == NARROW_WIDTH == short.model.tok_emb.embedding_dim


def test_stored_runs_keep_their_labels_across_the_budget_rule():
    from tinylm.recipes import RECIPES, defaults, label

    def stored(budget_s, value_embeds, recipe="default"):
        return {**defaults(), **RECIPES[recipe], "budget_s": budget_s, "value_embeds": value_embeds}

    assert label("default", stored(300.0, True)) == "default"  # what auto gives at 300 s
    assert label("default", stored(300.0, False)) == "default:value_embeds=False"
    assert label("default", stored(60.0, False)) == "default"
    assert label("default", stored(60.0, True)) == "default:value_embeds=True"
    assert label("gpt2", stored(300.0, False, "gpt2")) == "gpt2"  # the baseline never has them
    assert label("default", stored(300.0, "auto")) == "default"  # stored as asked, not as decided
    assert label("default", stored(60.0, "auto")) == "default"


def test_stored_runs_keep_their_labels_across_the_width_rule():
    from tinylm.recipes import RECIPES, defaults, label

    def stored(budget_s, width):
        return {**defaults(), "budget_s": budget_s, "width": width, "value_embeds": "auto"}

    assert label("default", stored(300.0, 128)) == "default"  # what width auto gives at 300 s
    assert label("default", stored(300.0, 96)) == "default:width=96"  # the old default there
    assert label("default", stored(60.0, 96)) == "default"
    assert label("default", stored(60.0, 128)) == "default:width=128"
    assert label("default", stored(300.0, "auto")) == "default"
    assert label("gpt2", {**stored(300.0, 128), **RECIPES["gpt2"]}) == "gpt2"  # its own width


def test_extras_start_as_a_no_op():
    torch.manual_seed(0)
    plain = GPT(ModelConfig(**SMALL))
    extra = GPT(ModelConfig(**{**SMALL, **EXTRAS}))
    missing, unexpected = extra.load_state_dict(plain.state_dict(), strict=False)
    assert set(missing) == {"bigram_emb.weight", "smear_gate", "smear_lambda"} and not unexpected
    x = torch.randint(0, 300, (2, 16))
    assert torch.allclose(extra(x), plain(x), atol=1e-6)
    with torch.no_grad():
        extra.bigram_emb.weight.normal_()
        extra.smear_lambda.fill_(1.0)
    assert not torch.allclose(extra(x), plain(x), atol=1e-3)


@pytest.mark.parametrize("extras", [dict(bigram_buckets=64), dict(smear=True), EXTRAS])
def test_still_causal(extras):
    torch.manual_seed(1)
    model = GPT(ModelConfig(**{**SMALL, **extras}))
    with torch.no_grad():  # away from the no-op start, so the extras act
        for p in (model.bigram_emb.weight if model.bigram_emb is not None else None,
                  model.smear_lambda, model.smear_gate):
            if p is not None:
                p.normal_()
    x = torch.randint(0, 300, (2, 16))
    y = x.clone()
    y[:, 10:] = (y[:, 10:] + 1) % 300  # change the future only
    assert torch.allclose(model(y)[:, :10], model(x)[:, :10], atol=1e-5)
    assert not torch.allclose(model(y)[:, 10:], model(x)[:, 10:], atol=1e-3)


def test_tables_not_flops_and_adamw_not_muon():
    plain, extra = ModelConfig(**SMALL), ModelConfig(**{**SMALL, **EXTRAS})
    count = tinylm.models.param_count
    assert count(extra) - count(plain) == 64 * 32 + 12 + 1
    assert count(extra, non_embedding=True) - count(plain, non_embedding=True) == 12 + 1
    flops = tinylm.models.train_flops_per_token
    assert flops(extra) - flops(plain) == 6 * 13  # a lookup is not a matmul
    model = GPT(extra)
    muon, adamw = make_optimizer(model, tinylm.TrainConfig()).optimizers
    in_muon = {id(p) for g in muon.param_groups for p in g["params"]}
    in_adamw = {id(p) for g in adamw.param_groups for p in g["params"]}
    for p in (model.bigram_emb.weight, model.smear_gate, model.smear_lambda):
        assert id(p) in in_adamw and id(p) not in in_muon


@pytest.mark.parametrize("value", [1, -4, True, 2.5])
def test_bad_bucket_counts_name_the_fix(value):
    with pytest.raises(ValueError, match="bigram_buckets must be 0 .off. or an integer >= 2"):
        ModelConfig(**{**SMALL, "bigram_buckets": value}).validate()


def test_trains_saves_and_samples(small_data, fast_cfg, tmp_path):
    cfg = ModelConfig(vocab_size=small_data.vocab_size, context=64, width=32, layers=2, heads=2,
                      head_shortlist=128, head_tail_width=8, bigram_buckets=1024, smear=True)
    result = tinylm.train(small_data, cfg, fast_cfg(steps=40), out_dir=tmp_path / "run",
                          progress=False)
    model = result.model
    assert model.bigram_emb.weight.abs().sum() > 0 and model.smear_lambda.item() != 0  # learnt
    assert result.metrics["val_loss"] < np.log(small_data.vocab_size) - 0.5  # beats uniform
    loaded = tinylm.load(tmp_path / "run")
    assert torch.equal(loaded.model.bigram_emb.weight, model.bigram_emb.weight)
    assert loaded.model.cfg.smear and loaded.model.cfg.bigram_buckets == 1024
    text = tinylm.generate(loaded.model, loaded.tokenizer, "Once upon a time",
                           max_new_tokens=10, seed=0)
    assert text.startswith("Once upon a time") and len(text) > len("Once upon a time")
