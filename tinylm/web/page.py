"""The page: one self-contained HTML file, the model JSON, the vendored tokenizer and the
sampler inlined, so it opens by double-click (file://) or from any static server, with nothing
fetched. Pages opened from file:// can neither import ES modules nor fetch() files, so every
script is a classic inline one and the weights travel inside the page.

The model JSON sits in a <script type="application/json"> tag with "<", ">" and "&" written as
\\u escapes, so no text in a checkpoint (a token such as "</script>") can end the tag; the page
reads it with JSON.parse and shows text only through textContent.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from pathlib import Path

from tinylm.core.folder import atomic_write
from tinylm.web.export import model_payload

TOKENIZERS_JS_SHA256 = "823659581561e4845b2f5b08b86d2289614dc2a392be35ae6b49a45e284966a6"
DEFAULTS = {"prompt": "Once upon a time", "temperature": "0.8", "top_k": "", "top_p": "",
            "max_new_tokens": "200", "seed": "0"}  # tinylm.core.sample.SampleConfig's, as text

# nothing is fetched, ever: a script that slipped in could not load or send anything
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data:")
# green for tokens the model was sure of, through yellow, to red for surprises: the colours of
# chapter 5's token panel (notebook.views.prob_colour; sampler.js's probColour)
LEGEND = "".join(f'<span style="background:hsl({120 * p:.0f}, 75%, 82%)">{p:.2g}</span>'
                 for p in (0.0, 0.25, 0.5, 0.75, 1.0))

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="@CSP@">
<title>tinylm sampler</title>
<style>
@CSS@
</style>
</head>
<body>
<div data-tinylm-sampler data-tinylm-state="loading">
<h1>tinylm: write with a five-minute model, in your browser</h1>
<div class="tinylm-about" data-tinylm-about></div>
<form class="tinylm-controls" onsubmit="return false">
<label class="tinylm-prompt">prompt<textarea name="prompt" rows="2">@PROMPT@</textarea></label>
<label>temperature<input name="temperature" value="@TEMPERATURE@" inputmode="decimal"></label>
<label>top-k<input name="top_k" value="@TOP_K@" placeholder="off" inputmode="numeric"></label>
<label>top-p<input name="top_p" value="@TOP_P@" placeholder="off" inputmode="decimal"></label>
<label>length<input name="max_new_tokens" value="@MAX_NEW_TOKENS@" inputmode="numeric"></label>
<label>seed<input name="seed" value="@SEED@" inputmode="numeric"></label>
<div><button type="button" data-tinylm-generate>Generate</button></div>
</form>
<div class="tinylm-status" data-tinylm-status>loading the model...</div>
<div class="tinylm-tokens" data-tinylm-tokens></div>
<div class="tinylm-legend">probability of the chosen token:
@LEGEND@
(click a token: its alternatives and where each attention head looked)</div>
<div class="tinylm-detail" data-tinylm-detail></div>
<div class="tinylm-output-label">the continuation as plain text:</div>
<div class="tinylm-output" data-tinylm-output></div>
</div>
<script type="application/json" id="tinylm-model">@MODEL@</script>
<script type="text/plain" id="tinylm-licences">@LICENCE@</script>
<script>
var TinyLMTokenizers = (function (module, exports) {
@TOKENIZERS@
return module.exports;
})({exports: {}}, undefined);
</script>
<script>
@SAMPLER@
</script>
</body>
</html>
"""


def write_page(run_dir: str | Path, out: str | Path, precision: str = "float32",
               verify: bool = True) -> Path:
    """Write `out`/index.html for checkpoint folder `run_dir`; returns its path."""
    payload = model_payload(run_dir, precision, verify)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder for the page")
    page = out / "index.html"
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(page, render(payload))
    except OSError as e:
        raise ValueError(f"cannot write {page}: {e.strerror or e}") from None
    return page


def render(payload: dict) -> str:
    """The page's HTML for a model payload (`export.model_payload`)."""
    parts = {"@CSS@": _asset("sampler.css"), "@MODEL@": script_json(payload),
             "@LICENCE@": _licence(), "@TOKENIZERS@": _tokenizers_js(),
             "@SAMPLER@": _asset("sampler.js"), "@CSP@": CSP, "@LEGEND@": LEGEND}
    parts.update({f"@{k.upper()}@": v for k, v in DEFAULTS.items()})  # our own constants
    # one pass over the template: text inside an inserted part is never read as a placeholder
    return re.sub(r"@[A-Z_]+@", lambda m: parts[m.group()], TEMPLATE)


def script_json(value) -> str:
    """JSON safe inside a <script> element: "<", ">" and "&" as \\u escapes, ASCII only."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _asset(name: str) -> str:
    text = resources.files("tinylm.web").joinpath("assets", name).read_text(encoding="utf-8")
    _check_inlinable(name, text)
    return text


def _tokenizers_js() -> str:
    data = resources.files("tinylm.web").joinpath("assets", "vendor", "tokenizers.min.cjs")
    raw = data.read_bytes()
    if hashlib.sha256(raw).hexdigest() != TOKENIZERS_JS_SHA256:
        raise RuntimeError("tinylm/web/assets/vendor/tokenizers.min.cjs is not the vendored "
                           "@huggingface/tokenizers 0.2.0; reinstall tinylm")
    text = raw.decode("utf-8")
    _check_inlinable("tokenizers.min.cjs", text)
    return text


def _licence() -> str:
    vendor = resources.files("tinylm.web").joinpath("assets", "vendor")
    text = ("This page includes @huggingface/tokenizers 0.2.0 "
            "(https://github.com/huggingface/tokenizers.js), under the Apache License 2.0:\n\n"
            + vendor.joinpath("LICENSE-huggingface-tokenizers.txt").read_text(encoding="utf-8"))
    _check_inlinable("LICENSE-huggingface-tokenizers.txt", text)
    return text


def _check_inlinable(name: str, text: str) -> None:
    lowered = text.lower()
    if "</script" in lowered or "<!--" in lowered or "</style" in lowered:
        raise RuntimeError(f"asset {name} would end its inline tag; it cannot be inlined")
