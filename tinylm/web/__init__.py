"""`python -m tinylm web RUN_DIR --out FOLDER`: a static page that samples from a checkpoint in
the browser, with no server, no kernel and no network.

Engine: a small JavaScript twin of the transformer's forward pass (assets/sampler.js), one
token at a time over a key/value cache, computing in float32. Not ONNX: onnxruntime-web fetches
its .wasm at run time, which a page opened from file:// cannot do, and that .wasm alone is
several MB, more than the five-minute model itself; the twin is ~25 kB and implements exactly
the paths tinylm's recipes use (export.py lists them and refuses the rest).

Tokenizer: the npm package @huggingface/tokenizers (vendored in assets/vendor with its Apache
2.0 licence) reads the run's own tokenizer.json, so the page encodes a prompt into the ids
the Python tokenizer gives (tests/test_web.py checks them). Its CommonJS build runs as a classic
inline script once it is handed `module`/`exports`; ES modules and fetch() are blocked from
file://.
"""

from tinylm.web.export import PRECISIONS, check_supported, model_payload
from tinylm.web.page import render, script_json, write_page

__all__ = ["PRECISIONS", "check_supported", "model_payload", "render", "script_json", "write_page"]
