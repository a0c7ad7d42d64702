"""The n-gram memory: interpolated Kneser-Ney counts inside the model, mixed with the network's
prediction at weights fitted on held-out training text."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pytest
import torch

from tinylm.core import checkpoint
from tinylm.core.models import ModelConfig, build_model
from tinylm.core.models.ngram import NGramMemory, split_held_out
from tinylm.runs.train import train

V = 40


def text(n: int = 6000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, V, n)
    x[1::5] = (x[0::5][: len(x[1::5])] + 1) % V  # a pattern the counts can learn
    return x


def kneser_ney(tokens, order: int, history: tuple, w: int) -> float:
    """Interpolated Kneser-Ney written out with dictionaries: the reference for `probs`."""
    grams = Counter(tuple(tokens[i:i + order]) for i in range(len(tokens) - order + 1))
    counts = {order: grams}
    for n in range(order - 1, 0, -1):  # lower orders: distinct left neighbours
        counts[n] = Counter(g[1:] for g in counts[n + 1])
    total_uni = sum(counts[1].values())
    p = (1 - 1e-6) * counts[1][(w,)] / total_uni + 1e-6 / V
    for n in range(2, order + 1):
        c = counts[n]
        n1 = sum(1 for v in c.values() if v == 1)
        n2 = sum(1 for v in c.values() if v == 2)
        d = n1 / (n1 + 2 * n2)
        if len(history) < n - 1:
            continue
        ctx = history[len(history) - (n - 1):]
        follow = defaultdict(int)
        for g, v in c.items():
            if g[:-1] == ctx:
                follow[g[-1]] += v
        total, kinds = sum(follow.values()), len(follow)
        if total:
            p = max(follow.get(w, 0) - d, 0) / total + d * kinds / total * p
    return p


def test_probabilities_match_a_written_out_kneser_ney_and_sum_to_one():
    x = text()
    memory = NGramMemory.count(x, V, 3)
    window = torch.from_numpy(x[100:132]).view(1, -1)
    p, known = memory.probs(window)
    assert torch.allclose(p.sum(-1), torch.ones(1, 32), atol=1e-5) and (p > 0).all()
    assert known[0, 0] == 2 and known[0, 5] == 3  # the first token has one token of history
    for t in (0, 1, 7, 20):
        hist = tuple(int(v) for v in x[100:100 + t + 1])
        for w in (int(x[101 + t]), 5, 17):
            assert p[0, t, w].item() == pytest.approx(kneser_ney(x.tolist(), 3, hist, w),
                                                      rel=1e-4)


def test_the_mixture_is_normalised_and_its_weights_follow_the_better_predictor():
    x = text()
    memory = NGramMemory.count(x, V, 4)
    idx = torch.from_numpy(x[:-1][: 8 * 64].reshape(8, 64))
    y = torch.from_numpy(x[1:][: 8 * 64].reshape(8, 64))
    uniform = torch.full((8, 64, V), -math.log(V))
    assert torch.equal(memory.mix_logprobs(uniform, idx), uniform)  # not fitted: the network's
    memory.fit_mix(uniform, idx, y)
    assert memory.mix.max() < 0.5  # a uniform network is worth less than the counts
    mixed = memory.mix_logprobs(uniform, idx)
    assert torch.allclose(mixed.exp().sum(-1), torch.ones(8, 64), atol=1e-5)
    oracle = torch.full((8, 64, V), -30.0).scatter(-1, y[..., None], 0.0).log_softmax(-1)
    memory.fit_mix(oracle, idx, y)
    assert memory.mix.min() > 0.9  # a network that is always right takes the weight


def test_a_gpt_with_memory_trains_the_network_alone_and_predicts_the_mixture(tmp_path):
    x = text()
    cfg = ModelConfig(vocab_size=257, context=32, width=32, layers=1, heads=2, head="full",
                      value_embeds=False, ngram_order=3)
    torch.manual_seed(0)
    model = build_model(cfg)
    plain = build_model(ModelConfig(**{**cfg.to_dict(), "ngram_order": 0}))
    plain.load_state_dict({k: v for k, v in model.state_dict().items()
                           if not k.startswith("ngram.")})
    model.ngram = NGramMemory.count(x, 257, 3)
    idx = torch.from_numpy(x[:64].reshape(2, 32))
    y = torch.from_numpy(x[1:65].reshape(2, 32))
    assert torch.equal(model(idx, y), plain(idx, y))  # training: the network's own loss
    model.ngram.fit_mix(torch.log_softmax(plain(idx), -1), idx, y)
    logits = model(idx)
    assert torch.allclose(logits.exp().sum(-1), torch.ones(2, 32), atol=1e-5)
    assert not torch.allclose(logits, torch.log_softmax(plain(idx), -1))
    folder = checkpoint.save(tmp_path / "ckpt", model, _tokenizer(), {})
    loaded = checkpoint.load(folder)
    assert torch.allclose(loaded.model(idx), logits, atol=1e-6)
    assert loaded.model.ngram.l3_count.numel() == model.ngram.l3_count.numel() > 0
    from tinylm.web import model_payload

    tensors = model_payload(folder)["tensors"]  # the page gets the integers, not the floats
    assert tensors["ngram.l3_count"]["dtype"] == "i16" and "ngram.l3_prob" not in tensors


def _tokenizer():
    from tokenizers import Tokenizer, models

    return Tokenizer(models.WordLevel({f"t{i}": i for i in range(257)}, unk_token="t0"))


def test_config_checks_the_order():
    for bad in (1, 6, -1, True, "3"):
        with pytest.raises(ValueError, match="ngram_order must be 0 .off. or 2 to 5"):
            ModelConfig(ngram_order=bad).validate()
    from tinylm.core.spec import resolve_model

    assert resolve_model(ModelConfig(family="lstm", ngram_order=3)).ngram_order == 0
    assert resolve_model(ModelConfig()).ngram_order == 4  # the transformer keeps it


def test_training_counts_within_the_budget_and_fits_on_held_out_text(small_data, fast_cfg):
    model_cfg = ModelConfig(vocab_size=small_data.vocab_size, context=64, width=32, layers=2,
                            heads=2, ngram_order=4)
    result = train(small_data, model_cfg, fast_cfg(budget_s=6.0), progress=False)
    m = result.metrics
    assert m["budget_s"] == 6.0 and m["ngram_seconds"] > 0 and len(m["ngram_mix"]) == 4
    assert m["train_seconds"] + m["ngram_seconds"] <= 6.0 + 1.0  # the loop got what was left
    assert result.model.ngram.mix.numel() == 4 and m["ngram_mb"] > 0
    counted, held = split_held_out(small_data.train)
    assert len(held) > 0 and len(counted) + len(held) == len(small_data.train)
    plain = result.model.ngram.mix.clone()
    result.model.ngram.mix = torch.zeros(0)  # the network alone, same weights
    from tinylm.core.data import val_windows
    from tinylm.core.evaluate import evaluate

    windows = val_windows(small_data.val, 64, 8192)
    alone = evaluate(result.model, windows, small_data.token_bytes)["val_bpb"]
    result.model.ngram.mix = plain
    mixed = evaluate(result.model, windows, small_data.token_bytes)["val_bpb"]
    assert mixed < alone  # a few seconds of training: the counts know more than the network


def test_evaluation_at_the_targets_equals_the_full_mixture():
    x = text()
    memory = NGramMemory.count(x, V, 4)
    idx = torch.from_numpy(x[:-1][: 4 * 64].reshape(4, 64))
    y = torch.from_numpy(x[1:][: 4 * 64].reshape(4, 64))
    p, known = memory.probs(idx)
    at, at_known = memory.target_probs(idx, y)
    assert torch.equal(at, p.gather(-1, y[..., None]).squeeze(-1)) and torch.equal(at_known, known)
    torch.manual_seed(0)
    net = torch.randn(4, 64, V).log_softmax(-1)
    memory.fit_mix(net, idx, y)
    full = memory.mix_logprobs(net, idx).gather(-1, y[..., None]).squeeze(-1)
    sparse = memory.mix_target_logprobs(net.gather(-1, y[..., None]).squeeze(-1), idx, y)
    assert torch.equal(full, sparse)


@pytest.mark.parametrize("head", ["full", "adaptive"])
def test_a_fitted_models_nll_is_the_mixtures(head):
    x = text()
    cfg = ModelConfig(vocab_size=257, context=32, width=32, layers=1, heads=2, head=head,
                      value_embeds=False, ngram_order=3)
    torch.manual_seed(0)
    model = build_model(cfg)
    model.ngram = NGramMemory.count(x, 257, 3)
    idx = torch.from_numpy(x[:64].reshape(2, 32))
    y = torch.from_numpy(x[1:65].reshape(2, 32))
    model.ngram.fit_mix(model.target_logprobs(idx, y), idx, y)
    with torch.no_grad():
        dense = -model(idx).gather(-1, y[..., None]).sum()
        assert torch.allclose(model.nll(idx, y), dense, rtol=1e-5)
