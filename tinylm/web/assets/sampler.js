/* tinylm web sampler: a JavaScript twin of tinylm's transformer forward pass (one token at a
 * time, with a key/value cache), its sampler and the page's controls. Classic script, no
 * imports, no fetch: the page works from file://. Untrusted text (the URL's prompt, model
 * tokens, anything from the checkpoint) only ever reaches the page through textContent,
 * title or data attributes, never through innerHTML. */
(function () {
  "use strict";

  // ---------- weights: one base64 blob, tensors at 4-byte aligned offsets ----------

  function base64Bytes(text) {
    if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  const HALF = (function () { // float16 bit pattern -> float32 value, all 65536 of them
    const table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
      if (exp === 0) table[h] = sign * frac * Math.pow(2, -24);
      else if (exp === 31) table[h] = frac ? NaN : sign * Infinity;
      else table[h] = sign * (1 + frac / 1024) * Math.pow(2, exp - 15);
    }
    return table;
  })();

  function readTensors(spec, bytes) {
    const out = {};
    for (const name of Object.keys(spec)) {
      const t = spec[name], n = t.shape.reduce((a, b) => a * b, 1);
      if (t.dtype === "f32") out[name] = new Float32Array(bytes.buffer, bytes.byteOffset + t.offset, n);
      else if (t.dtype === "i32") out[name] = new Int32Array(bytes.buffer, bytes.byteOffset + t.offset, n);
      else if (t.dtype === "i16") out[name] = new Int16Array(bytes.buffer, bytes.byteOffset + t.offset, n);
      else if (t.dtype === "f16") {
        const half = new Uint16Array(bytes.buffer, bytes.byteOffset + t.offset, n);
        const f = new Float32Array(n);
        for (let i = 0; i < n; i++) f[i] = HALF[half[i]];
        out[name] = f;
      } else throw new Error("unknown tensor dtype " + t.dtype);
    }
    return out;
  }

  // ---------- the forward pass ----------

  function matvec(W, rows, cols, x, out) { // out[r] = W[r, :] . x, W row-major [rows, cols]
    for (let r = 0, o = 0; r < rows; r++, o += cols) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, c = 0;
      for (; c + 3 < cols; c += 4) {
        s0 += W[o + c] * x[c]; s1 += W[o + c + 1] * x[c + 1];
        s2 += W[o + c + 2] * x[c + 2]; s3 += W[o + c + 3] * x[c + 3];
      }
      for (; c < cols; c++) s0 += W[o + c] * x[c];
      out[r] = (s0 + s1) + (s2 + s3);
    }
    return out;
  }

  function norm(kind, eps, x, w, out, start, n) { // LayerNorm (no bias) or RMSNorm of x[start:start+n]
    let mean = 0;
    if (kind === "layernorm") {
      for (let i = 0; i < n; i++) mean += x[start + i];
      mean /= n;
    }
    let sq = 0;
    for (let i = 0; i < n; i++) { const d = x[start + i] - mean; sq += d * d; }
    const scale = 1 / Math.sqrt(sq / n + eps);
    for (let i = 0; i < n; i++) out[start + i] = (x[start + i] - mean) * scale * w[i];
    return out;
  }

  function gelu(x) { // tanh approximation, as the model's F.gelu(approximate="tanh")
    return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
  }

  function logSoftmaxInPlace(a) {
    let m = -Infinity;
    for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
    let s = 0;
    for (let i = 0; i < a.length; i++) s += Math.exp(a[i] - m);
    const lse = m + Math.log(s);
    for (let i = 0; i < a.length; i++) a[i] -= lse;
    return a;
  }

  // ---------- the n-gram memory: tinylm.core.models.ngram, at the newest position ----------

  class NGram {
    /** The trie of counts, with its probabilities derived as `NGramMemory.derive` derives
     * them: float32 results of the same operations (a Float32Array stores each rounded). */
    constructor(cfg, W) {
      const order = cfg.ngram_order, D = W["ngram.discount"];
      this.order = order;
      this.vocab = cfg.vocab_size;
      this.unigram = W["ngram.unigram"];
      this.mix = W["ngram.mix"]; // empty: not fitted, the network predicts alone
      this.first = [], this.backoff = [], this.next = [], this.prob = []; // indexed by level
      for (let k = 1; k < order; k++) {
        const children = W["ngram.l" + k + "_children"], counts = W["ngram.l" + (k + 1) + "_count"];
        const first = new Int32Array(children.length + 1);
        for (let i = 0; i < children.length; i++) first[i + 1] = first[i] + children[i];
        const backoff = new Float32Array(children.length), prob = new Float32Array(counts.length);
        const d = D[k + 1];
        for (let i = 0; i < children.length; i++) {
          let total = 0, kinds = 0;
          for (let e = first[i]; e < first[i + 1]; e++) { total += counts[e]; if (counts[e] > 0) kinds++; }
          const t = Math.fround(total);
          backoff[i] = total > 0 ? Math.fround(d * kinds) / t : 1;
          for (let e = first[i]; e < first[i + 1]; e++) prob[e] = Math.max(Math.fround(counts[e] - d), 0) / t;
        }
        this.first[k] = first;
        this.backoff[k] = backoff;
        this.next[k + 1] = W["ngram.l" + (k + 1) + "_next"];
        this.prob[k + 1] = prob;
      }
    }

    get fitted() { return this.mix.length > 0; }

    child(level, node, token) { // the entry below `node` whose last token is `token`, or -1
      const first = this.first[level], next = this.next[level + 1];
      let lo = first[node], hi = first[node + 1];
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (next[mid] < token) lo = mid + 1; else hi = mid;
      }
      return lo < first[node + 1] && next[lo] === token ? lo : -1;
    }

    /** p_ngram [vocab] after `ids` (the window, oldest first), and the longest known order. */
    probs(ids) {
      const p = Float32Array.from(this.unigram), i = ids.length - 1;
      let known = 1;
      for (let n = 2; n <= this.order && i >= n - 2; n++) {
        let node = ids[i - (n - 2)]; // the context's oldest token: a level-1 entry
        for (let k = 2; k < n && node >= 0; k++) node = this.child(k - 1, node, ids[i - (n - 1 - k)]);
        if (node < 0) continue;
        const first = this.first[n - 1], start = first[node], end = first[node + 1];
        if (end <= start) continue;
        const b = this.backoff[n - 1][node], next = this.next[n], prob = this.prob[n];
        for (let w = 0; w < p.length; w++) p[w] *= b; // the mass handed down
        for (let e = start; e < end; e++) p[next[e]] += prob[e];
        known = n;
      }
      return { p: p, known: known };
    }

    /** log(lam * p_network + (1 - lam) * p_ngram) from the network's logits after `ids`. */
    mixed(logits, ids) {
      const lp = logSoftmaxInPlace(Float64Array.from(logits)), ng = this.probs(ids);
      const lam = this.mix[ng.known - 1], a = Math.log(lam), b = Math.log(Math.fround(1 - lam));
      const out = new Float32Array(lp.length);
      for (let w = 0; w < lp.length; w++) {
        const x = lp[w] + a, y = Math.log(ng.p[w]) + b, m = Math.max(x, y);
        out[w] = m + Math.log(Math.exp(x - m) + Math.exp(y - m));
      }
      return out;
    }
  }

  class Model {
    constructor(cfg, W) {
      this.cfg = cfg;
      this.W = W;
      const w = cfg.width, hd = w / cfg.heads;
      this.hd = hd;
      this.hidden = cfg.mlp_hidden;
      if (cfg.positions === "rotary") { // angles pos * 10000^(-2i/hd), as Rotary's buffers
        const half = hd / 2;
        this.cos = new Float32Array(cfg.context * half);
        this.sin = new Float32Array(cfg.context * half);
        for (let p = 0; p < cfg.context; p++) {
          for (let i = 0; i < half; i++) {
            const freq = Math.fround(1 / Math.pow(cfg.rotary_base, Math.fround((2 * i) / hd)));
            const angle = Math.fround(p * freq);
            this.cos[p * half + i] = Math.cos(angle);
            this.sin[p * half + i] = Math.sin(angle);
          }
        }
      }
      this.k = [], this.v = [];
      for (let l = 0; l < cfg.layers; l++) {
        this.k.push(new Float32Array(cfg.context * w));
        this.v.push(new Float32Array(cfg.context * w));
      }
      this.x = new Float32Array(w); this.h = new Float32Array(w); this.y = new Float32Array(w);
      this.tmp = new Float32Array(w); this.qkv = new Float32Array(3 * w);
      this.up = new Float32Array(this.hidden); this.gate = new Float32Array(this.hidden);
      this.scores = new Float32Array(cfg.context);
      this.ngram = cfg.ngram_order ? new NGram(cfg, W) : null;
      this.reset();
    }

    reset() {
      this.ids = []; // the tokens in the cache, position 0 first
      this.docs = []; // stories (end-of-text tokens) before each position, for doc_mask
    }

    /** Feed one token at the next position; returns {logits, attention[layer][head]}. */
    step(token) {
      const cfg = this.cfg, W = this.W, w = cfg.width, hd = this.hd, pos = this.ids.length;
      if (pos >= cfg.context) throw new Error("the cache is full: reset it first");
      if (!(token >= 0 && token < cfg.vocab_size)) throw new Error("token id out of range: " + token);
      const x = this.x, h = this.h;
      x.set(W["tok_emb.weight"].subarray(token * w, token * w + w));
      if (cfg.smear && pos > 0) { // a gated share of the previous token's own embedding
        const prev = this.ids[pos - 1], g = W["smear_gate"], table = W["tok_emb.weight"];
        let dot = 0;
        for (let i = 0; i < g.length; i++) dot += x[i] * g[i];
        const gate = Math.fround(1 / (1 + Math.exp(-dot)));
        const scale = Math.fround(W["smear_lambda"][0] * gate);
        for (let i = 0; i < w; i++) x[i] += scale * table[prev * w + i];
      }
      if (cfg.positions === "learned") {
        const pe = W["pos_emb.weight"];
        for (let i = 0; i < w; i++) x[i] += pe[pos * w + i];
      }
      const doc = pos === 0 ? 0 : this.docs[pos - 1] + (this.ids[pos - 1] === cfg.eot_id ? 1 : 0);
      this.ids.push(token);
      this.docs.push(doc);
      const attention = [];
      for (let l = 0; l < cfg.layers; l++) {
        const p = "blocks." + l + ".";
        norm(cfg.norm, cfg.norm_eps, x, W[p + "norm1.weight"], h, 0, w);
        const qkv = matvec(W[p + "attn.qkv.weight"], 3 * w, w, h, this.qkv);
        if (cfg.value_embeds) {
          const ve = W["value_embs." + l + ".weight"];
          for (let i = 0; i < w; i++) qkv[2 * w + i] += ve[token * w + i];
        }
        for (let head = 0; head < cfg.heads; head++) {
          const q0 = head * hd, k0 = w + head * hd;
          if (cfg.qk_norm) {
            norm("rmsnorm", cfg.qk_norm_eps, qkv, W[p + "attn.q_norm.weight"], qkv, q0, hd);
            norm("rmsnorm", cfg.qk_norm_eps, qkv, W[p + "attn.k_norm.weight"], qkv, k0, hd);
          }
          if (cfg.positions === "rotary") { this.rotate(qkv, q0, pos); this.rotate(qkv, k0, pos); }
        }
        const K = this.k[l], V = this.v[l];
        K.set(qkv.subarray(w, 2 * w), pos * w);
        V.set(qkv.subarray(2 * w, 3 * w), pos * w);
        const y = this.y, scale = 1 / Math.sqrt(hd), heads = [];
        for (let head = 0; head < cfg.heads; head++) {
          const q0 = head * hd, s = this.scores;
          let m = -Infinity;
          for (let j = 0; j <= pos; j++) {
            if (cfg.doc_mask && this.docs[j] !== doc) { s[j] = -Infinity; continue; }
            let d = 0;
            for (let i = 0; i < hd; i++) d += qkv[q0 + i] * K[j * w + q0 + i];
            s[j] = d * scale;
            if (s[j] > m) m = s[j];
          }
          let sum = 0;
          for (let j = 0; j <= pos; j++) { s[j] = Math.exp(s[j] - m); sum += s[j]; }
          const probs = new Float32Array(pos + 1);
          for (let i = 0; i < hd; i++) y[q0 + i] = 0;
          for (let j = 0; j <= pos; j++) {
            const a = s[j] / sum;
            probs[j] = a;
            if (a === 0) continue;
            for (let i = 0; i < hd; i++) y[q0 + i] += a * V[j * w + q0 + i];
          }
          heads.push(probs);
        }
        attention.push(heads);
        matvec(W[p + "attn.proj.weight"], w, w, y, this.tmp);
        for (let i = 0; i < w; i++) x[i] += this.tmp[i];
        norm(cfg.norm, cfg.norm_eps, x, W[p + "norm2.weight"], h, 0, w);
        this.mlp(p, h);
        for (let i = 0; i < w; i++) x[i] += this.tmp[i];
      }
      norm(cfg.norm, cfg.norm_eps, x, W["norm.weight"], h, 0, w);
      let logits = this.head(h);
      if (this.ngram && this.ngram.fitted) logits = this.ngram.mixed(logits, this.ids);
      return { logits: logits, attention: attention };
    }

    rotate(a, start, pos) { // rotary: pairs (a[i], a[i + hd/2]) turned by position's angle
      const half = this.hd / 2, c = this.cos, s = this.sin, o = pos * half;
      for (let i = 0; i < half; i++) {
        const x1 = a[start + i], x2 = a[start + half + i];
        a[start + i] = x1 * c[o + i] - x2 * s[o + i];
        a[start + half + i] = x1 * s[o + i] + x2 * c[o + i];
      }
    }

    mlp(p, h) { // into this.tmp
      const cfg = this.cfg, W = this.W, w = cfg.width, n = this.hidden, up = this.up;
      matvec(W[p + "mlp.up.weight"], n, w, h, up);
      if (cfg.mlp === "swiglu") {
        matvec(W[p + "mlp.gate.weight"], n, w, h, this.gate);
        for (let i = 0; i < n; i++) { const g = this.gate[i]; up[i] *= g / (1 + Math.exp(-g)); }
      } else if (cfg.mlp === "relu2") {
        for (let i = 0; i < n; i++) { const r = up[i] > 0 ? up[i] : 0; up[i] = r * r; }
      } else {
        for (let i = 0; i < n; i++) up[i] = gelu(up[i]);
      }
      matvec(W[p + "mlp.proj.weight"], w, n, up, this.tmp);
    }

    head(h) { // logits [vocab] (an adaptive head gives log-probabilities, as in torch)
      const cfg = this.cfg, W = this.W, w = cfg.width, V = cfg.vocab_size, cap = cfg.logit_softcap;
      const softcap = (a) => { if (cap) for (let i = 0; i < a.length; i++) a[i] = cap * Math.tanh(a[i] / cap); return a; };
      if (cfg.head === "full") {
        const table = cfg.tie_embeddings ? W["tok_emb.weight"] : W["head.weight"];
        return softcap(matvec(table, V, w, h, new Float32Array(V)));
      }
      const s = cfg.shortlist, tw = cfg.head_tail_width;
      const short = logSoftmaxInPlace(softcap(matvec(W["head.short.weight"], s + 1, w, h, new Float32Array(s + 1))));
      const down = matvec(W["head.tail_down.weight"], tw, w, h, new Float32Array(tw));
      const tail = logSoftmaxInPlace(softcap(matvec(W["head.tail_up.weight"], V - s, tw, down, new Float32Array(V - s))));
      const rank = W["head.rank"], out = new Float32Array(V);
      for (let id = 0; id < V; id++) {
        const r = rank[id];
        out[id] = r < s ? short[r] : short[s] + tail[r - s];
      }
      return out;
    }

    /** The next-token logits after `ids`, as tinylm.sample sees them: the last `context`
     * tokens, from position 0. Reuses the cache while the window only grows. */
    next(ids) {
      const window = ids.length > this.cfg.context ? ids.slice(ids.length - this.cfg.context) : ids;
      let same = this.ids.length <= window.length;
      for (let i = 0; same && i < this.ids.length; i++) same = this.ids[i] === window[i];
      if (!same || this.ids.length === window.length) this.reset();
      let out = null;
      for (let i = this.ids.length; i < window.length; i++) out = this.step(window[i]);
      out.offset = ids.length - window.length; // attention index j is token ids[offset + j]
      return out;
    }
  }

  // ---------- sampling: tinylm.sample.next_token_probs, with a seeded generator ----------

  function mulberry32(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function softmax(logits, temperature) {
    const out = new Float64Array(logits.length);
    let m = -Infinity;
    for (let i = 0; i < logits.length; i++) if (logits[i] > m) m = logits[i];
    let s = 0;
    for (let i = 0; i < logits.length; i++) { out[i] = Math.exp((logits[i] - m) / temperature); s += out[i]; }
    for (let i = 0; i < out.length; i++) out[i] /= s;
    return out;
  }

  function argmax(a) {
    let best = 0;
    for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
    return best;
  }

  function pick(logits, settings, random) {
    if (settings.temperature === 0) return argmax(logits);
    const scaled = Float32Array.from(logits, (v) => v / settings.temperature);
    if (settings.top_k && settings.top_k < scaled.length) {
      const kth = Float32Array.from(scaled).sort().reverse()[settings.top_k - 1];
      for (let i = 0; i < scaled.length; i++) if (scaled[i] < kth) scaled[i] = -Infinity;
    }
    const probs = softmax(scaled, 1);
    if (settings.top_p && settings.top_p < 1) {
      const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]);
      let before = 0;
      const keep = new Float64Array(probs.length);
      for (const i of order) {
        if (before >= settings.top_p) break; // always keeps the most likely token
        keep[i] = probs[i];
        before += probs[i];
      }
      let s = 0;
      for (let i = 0; i < keep.length; i++) s += keep[i];
      for (let i = 0; i < keep.length; i++) probs[i] = keep[i] / s;
    }
    let u = random(), last = 0;
    for (let i = 0; i < probs.length; i++) {
      if (probs[i] > 0) last = i;
      u -= probs[i];
      if (u < 0) return i;
    }
    return last;
  }

  function topAlternatives(probs, n) { // the n most likely [id, p], without sorting the vocabulary
    const best = [];
    for (let i = 0; i < probs.length; i++) {
      if (best.length === n && probs[i] <= best[n - 1][1]) continue;
      let k = best.length < n ? best.length : n - 1;
      best[k] = [i, probs[i]];
      for (; k > 0 && best[k][1] > best[k - 1][1]; k--) [best[k], best[k - 1]] = [best[k - 1], best[k]];
    }
    return best;
  }

  // ---------- settings from the controls or the URL ----------

  const LIMITS = { max_new_tokens: 2000 };

  function parseSettings(raw) { // strings -> numbers, or throw a one-line message naming the field
    const num = (name, text) => {
      const v = Number(text);
      if (text === "" || !Number.isFinite(v)) throw new Error(name + " must be a number, got " + JSON.stringify(text));
      return v;
    };
    const s = {};
    s.temperature = num("temperature", raw.temperature);
    if (s.temperature < 0 || s.temperature > 100) throw new Error("temperature must be between 0 and 100");
    s.top_k = raw.top_k === "" ? null : num("top_k", raw.top_k);
    if (s.top_k !== null && (!Number.isInteger(s.top_k) || s.top_k < 1)) throw new Error("top_k must be a positive integer or empty");
    s.top_p = raw.top_p === "" ? null : num("top_p", raw.top_p);
    if (s.top_p !== null && !(s.top_p > 0 && s.top_p <= 1)) throw new Error("top_p must be in (0, 1] or empty");
    s.max_new_tokens = num("max_new_tokens", raw.max_new_tokens);
    if (!Number.isInteger(s.max_new_tokens) || s.max_new_tokens < 1 || s.max_new_tokens > LIMITS.max_new_tokens)
      throw new Error("max_new_tokens must be an integer from 1 to " + LIMITS.max_new_tokens);
    s.seed = num("seed", raw.seed);
    if (!Number.isInteger(s.seed)) throw new Error("seed must be an integer");
    return s;
  }

  // ---------- the page ----------

  function probColour(p) { // tinylm.notebook.views.prob_colour
    return "hsl(" + Math.round(120 * Math.max(0, Math.min(1, p))) + ", 75%, 82%)";
  }

  function shown(text) { // a token's text made visible: the story marker and bare whitespace
    return text === "" ? "\u2205" : text;
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k of Object.keys(attrs || {})) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function load() {
    const spec = JSON.parse(document.getElementById("tinylm-model").textContent);
    const W = readTensors(spec.tensors, base64Bytes(spec.weights));
    spec.weights = null;
    const tokenizer = new TinyLMTokenizers.Tokenizer(spec.tokenizer, { clean_up_tokenization_spaces: false });
    return { spec: spec, model: new Model(spec.config, W), tokenizer: tokenizer };
  }

  function encode(tokenizer, text) {
    return text ? tokenizer.encode(text, { add_special_tokens: false }).ids : [];
  }

  function decode(tokenizer, ids) {
    return ids.length ? tokenizer.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }) : "";
  }

  function start() {
    const root = document.querySelector("[data-tinylm-sampler]");
    const $ = (name) => root.querySelector("[data-tinylm-" + name + "]");
    const status = $("status"), output = $("output"), tokensBox = $("tokens"), detail = $("detail");
    const fields = ["prompt", "temperature", "top_k", "top_p", "max_new_tokens", "seed"];
    const input = {};
    for (const f of fields) input[f] = root.querySelector('[name="' + f + '"]');
    const fail = (message) => { root.setAttribute("data-tinylm-state", "error"); status.textContent = "error: " + message; };
    let app;
    try {
      app = load();
    } catch (e) {
      fail("cannot load the model (" + e.message + ")");
      return;
    }
    const cfg = app.spec.config, tok = app.tokenizer;
    $("about").textContent = app.spec.about;
    window.tinylm = { // for tests and the curious: the engine behind the page
      config: cfg,
      encode: (text) => encode(tok, text),
      decode: (ids) => decode(tok, ids),
      logits: (ids) => { app.model.reset(); return ids.map((t) => Array.from(app.model.step(t).logits)); },
      generate: generate,
    };
    const params = new URLSearchParams(window.location.search);
    for (const f of fields) if (params.has(f)) input[f].value = params.get(f);
    let running = false, records = [], context = [];

    function select(i) {
      const r = records[i];
      for (const s of tokensBox.querySelectorAll(".tinylm-selected")) s.classList.remove("tinylm-selected");
      r.span.classList.add("tinylm-selected");
      detail.replaceChildren();
      detail.appendChild(el("div", { class: "tinylm-detail-title" },
        "token " + (i + 1) + ": " + JSON.stringify(r.text) + "  p = " + r.prob.toFixed(3)));
      const alts = el("ol", { class: "tinylm-alternatives", "data-tinylm-alternatives": "" });
      for (const [id, p] of r.top) alts.appendChild(el("li", {}, JSON.stringify(decode(tok, [id])) + "  " + p.toFixed(3)));
      detail.appendChild(el("div", {}, "the most likely tokens at this position (what it was drawn from):"));
      detail.appendChild(alts);
      detail.appendChild(el("div", {}, "where each attention head looked to choose it (darker: more weight):"));
      const view = el("div", { class: "tinylm-attention", "data-tinylm-attention": "" });
      r.attention.forEach((heads, l) => heads.forEach((weights, hIdx) => {
        const row = el("div", { class: "tinylm-attention-row", "data-layer": String(l), "data-head": String(hIdx) });
        row.appendChild(el("span", { class: "tinylm-attention-label" }, "layer " + (l + 1) + " head " + (hIdx + 1)));
        let top = 0;
        for (let j = 0; j < weights.length; j++) if (weights[j] > weights[top]) top = j;
        for (let j = 0; j < weights.length; j++) {
          const id = r.context[r.offset + j];
          const piece = el("span", { class: "tinylm-attention-token" },
            id === cfg.eot_id ? "\u00b6" : shown(decode(tok, [id])));
          piece.style.background = "rgba(40, 90, 200, " + Math.min(1, weights[j]).toFixed(3) + ")";
          if (weights[j] > 0.5) piece.style.color = "white";
          piece.title = "weight " + weights[j].toFixed(3);
          if (j === top) piece.setAttribute("data-tinylm-top", "");
          row.appendChild(piece);
        }
        view.appendChild(row);
      }));
      detail.appendChild(view);
    }

    async function generate() {
      if (running) return;
      let settings;
      try {
        settings = parseSettings({
          temperature: input.temperature.value.trim(), top_k: input.top_k.value.trim(),
          top_p: input.top_p.value.trim(), max_new_tokens: input.max_new_tokens.value.trim(),
          seed: input.seed.value.trim(),
        });
      } catch (e) {
        fail(e.message);
        return;
      }
      running = true;
      root.setAttribute("data-tinylm-state", "running");
      const prompt = input.prompt.value;
      tokensBox.replaceChildren(el("b", {}, prompt));
      output.textContent = "";
      detail.replaceChildren();
      records = [];
      const random = mulberry32(settings.seed);
      const ids = [cfg.eot_id].concat(encode(tok, prompt)); // a story starts after an end-of-text
      const generated = [];
      const t0 = performance.now();
      let firstAt = null, lastYield = t0;
      try {
        for (let n = 0; n < settings.max_new_tokens; n++) {
          const out = app.model.next(ids);
          const token = pick(out.logits, settings, random);
          if (token === cfg.eot_id) break;
          const full = softmax(out.logits, 1);
          const rec = {
            id: token, text: decode(tok, [token]), prob: full[token], top: topAlternatives(full, 5),
            attention: out.attention, offset: out.offset, context: null,
          };
          ids.push(token);
          generated.push(token);
          rec.context = ids; // the same array: positions before the token never change
          const span = el("span", { class: "tinylm-token", "data-tinylm-token": String(records.length) }, rec.text);
          span.style.background = probColour(rec.prob);
          span.title = "p = " + rec.prob.toFixed(3) + " | " +
            rec.top.map(([id, p]) => JSON.stringify(decode(tok, [id])) + " " + p.toFixed(2)).join("; ");
          const index = records.length;
          span.addEventListener("click", () => select(index));
          rec.span = span;
          records.push(rec);
          tokensBox.appendChild(span);
          const now = performance.now();
          if (firstAt === null) {
            firstAt = now;
            root.setAttribute("data-tinylm-first-token-ms", now.toFixed(1));
          }
          if (now - lastYield > 30) { // show the text so far, let the page paint and stay responsive
            const text = decode(tok, generated);
            if (!text.endsWith("\ufffd")) output.textContent = text; // whole characters only
            status.textContent = generated.length + " tokens, " +
              (generated.length / ((now - t0) / 1000)).toFixed(0) + " tokens/s";
            await new Promise((resolve) => setTimeout(resolve, 0));
            lastYield = performance.now();
          }
        }
      } catch (e) {
        running = false;
        fail(e.message);
        return;
      }
      const end = performance.now();
      output.textContent = decode(tok, generated);
      const rate = generated.length > 1 && firstAt !== null ? (generated.length - 1) / ((end - firstAt) / 1000) : 0;
      root.setAttribute("data-tinylm-token-count", String(generated.length));
      root.setAttribute("data-tinylm-tokens-per-s", rate.toFixed(1));
      root.setAttribute("data-tinylm-ids", JSON.stringify(generated));
      status.textContent = generated.length + " tokens in " + ((end - t0) / 1000).toFixed(2) + " s, " +
        (generated.length / ((end - t0) / 1000)).toFixed(0) + " tokens/s" +
        (generated.length < settings.max_new_tokens ? " (the story ended)" : "");
      running = false;
      root.setAttribute("data-tinylm-state", "done");
    }

    $("generate").addEventListener("click", generate);
    root.setAttribute("data-tinylm-state", "ready");
    status.textContent = "ready";
    if (params.get("autorun") === "1") generate();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
