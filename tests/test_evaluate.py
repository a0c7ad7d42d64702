import math

import numpy as np
import pytest
import torch

from tinylm.core.evaluate import bits_per_byte, evaluate, metrics_from_totals
from tinylm.core.models import LanguageModel, ModelConfig


class Uniform(LanguageModel):
    """Every token equally likely: the loss is exactly ln(vocab) per token."""

    def __init__(self, vocab):
        super().__init__(ModelConfig(vocab_size=max(vocab, 257)))
        self.vocab = vocab
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx):
        return torch.zeros(*idx.shape, self.vocab) + self.dummy


def test_uniform_byte_model_costs_log2_vocab_bits_per_byte():
    vocab = 257  # bytes + end-of-text, each token one byte
    windows = torch.randint(0, 256, (5, 17))
    m = evaluate(Uniform(vocab), windows, np.ones(vocab, dtype=np.int64))
    assert m["tokens"] == 80 and m["bytes"] == 80
    assert m["val_loss"] == pytest.approx(math.log(vocab))
    assert m["val_bpb"] == pytest.approx(math.log2(vocab))
    assert m["val_ppl"] == pytest.approx(vocab)


def test_bits_per_byte_divides_by_bytes_not_tokens():
    # tokens 0..3 stand for 1, 2, 3 and 4 bytes; targets are windows[:, 1:]
    lengths = np.array([1, 2, 3, 4])
    windows = torch.tensor([[0, 1, 2, 3], [3, 3, 0, 0]])
    m = evaluate(Uniform(4), windows, lengths)
    nbytes = (2 + 3 + 4) + (4 + 1 + 1)
    assert m["bytes"] == nbytes
    assert m["val_bpb"] == pytest.approx(6 * math.log(4) / nbytes / math.log(2))


def test_metrics_from_totals_by_hand():
    m = metrics_from_totals(nats=2 * math.log(2) * 10, tokens=10, nbytes=20)
    assert m["val_bpb"] == pytest.approx(1.0)
    assert m["val_ppl"] == pytest.approx(4.0)


def test_bits_per_byte_of_a_loss_per_token():
    # a loss of ln 2 nats per 1-byte token is one bit per byte; 2-byte tokens halve it
    assert bits_per_byte(math.log(2), 1) == pytest.approx(1.0)
    assert bits_per_byte(math.log(2), 2) == pytest.approx(0.5)
