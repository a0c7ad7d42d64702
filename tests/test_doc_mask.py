"""The document attention mask: each story attends only to itself, never to the end of the one
before it in the window; the explicit CPU attention path (which takes the mask) equals
PyTorch's SDPA; a model with the mask trains, saves and samples."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tinylm
from tinylm.core.corpus import EOT_ID
from tinylm.core.models import GPT, ModelConfig
from tinylm.core.models.layers import attend, document_mask

SMALL = dict(vocab_size=300, context=16, width=32, layers=2, heads=2, smear=False,
             doc_mask=False, value_embeds=False)


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
    with pytest.raises(ValueError, match=r"doc_mask needs <\|endoftext\|> at id 0"):
        tinylm.train(small_data, cfg, fast_cfg(steps=2), progress=False)


def test_trains_saves_and_samples_with_the_mask(small_data, fast_cfg, tmp_path):
    cfg = ModelConfig(vocab_size=small_data.vocab_size, context=64, width=32, layers=2, heads=2,
                      head="full", doc_mask=True, value_embeds=False)
    result = tinylm.train(small_data, cfg, fast_cfg(steps=40), out_dir=tmp_path / "run",
                          progress=False)
    model = result.model
    assert result.metrics["val_loss"] < np.log(small_data.vocab_size) - 0.5  # beats uniform
    loaded = tinylm.load(tmp_path / "run")
    assert loaded.model.cfg.doc_mask and not loaded.model.cfg.value_embeds
    for name, weight in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], weight), name
    text = tinylm.generate(loaded.model, loaded.tokenizer, "Once upon a time",
                           max_new_tokens=10, seed=0)
    assert text.startswith("Once upon a time") and len(text) > len("Once upon a time")
