import itertools
import math

import pytest
import torch

from tinylm.core.models import GPT, ModelConfig


def test_exact_parameter_counts():
    cfg = ModelConfig(vocab_size=300, context=16, width=8, layers=2, heads=2, positions="learned",
                      tie_embeddings=True, head="full", smear=False, value_embeds=False)
    model = GPT(cfg)
    # token 300*8 + positions 16*8 + 2 layers * (norm 8 + qkv 8*24 + proj 64 + norm 8
    # + up 8*32 + down 32*8) + final norm 8; the head is tied to the token table
    per_layer = 8 + 192 + 64 + 8 + 256 + 256
    assert model.num_params() == 2400 + 128 + 2 * per_layer + 8 == 4104
    assert model.num_params(non_embedding=True) == 2 * per_layer + 8
    untied = GPT(ModelConfig(vocab_size=300, context=16, width=8, layers=2, heads=2,
                             tie_embeddings=False, positions="rotary", head="full", smear=False,
                             value_embeds=False))
    assert untied.num_params() == 2400 + 2 * per_layer + 8 + 2400
    with_values = GPT(ModelConfig(**{**untied.cfg.to_dict(), "value_embeds": True}))
    assert with_values.num_params() == untied.num_params() + 2 * 2400  # a [300, 8] table a layer
    assert with_values.num_params(non_embedding=True) == untied.num_params(non_embedding=True)


OPTIONS = list(itertools.product(["gelu", "swiglu", "relu2"], ["layernorm", "rmsnorm"],
                                 ["learned", "rotary"], [True, False]))


@pytest.mark.parametrize("mlp,norm,positions,qk_norm", OPTIONS)
def test_every_variant_is_causal(mlp, norm, positions, qk_norm):
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=300, context=16, width=16, layers=2, heads=2, mlp=mlp, norm=norm,
                      positions=positions, qk_norm=qk_norm, tie_embeddings=False,
                      logit_softcap=15.0)
    model = GPT(cfg)
    x = torch.randint(0, 300, (2, 16))
    logits = model(x)
    assert logits.shape == (2, 16, 300)
    y = x.clone()
    y[:, 10:] = (y[:, 10:] + 1) % 300  # change the future only
    assert torch.allclose(model(y)[:, :10], logits[:, :10], atol=1e-5)
    assert logits.abs().max() <= 15.0


def test_zero_init_projections_start_as_identity_blocks():
    model = GPT(ModelConfig(vocab_size=300, context=16, width=16, layers=2, heads=2,
                            zero_init_proj=True))
    x = torch.randn(1, 4, 16)
    for block in model.blocks:
        assert torch.equal(block(x), x)


@pytest.mark.parametrize("field,value,message", [
    ("heads", 5, "not divisible by heads"),
    ("mlp", "tanh", "unknown mlp 'tanh'"),
    ("norm", "batchnorm", "unknown norm"),
    ("positions", "alibi", "unknown positions"),
    ("width", 0, "width must be a positive integer"),
    ("dropout", 1.5, "dropout"),
    ("vocab_size", 100, "vocab_size"),
])
def test_bad_config_names_the_field(field, value, message):
    cfg = ModelConfig(**{field: value})
    with pytest.raises(ValueError, match=message):
        cfg.validate()


