import pytest
import torch

from tinylm.sample import SampleConfig, generate, next_token_probs, stream, stream_tokens
from tinylm.train import TrainConfig, train


@pytest.fixture(scope="module")
def trained(small_data, tiny_model_cfg):
    cfg = TrainConfig(budget_s=3.0, device="cpu", compile="off", threads=1, final_eval_tokens=2048)
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
    assert len(tokens) <= 12
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
