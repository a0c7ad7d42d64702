"""Attention: the explicit CPU path equals PyTorch's SDPA; the document mask keeps each story
to itself; value embeddings start as a no-op, stay causal, are tables (AdamW), train and save;
story starts put every training window at the beginning of a story."""

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tinylm
from tinylm.corpus import EOT_ID, DataError
from tinylm.data import Batches
from tinylm.models import GPT, ModelConfig
from tinylm.models.layers import attend, document_mask
from tinylm.optim import make_optimizer

SMALL = dict(vocab_size=300, context=16, width=32, layers=2, heads=2, smear=False,
             bigram_buckets=0, doc_mask=False, value_embeds=False)


def qkv(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 3, 12, 8, generator=g, requires_grad=True) for _ in range(3)]


@pytest.mark.parametrize("causal", [True, False])
def test_explicit_attention_equals_sdpa_values_and_gradients(causal):
    ours, ref = qkv(), qkv()
    y = attend(*ours, causal)
    y_ref = F.scaled_dot_product_attention(*ref, is_causal=causal)
    assert torch.allclose(y, y_ref, atol=1e-5)
    y.square().sum().backward()
    y_ref.square().sum().backward()
    for a, b in zip(ours, ref):
        assert torch.allclose(a.grad, b.grad, atol=1e-4)


def test_explicit_attention_with_a_mask_equals_sdpa():
    q, k, v = qkv(1)
    idx = torch.randint(1, 300, (2, 12))
    idx[0, 4], idx[1, 9] = EOT_ID, EOT_ID
    mask = document_mask(idx, EOT_ID)
    assert torch.allclose(attend(q, k, v, True, mask),
                          F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-5)


def test_document_mask_by_hand():
    idx = torch.tensor([[5, 6, EOT_ID, 7, 8]])
    mask = document_mask(idx, EOT_ID)
    assert mask.shape == (1, 1, 5, 5) and mask.dtype == torch.bool
    expected = torch.tensor([[1, 0, 0, 0, 0],
                             [1, 1, 0, 0, 0],
                             [1, 1, 1, 0, 0],  # the end-of-text token belongs to its story
                             [0, 0, 0, 1, 0],  # the next story starts afresh
                             [0, 0, 0, 1, 1]], dtype=torch.bool)
    assert torch.equal(mask[0, 0], expected)
    no_ends = document_mask(torch.tensor([[5, 6, 7]]), EOT_ID)[0, 0]
    assert torch.equal(no_ends, torch.ones(3, 3, dtype=torch.bool).tril())  # plain causal


@pytest.mark.parametrize("doc_mask", [True, False])
def test_a_story_does_not_read_the_one_before_it(doc_mask):
    torch.manual_seed(0)
    model = GPT(ModelConfig(**{**SMALL, "doc_mask": doc_mask})).eval()
    x = torch.randint(1, 300, (2, 16))
    x[:, 6] = EOT_ID  # story one is positions 0-6, story two starts at 7
    y = x.clone()
    y[:, :6] = (y[:, :6] + 1) % 299 + 1  # rewrite story one, keep its end
    with torch.no_grad():
        same = torch.allclose(model(x)[:, 7:], model(y)[:, 7:], atol=1e-5)
    assert same == doc_mask  # with the mask, story two cannot tell; without it, it can


def test_doc_mask_rejects_a_tokenizer_with_eot_elsewhere(small_data, fast_cfg, monkeypatch):
    assert small_data.eot_id == EOT_ID  # tinylm's own tokenizer puts it at 0
    monkeypatch.setattr(type(small_data), "eot_id", property(lambda self: 7))
    cfg = ModelConfig(vocab_size=small_data.vocab_size, context=32, width=16, layers=1,
                      heads=2, doc_mask=True)
    with pytest.raises(ValueError, match="doc_mask needs <|endoftext|> at id 0"):
        tinylm.train(small_data, cfg, fast_cfg(steps=2), progress=False)