def test_too_long_input_is_refused():
    model = GPT(ModelConfig(vocab_size=300, context=8, width=8, layers=1, heads=1))
    with pytest.raises(ValueError, match="longer than the context"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_validation_is_per_family():
    # an LSTM has no attention heads: a width that no head count divides is fine for it
    ModelConfig(family="lstm", vocab_size=300, width=98, heads=2).validate()
    with pytest.raises(ValueError, match="rotary positions need an even head size"):
        ModelConfig(family="gpt", vocab_size=300, width=98, heads=2).validate()
    with pytest.raises(ValueError, match="unknown family 'rnn': use one of gpt, lstm, mdlm"):
        ModelConfig(family="rnn").validate()


def test_behaviour_lives_on_the_model_classes():
    from tinylm.core.models import REGISTRY, build_model, param_count, train_flops_per_token

    for family, cls in REGISTRY.items():
        cfg = ModelConfig(family=family, vocab_size=300, context=16, width=16, layers=1, heads=2)
        model = build_model(cfg)
        assert type(model) is cls and model.writes_all_at_once == (family == "mdlm")
        assert param_count(cfg) == model.num_params()  # the meta-device count is exact
        assert train_flops_per_token(cfg) == model.train_flops_per_token() > 0
        y = torch.randint(0, 300, (2, 16))
        with torch.no_grad():
            nats = float(model.nll(y, y))
        assert 0 < nats < 2 * 16 * 2 * math.log(300)


def test_width_auto_widens_the_transformer_from_the_measured_budget():
    from tinylm.core.spec import resolve_model
    from tinylm.measured import NARROW_WIDTH, WIDE_FROM_S, WIDE_WIDTH

    auto = ModelConfig()
    assert auto.width == "auto"
    assert resolve_model(auto, 60).width == NARROW_WIDTH == 96  # best in one minute
    assert resolve_model(auto, WIDE_FROM_S - 1).width == NARROW_WIDTH
    assert resolve_model(auto, WIDE_FROM_S).width == WIDE_WIDTH == 128
    assert resolve_model(auto, 300).width == WIDE_WIDTH  # best in five
    assert resolve_model(auto).width == NARROW_WIDTH  # a model built without a budget
    assert resolve_model(ModelConfig(family="lstm"), 300).width == NARROW_WIDTH  # gpt's rule
    assert resolve_model(ModelConfig(width=64), 300).width == 64  # an explicit width is kept
    built = GPT(ModelConfig(vocab_size=300, context=8, layers=1))
    assert built.cfg.width == NARROW_WIDTH and built.tok_emb.weight.shape == (300, NARROW_WIDTH)


@pytest.mark.parametrize("changes,message", [
    (dict(heads=3), r"width 128 \(width auto from 200 s\) is not divisible.*or set width"),
    (dict(heads=32), r"even head size, got 3 \(width 96 \(width auto below 200 s\) / heads 32"),
    (dict(width="wide"), "width must be a positive integer or 'auto', got 'wide'"),
    (dict(width=True), "width must be a positive integer or 'auto'"),
])
def test_width_auto_is_validated_for_every_width_it_can_become(changes, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**changes).validate()
    ModelConfig(heads=4).validate()  # 96 / 4 and 128 / 4: both fine


def test_the_trainer_decides_the_width_by_its_budget(small_data, fast_cfg):
    import tinylm
    from tinylm.measured import NARROW_WIDTH, WIDE_FROM_S, WIDE_WIDTH

    cfg = ModelConfig(vocab_size=small_data.vocab_size, context=64, layers=1)  # width "auto"
    long = tinylm.train(small_data, cfg, fast_cfg(budget_s=WIDE_FROM_S, steps=1), progress=False)
    assert long.metrics["width"] == WIDE_WIDTH == long.model.tok_emb.embedding_dim
    short = tinylm.train(small_data, cfg, fast_cfg(budget_s=5, steps=1), progress=False)
    assert short.metrics["width"] == NARROW_WIDTH == short.model.tok_emb.embedding_dim


def test_stored_runs_keep_their_labels_across_the_width_rule():
    from tinylm.lab.recipes import RECIPES, defaults, label

    def stored(budget_s, width):
        return {**defaults(), "budget_s": budget_s, "width": width, "value_embeds": "auto"}

    assert label("default", stored(300.0, 128)) == "default"  # what width auto gives at 300 s
    assert label("default", stored(300.0, 96)) == "default:width=96"  # the old default there
    assert label("default", stored(60.0, 96)) == "default"
    assert label("default", stored(60.0, 128)) == "default:width=128"
    assert label("default", stored(300.0, "auto")) == "default"
    assert label("gpt2", {**stored(300.0, 128), **RECIPES["gpt2"]}) == "gpt2"  # its own width
