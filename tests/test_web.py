"""`python -m tinylm web`: the static sampling page, checked in Chromium against PyTorch.

The page's JavaScript forward pass must give torch's logits, its greedy text must be the CLI's,
its tokenizer must give the Python tokenizer's ids, hostile text (a prompt, tokens, the
tokenizer file) must show as text and never run, and the page must work from file:// and a
static server without one request leaving the machine. Tiny models, trained a few seconds per
recipe once per module. Without Chromium or playwright the browser tests skip (CI: fail).
"""

from __future__ import annotations

import json
import random
import shutil
import urllib.parse
from pathlib import Path

import pytest
import torch
from browser import lab
from fast import FAST_TRAIN, TINY_MODEL

import tinylm
from tinylm.cli import main as cli
from tinylm.core import checkpoint
from tinylm.core.data import train_tokenizer
from tinylm.core.models import ModelConfig, build_model
from tinylm.core.sample import SampleConfig, stream_tokens
from tinylm.lab.recipes import RECIPES, run_spec
from tinylm.web import model_payload, render, script_json

pytestmark = pytest.mark.slow
PROMPTS = ["Once upon a time", "The little dog", "Lily said, \"Let's play!\" Then",
           "Tom's mom: héllo — 日本 😀?", ""]
TOKENIZER_TEXTS = PROMPTS + ["  spaces   and\ttabs\n\nnew lines ", "It's, don't; we'll: 123 4567!?",
                             "<img src=x onerror=alert(1)>", "</script><script>x()</script>",
                             "a<|endoftext|>b", "'s 'S 'll x'd", "Ünïcödé ß ﬁ ½ \u2028 \u00a0 end"]
HOSTILE = ['<img src=x onerror="window.__pwned=1">', "</script><script>window.__pwned=1</script>",
           "<script>alert(1)</script>", "<b onmouseover=alert(1)>x</b>", "&lt;&amp;&#60;",
           "\"'><svg onload=alert(1)>", "@SAMPLER@ @MODEL@", "<!-- -->"]


# ---------- runs: trained a few seconds per recipe, and untrained variants of every path ----------

def _train(small_data, tmp: Path, recipe: str, **changes) -> Path:
    spec = run_spec({**RECIPES[recipe], **TINY_MODEL, **changes, **FAST_TRAIN}, budget_s=3,
                    vocab_size=small_data.vocab_size)
    out = tmp / recipe
    tinylm.train(small_data, spec.model, spec.train, out_dir=out, progress=False, if_busy="go")
    return out


