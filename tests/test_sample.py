import pytest
import torch

from tinylm.core.sample import SampleConfig, generate, next_token_probs, stream, stream_tokens
from tinylm.runs.train import train


@pytest.fixture(scope="module")
def trained(small_data, tiny_model_cfg, fast_cfg):
    cfg = fast_cfg(budget_s=3.0, final_eval_tokens=2048)
    return train(small_data, tiny_model_cfg, cfg, progress=False).model, small_data.tokenizer


def test_same_seed_same_text_other_seed_other_text(trained):
    model, tok = trained
    a = generate(model, tok, "Once upon a time", seed=7, max_new_tokens=40)
    b = generate(model, tok, "Once upon a time", seed=7, max_new_tokens=40)
    c = generate(model, tok, "Once upon a time", seed=8, max_new_tokens=40)
    assert a == b and a != c
    assert a.startswith("Once upon a time") and len(a) > len("Once upon a time")


def test_stream_pieces_join_to_the_generated_text(trained):
    model, tok = trained
    pieces = list(stream(model, tok, "The dog", seed=3, max_new_tokens=30))
    assert len(pieces) > 1
    assert "The dog" + "".join(pieces) == generate(model, tok, "The dog", seed=3,
                                                   max_new_tokens=30)


def test_length_limit_and_greedy_is_deterministic(trained):
    model, tok = trained
    tokens = list(stream_tokens(model, tok, "Tom", SampleConfig(max_new_tokens=12, temperature=0)))
    # a trained model rarely ends a story within 12 tokens of "Tom": exactly 12 unless it did
    eot = tok.token_to_id("<|endoftext|>")
    assert 1 <= len(tokens) <= 12 and eot not in [t for t, _ in tokens]
    if len(tokens) < 12:  # it stopped early: only because the end of a story was most likely
        greedy_next = model(torch.tensor([[eot, *tok.encode("Tom").ids, *[t for t, _ in tokens]]]))
        assert int(greedy_next[0, -1].argmax()) == eot
    for _, probs in tokens:  # every step yields the full next-token distribution
        assert probs.shape == (tok.get_vocab_size(),) and probs.sum().item() == pytest.approx(1.0)
    assert [t for t, _ in tokens] == [t for t, _ in stream_tokens(
        model, tok, "Tom", SampleConfig(max_new_tokens=12, temperature=0, seed=99))]


def test_top_k_and_top_p_restrict_the_distribution():
    logits = torch.tensor([4.0, 3.0, 2.0, 1.0, 0.0])
    p = next_token_probs(logits, SampleConfig(temperature=1.0, top_k=2))
    assert (p[2:] == 0).all() and p.sum().item() == pytest.approx(1.0)
    p = next_token_probs(logits, SampleConfig(temperature=1.0, top_p=0.5))
    assert p[0] == 1.0  # the top token alone holds > 50% of the mass
    p = next_token_probs(logits, SampleConfig(temperature=0))
    assert p.tolist() == [1.0, 0, 0, 0, 0]


@pytest.mark.parametrize("bad", [dict(max_new_tokens=0), dict(temperature=-1), dict(top_k=0),
                                 dict(top_p=1.5)])
def test_bad_sampling_settings(trained, bad):
    model, tok = trained
    with pytest.raises(ValueError):
        generate(model, tok, "x", **bad)
