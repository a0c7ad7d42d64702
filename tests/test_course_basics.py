"""What chapters 0, 1 and 5 teach, checked on the package: the speed probe measures the model
five minutes train, tokens split and join back, the score units convert, and the samplers a
student writes by hand agree with tinylm's."""

from __future__ import annotations

import math

import pytest
import torch

import tinylm
from tinylm.core.data import token_pieces
from tinylm.core.evaluate import bits_per_byte, metrics_from_totals
from tinylm.core.sample import SampleConfig, next_token_probs
from tinylm.measured import NARROW_WIDTH, WIDE_WIDTH
from tinylm.notebook import claim
from tinylm.tuning.speed import measure_throughput


def test_the_probe_measures_the_model_five_minutes_train(small_data, fast_cfg):
    """Chapter 0 probes `resolve_model(ModelConfig(), 300)`: the shape `train` gives a 300 s
    run."""
    cfg = tinylm.ModelConfig(vocab_size=small_data.vocab_size)
    run = tinylm.train(small_data, cfg, fast_cfg(budget_s=300), stop=lambda: True,
                       progress=False).metrics
    probe = measure_throughput(tinylm.resolve_model(cfg, 300), batch_size=2, device="cpu", seconds=0.01,
                               threads=1)
    assert run["width"] == WIDE_WIDTH and run["params"] == probe["params"]
    assert tinylm.resolve_model(cfg, 60).width == NARROW_WIDTH  # the one-minute model: narrow


def test_token_pieces_join_back_to_the_text(small_data):
    tok = small_data.tokenizer
    text = "Once upon a time there was a little dog."
    pieces = token_pieces(tok, text)
    assert len(pieces) == len(tok.encode(text).ids) and "".join(pieces) == text
    rare = "Café ☃"  # characters split over tokens show as U+FFFD; the ids still decode whole
    assert "\ufffd" in "".join(token_pieces(tok, rare)) and tok.decode(tok.encode(rare).ids) == rare


def test_score_units_convert():
    """Chapter 1's hand conversions: know-nothing bits per byte, and perplexity from val_bpb."""
    assert bits_per_byte(math.log(4096), 4.0) == pytest.approx(12 / 4.0)
    m = metrics_from_totals(nats=5000.0, tokens=2000, nbytes=8100)
    assert 2 ** (m["val_bpb"] * m["bytes"] / m["tokens"]) == pytest.approx(m["val_ppl"], rel=1e-12)


def test_claim_prints_the_sentence_that_holds_and_returns_nothing(capsys):
    assert claim(True, "holds", otherwise="does not") is None
    claim(False, "holds", otherwise="does not")
    assert capsys.readouterr().out == "holds\ndoes not\n"
    with pytest.raises(AssertionError):
        claim(False, "holds")


LOGITS = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])


def test_top_k_and_top_p_by_hand_match_the_sampler():
    """Chapter 5's exercise: the textbook definitions give tinylm's distributions."""
    z = LOGITS / 0.8
    top2 = torch.softmax(z.masked_fill(z < z.topk(2).values[-1], float("-inf")), dim=-1)
    assert torch.allclose(top2, next_token_probs(LOGITS, SampleConfig(temperature=0.8, top_k=2)))
    probs = torch.softmax(LOGITS, dim=-1)  # 0.579, 0.213, 0.129, 0.078, ...: 0.9 needs four
    nucleus = next_token_probs(LOGITS, SampleConfig(temperature=1.0, top_p=0.9))
    assert torch.allclose(nucleus[:4], probs[:4] / probs[:4].sum()) and not nucleus[4:].any()
    greedy = next_token_probs(LOGITS, SampleConfig(temperature=0))
    assert int(greedy.argmax()) == int(LOGITS.argmax()) and greedy.sum() == 1 == greedy.max()