def test_value_embeddings_start_as_a_no_op_and_stay_causal():
    torch.manual_seed(0)
    plain = GPT(ModelConfig(**SMALL))
    extra = GPT(ModelConfig(**{**SMALL, "value_embeds": True}))
    missing, unexpected = extra.load_state_dict(plain.state_dict(), strict=False)
    assert set(missing) == {"value_embs.0.weight", "value_embs.1.weight"} and not unexpected
    x = torch.randint(0, 300, (2, 16))
    assert torch.allclose(extra(x), plain(x), atol=1e-6)
    with torch.no_grad():
        for table in extra.value_embs:
            table.weight.normal_()
    assert not torch.allclose(extra(x), plain(x), atol=1e-3)
    y = x.clone()
    y[:, 10:] = (y[:, 10:] + 1) % 300  # change the future only
    assert torch.allclose(extra(y)[:, :10], extra(x)[:, :10], atol=1e-5)


def test_value_embeddings_are_tables_for_adamw():
    plain, extra = ModelConfig(**SMALL), ModelConfig(**{**SMALL, "value_embeds": True})
    assert tinylm.models.param_count(extra) - tinylm.models.param_count(plain) == 2 * 300 * 32
    assert tinylm.models.train_flops_per_token(extra) == tinylm.models.train_flops_per_token(plain)
    model = GPT(extra)
    muon, adamw = make_optimizer(model, tinylm.TrainConfig()).optimizers
    in_adamw = {id(p) for g in adamw.param_groups for p in g["params"]}
    in_muon = {id(p) for g in muon.param_groups for p in g["params"]}
    for table in model.value_embs:
        assert id(table.weight) in in_adamw and id(table.weight) not in in_muon


def test_trains_saves_and_samples_with_both(small_data, fast_cfg, tmp_path):
    cfg = ModelConfig(vocab_size=small_data.vocab_size, context=64, width=32, layers=2, heads=2,
                      head="full", doc_mask=True, value_embeds=True)
    result = tinylm.train(small_data, cfg, fast_cfg(steps=40), out_dir=tmp_path / "run",
                          progress=False)
    model = result.model
    assert model.value_embs[0].weight.abs().sum() > 0  # learnt
    assert result.metrics["val_loss"] < np.log(small_data.vocab_size) - 0.5  # beats uniform
    loaded = tinylm.load(tmp_path / "run")
    assert loaded.model.cfg.doc_mask and loaded.model.cfg.value_embeds
    assert torch.equal(loaded.model.value_embs[1].weight, model.value_embs[1].weight)
    text = tinylm.generate(loaded.model, loaded.tokenizer, "Once upon a time",
                           max_new_tokens=10, seed=0)
    assert text.startswith("Once upon a time") and len(text) > len("Once upon a time")


def test_story_starts_put_every_window_at_the_start_of_a_story():
    rng = np.random.default_rng(0)  # stories open with token 1, which appears nowhere else
    stories = [np.r_[1, rng.integers(2, 50, rng.integers(5, 40)), EOT_ID] for _ in range(300)]
    tokens = np.concatenate(stories).astype(np.uint16)
    aligned = Batches(tokens, 32, 64, seed=3, story_eot=EOT_ID)
    anywhere = Batches(tokens, 32, 64, seed=3)
    for _ in range(4):
        x, y = aligned.next()
        assert x.shape == y.shape == (64, 32) and torch.equal(x[:, 1:], y[:, :-1])
        assert (x[:, 0] == 1).all()
    assert (anywhere.next()[0][:, 0] != 1).any()
    with pytest.raises(DataError, match="set story_starts=False"):
        Batches(tokens[tokens != EOT_ID], 32, 64, story_eot=EOT_ID)


def test_trains_with_story_starts(small_data, fast_cfg, monkeypatch):
    training = sys.modules["tinylm.train"]  # the module (tinylm.train is its function)
    made = []
    monkeypatch.setattr(training, "Batches", lambda *a: made.append(Batches(*a)) or made[-1])
    cfg = ModelConfig(vocab_size=small_data.vocab_size, context=64, width=32, layers=2, heads=2)
    result = tinylm.train(small_data, cfg, fast_cfg(steps=30, story_starts=True), progress=False)
    assert made[0].story_starts is not None and result.info["train_config"]["story_starts"]
    assert (small_data.train[made[0].story_starts[1:] - 1] == small_data.eot_id).all()
    assert result.metrics["val_loss"] < np.log(small_data.vocab_size) - 0.5  # beats uniform