def _untrained(small_data, out: Path, **cfg) -> Path:
    """A model with every weight (zero-initialised ones too) perturbed, saved as a checkpoint."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=small_data.vocab_size, **{**TINY_MODEL, **cfg}))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        if cfg.get("head") == "adaptive":
            model.head.set_order(torch.rand(small_data.vocab_size))
    return checkpoint.save(out, model, small_data.tokenizer, {})


@pytest.fixture(scope="module")
def runs(small_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web-runs")
    return {
        # the default recipe with value embeddings on (a budget under 200 s turns them off)
        "default": _train(small_data, tmp, "default", value_embeds=True),
        "gpt2": _train(small_data, tmp, "gpt2"),
        "ngram": _train(small_data, tmp, "default", ngram_order=4),
        "adaptive-rms-swiglu-qknorm-softcap-docmask": _untrained(
            small_data, tmp / "v1", head="adaptive", norm="rmsnorm", mlp="swiglu", qk_norm=True,
            logit_softcap=15.0, value_embeds=True, doc_mask=True),
        "learned-relu2-untied": _untrained(small_data, tmp / "v2", positions="learned", mlp="relu2",
                                           smear=False, head="full", value_embeds=False),
    }


@pytest.fixture(scope="module")
def pages(runs, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web-pages")
    out = {}
    for name, run in runs.items():
        assert cli.main(["web", str(run), "--out", str(tmp / name)]) == 0
        out[name] = tmp / name / "index.html"
    return out


@pytest.fixture(scope="module")
def browser():
    lab.chromium_path()  # skip (or fail in CI) before starting anything
    with lab.chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    """A fresh page recording page errors and dialogs (a dialog means script ran)."""
    with lab.new_page(browser) as p:
        p.errors, p.dialogs = [], []
        p.on("pageerror", lambda e: p.errors.append(str(e)))
        p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))
        yield p


def _open(page, url: str, **query) -> str:
    """Open the page (autorun) and wait for the generation to end; returns the state."""
    page.goto(url + ("?" + urllib.parse.urlencode(query) if query else ""))
    page.wait_for_selector("[data-tinylm-state=done], [data-tinylm-state=error]", timeout=60_000)
    return page.locator("[data-tinylm-sampler]").get_attribute("data-tinylm-state")


def _clean(page) -> None:
    assert page.errors == [] and page.dialogs == [] and page.console_errors == [], (
        page.errors, page.dialogs, page.console_errors)


# ---------- in Chromium ----------

@pytest.mark.parametrize("name", ["default", "gpt2", "ngram",
                                  "adaptive-rms-swiglu-qknorm-softcap-docmask",
                                  "learned-relu2-untied"])
def test_js_logits_match_torch(runs, pages, page, name):
    ckpt = checkpoint.load(runs[name])
    tok = ckpt.tokenizer
    ids = [0] + tok.encode("Once upon a time, Lily").ids + [0] + tok.encode("The end.").ids
    with torch.no_grad():
        expected = ckpt.model(torch.tensor([ids]))[0]
    if name == "ngram":  # the page mixes in the counts, as torch does
        assert ckpt.model.ngram.fitted and ckpt.model.ngram.l4_count.numel() > 0
        alone = ckpt.model.ngram.mix
        ckpt.model.ngram.mix = torch.zeros(0)
        assert not torch.allclose(ckpt.model(torch.tensor([ids]))[0], expected, atol=1e-3)
        ckpt.model.ngram.mix = alone
    page.goto(pages[name].as_uri())
    page.wait_for_selector("[data-tinylm-state=ready]")
    got = torch.tensor(page.evaluate("ids => window.tinylm.logits(ids)", ids))
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    _clean(page)


@pytest.mark.parametrize("name", ["default", "gpt2", "ngram"])
def test_greedy_page_equals_cli(runs, pages, page, capsys, name):
    ckpt = checkpoint.load(runs[name])
    # 50 tokens per prompt; 100 tokens run past the 64-token context, where the window slides
    for prompt, n in [(p, 50) for p in PROMPTS] + [(PROMPTS[0], 100)]:
        capsys.readouterr()
        assert cli.main(["sample", str(runs[name]), "--prompt", prompt, "--temperature", "0",
                         "--max-new-tokens", str(n)]) == 0
        printed = capsys.readouterr().out
        assert printed.startswith(prompt) and printed.endswith("\n")
        expected_text = printed[len(prompt):-1]
        expected_ids = [t for t, _ in stream_tokens(ckpt.model, ckpt.tokenizer, prompt,
                                                   SampleConfig(temperature=0, max_new_tokens=n))]
        state = _open(page, pages[name].as_uri(), prompt=prompt, temperature=0, max_new_tokens=n,
                      autorun=1)
        assert state == "done"
        root = page.locator("[data-tinylm-sampler]")
        assert json.loads(root.get_attribute("data-tinylm-ids")) == expected_ids, prompt
        assert page.locator("[data-tinylm-output]").text_content() == expected_text, prompt
    _clean(page)


def test_tokenizer_ids_and_text_match_python(runs, pages, page):
    tok = checkpoint.load(runs["default"]).tokenizer
    page.goto(pages["default"].as_uri())
    page.wait_for_selector("[data-tinylm-state=ready]")
    got = page.evaluate("texts => texts.map(t => window.tinylm.encode(t))", TOKENIZER_TEXTS)
    assert got == [tok.encode(t).ids for t in TOKENIZER_TEXTS]
    decoded = page.evaluate("all => all.map(ids => window.tinylm.decode(ids))", got)
    assert decoded == [tok.decode(ids) for ids in got]
    _clean(page)


def test_seed_repeats_text_and_settings_come_from_the_url(pages, page):
    url = pages["default"].as_uri()
    texts = []
    for seed in (7, 7, 8):
        assert _open(page, url, prompt="The cat", temperature=1.0, top_k=40, top_p=0.9,
                     max_new_tokens=30, seed=seed, autorun=1) == "done"
        texts.append(page.locator("[data-tinylm-output]").text_content())
        assert page.locator("textarea[name=prompt]").input_value() == "The cat"
        assert page.locator("input[name=top_k]").input_value() == "40"
    assert texts[0] == texts[1] and texts[0] != texts[2]
    assert "tokens/s" in page.locator("[data-tinylm-status]").text_content()
    # a bad setting from the URL: one line, no generation
    assert _open(page, url, temperature="hot", autorun=1) == "error"
    assert "temperature" in page.locator("[data-tinylm-status]").text_content()
    _clean(page)


def test_token_detail_shows_alternatives_and_attention(runs, pages, page):
    cfg = checkpoint.load(runs["default"]).model_config
    assert _open(page, pages["default"].as_uri(), prompt="Once", temperature=0, max_new_tokens=12,
                 autorun=1) == "done"
    tokens = page.locator("[data-tinylm-token]")
    assert tokens.count() == 12
    tokens.nth(5).click()
    assert page.locator("[data-tinylm-alternatives] li").count() == 5
    rows = page.locator("[data-tinylm-attention] .tinylm-attention-row")
    assert rows.count() == cfg.layers * cfg.heads
    # the 6th token was chosen at the position of token 5: <eot>, "Once" and 5 generated tokens
    assert rows.nth(0).locator(".tinylm-attention-token").count() == 1 + 1 + 5
    weights = page.evaluate("""() => [...document.querySelectorAll('.tinylm-attention-row')].map(
        r => [...r.querySelectorAll('.tinylm-attention-token')].map(
            t => parseFloat(t.title.replace('weight ', ''))).reduce((a, b) => a + b, 0))""")
    assert all(abs(w - 1) < 0.01 for w in weights)
    _clean(page)


def test_hostile_prompt_and_tokens_show_as_text(small_data, tmp_path, page):
    rng = random.Random(0)
    docs = [" ".join(rng.choices(HOSTILE, k=6)) for _ in range(400)]
    tok = train_tokenizer(docs, 512)
    assert any("<script" in t or "onerror" in t for t in tok.get_vocab())
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=tok.get_vocab_size(), context=256, width=32, layers=1,
                                    heads=2, head="full"))
    # a model that writes markup: one embedding for every token and no block output keep the
    # final hidden state fixed, so the head sets the logits: markup likely, end-of-text never
    scores = torch.tensor([3.0 if any(c in t for c in "<>&@") else 0.0
                           for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])])
    scores[0] = -50.0
    with torch.no_grad():
        model.tok_emb.weight.copy_(torch.randn(32).expand_as(model.tok_emb.weight))
        for block in model.blocks:
            block.attn.proj.weight.zero_()
            block.mlp.proj.weight.zero_()
        h = model.hidden(torch.tensor([[1, 2]]))[0, -1]
        model.head.weight.copy_(scores[:, None] * h[None, :] / (h @ h))
    run = checkpoint.save(tmp_path / "hostile", model, tok, {})
    out = tmp_path / "page"
    assert cli.main(["web", str(run), "--out", str(out)]) == 0
    html = (out / "index.html").read_text()
    assert "window.__pwned" not in html and "<script>alert" not in html  # all escaped in the JSON
    prompt = HOSTILE[0] + HOSTILE[1]
    assert _open(page, (out / "index.html").as_uri(), prompt=prompt, temperature=1,
                 max_new_tokens=150, seed=0, autorun=1) == "done"
    ids = json.loads(page.locator("[data-tinylm-sampler]").get_attribute("data-tinylm-ids"))
    text = page.locator("[data-tinylm-output]").text_content()
    assert text == tok.decode(ids) and sum("<" in tok.decode([i]) for i in ids) > 10
    assert page.locator("[data-tinylm-tokens]").text_content() == prompt + "".join(
        tok.decode([i]) for i in ids)
    page.locator("[data-tinylm-token]").nth(3).click()  # the attention view shows the prompt's pieces
    assert page.locator("[data-tinylm-attention]").is_visible()
    page.locator("[data-tinylm-token]").nth(3).hover()
    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => document.querySelectorAll('img, svg, b[onmouseover]').length") == 0
    assert page.evaluate("() => document.scripts.length") == 4  # the page's own
    _clean(page)


@pytest.mark.parametrize("where", ["file", "server"])
def test_page_makes_no_outside_request(pages, page, where):
    folder = pages["default"].parent
    requests, failed, blocked = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failed.append(r.url))

    def only_local(route):
        url = route.request.url
        if url.startswith(("file://", "http://127.0.0.1:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", only_local)
    if where == "file":
        state = _open(page, pages["default"].as_uri(), max_new_tokens=20, autorun=1)
    else:
        with lab.static_server(folder) as base:
            state = _open(page, f"{base}/index.html", max_new_tokens=20, autorun=1)
    assert state == "done"
    assert len(page.locator("[data-tinylm-output]").text_content()) > 0
    assert failed == [] and blocked == [] and len(requests) == 1, (requests, failed, blocked)
    _clean(page)


# ---------- the command line and the page's JSON ----------

def test_cli_refuses_bad_folders_and_unsupported_models(runs, small_data, tmp_path, capsys):
    def web(run) -> str:
        capsys.readouterr()
        assert cli.main(["web", str(run), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        return err

    assert "no checkpoint folder" in web(tmp_path / "missing")
    lstm = build_model(ModelConfig(family="lstm", vocab_size=small_data.vocab_size, width=32, layers=1,
                                   context=64))
    assert "'lstm'" in web(checkpoint.save(tmp_path / "lstm", lstm, small_data.tokenizer, {}))
    retired = shutil.copytree(runs["gpt2"], tmp_path / "retired")  # an older tinylm's run
    index = json.loads((retired / "checkpoint.json").read_text())
    index["model_config"]["bigram_buckets"] = 64  # an option measured and dropped since
    (retired / "checkpoint.json").write_text(json.dumps(index))
    assert "retired (bigram_buckets=64)" in web(retired)
    for name in ("weights", "tokenizer.json"):  # tampered: refused as tinylm.load refuses it
        run = shutil.copytree(runs["gpt2"], tmp_path / f"tampered-{name}")
        f = next(run.glob("weights-*")) if name == "weights" else run / "tokenizer.json"
        data = bytearray(f.read_bytes())
        data[-2] ^= 1
        f.write_bytes(bytes(data))
        with pytest.raises(checkpoint.CheckpointError) as refused:
            checkpoint.load(run)
        assert web(run) == f"error: {refused.value}\n"
    (tmp_path / "a-file").write_text("")
    capsys.readouterr()
    assert cli.main(["web", str(runs["gpt2"]), "--out", str(tmp_path / "a-file")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_embedded_json_cannot_close_its_script():
    text = script_json({"a": "</script><script>alert(1)</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text)["a"].startswith("</script>")


def test_page_parts_are_inserted_once(runs):
    payload = model_payload(runs["gpt2"])
    payload["about"] = "@SAMPLER@ @MODEL@ </script>"
    html = render(payload)
    assert html.count("function mulberry32") == 1 and html.count("</script>") == 4
    assert payload["config"]["tie_embeddings"] and "head.weight" not in payload["tensors"]
    half = model_payload(runs["gpt2"], "float16")
    assert len(half["weights"]) < 0.6 * len(payload["weights"])
