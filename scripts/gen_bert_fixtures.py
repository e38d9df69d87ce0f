#!/usr/bin/python3
"""gen_bert_fixtures.py - random BERT models in the exact sentence-transformers
layout, with reference embeddings computed by an implementation written
independently of Logify's C code (plain PyTorch, float64, following Hugging
Face's BertModel and sentence-transformers' Pooling/Normalize line by line).

Needs Debian's python3-torch (/usr/bin/python3) and ../shared/tokenizer's
vocabulary. Not needed by CI: the tiny fixtures and their references are
committed under tests/fixtures/bert/.

  gen_bert_fixtures.py tiny OUTDIR            the committed tiny fixtures
  gen_bert_fixtures.py minilm OUTDIR [--ref]  all-MiniLM-L6-v2's exact shape
                                              (~90 MB: never committed)

Each model directory holds config.json, vocab.txt, tokenizer_config.json,
model.safetensors, modules.json, 1_Pooling/config.json,
sentence_bert_config.json and, for the reference, reference.json:
{"texts": [...], "ids": [[...]], "embeddings": [[...]]}.
"""
import json, math, os, struct, sys, unicodedata
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("LOGIFY_SHARED", os.path.join(HERE, "..", "..", "shared"))
VOCAB = os.path.join(SHARED, "tokenizer", "bert-base-uncased-vocab.txt")

TEXTS = [
    "User 12345 logged in from 10.0.0.1",
    "",
    "   ",
    "Email service experiencing issues with sending",
    "Führer café naïve Crème brûlée ÅNGSTRÖM",
    "我想在apple工作1314151天～ нещо на Български",
    "this is 🦙.cpp 🚀 (normal) 😶\u200d🌫️ ✅",
    "nova.osapi_compute.wsgi.server [req-b9718cd8-f65e-49cc-8349-6cf7122af137] 10.11.10.1 "
    "\"GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail HTTP/1.1\" status: 200 len: 1893 "
    "time: 0.2675118 and then some more words so that the text is longer than the maximum "
    "sequence length of the tiny models and gets truncated",
    "Backup completed successfully.",
    "ERROR: disk /dev/sda1 is 98% full!!!",
    "a",
    "Multiple login failures occurred on user 6454 account",
]

# ---- tokenizer: Hugging Face's BasicTokenizer + WordPiece, in Python -------


def load_vocab(path):
    with open(path, encoding="utf-8") as f:
        toks = [l.rstrip("\n") for l in f]
    return toks, {t: i for i, t in reversed(list(enumerate(toks)))}


def is_ws(c):
    return c in " \t\n\r" or unicodedata.category(c) == "Zs" or c in "\u2028\u2029"


def is_ctrl(c):
    return c not in "\t\n\r" and unicodedata.category(c).startswith("C")


def is_punct(c):
    o = ord(c)
    if 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def is_cjk(o):
    return any(a <= o <= b for a, b in [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
                                        (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF),
                                        (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)])


SPECIALS = ["[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]"]


def tokenize(text, vocab, lower=True):
    # special tokens written in the text are matched first (HF added tokens)
    for sp in SPECIALS:
        if sp in text and sp in vocab:
            parts = text.split(sp)
            out = []
            for k, part in enumerate(parts):
                if k: out.append(vocab[sp])
                out.extend(tokenize(part, vocab, lower))
            return out
    # BertNormalizer: clean, pad CJK, strip accents (NFD, drop Mn), lower-case
    s = "".join(" " if is_ws(c) else c for c in text if not (ord(c) in (0, 0xFFFD) or is_ctrl(c)))
    s = "".join(f" {c} " if is_cjk(ord(c)) else c for c in s)
    if lower:
        s = "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
        s = "".join(c.lower() for c in s)
    words, cur = [], ""
    for c in s:  # BertPreTokenizer: whitespace split, punctuation isolated
        if is_ws(c):
            if cur: words.append(cur)
            cur = ""
        elif is_punct(c):
            if cur: words.append(cur)
            words.append(c)
            cur = ""
        else:
            cur += c
    if cur: words.append(cur)
    ids = []
    for w in words:  # greedy longest-match-first WordPiece
        if len(w) > 100:
            ids.append(vocab["[UNK]"]); continue
        start, pieces = 0, []
        while start < len(w):
            end, found = len(w), None
            while start < end:
                sub = ("##" if start > 0 else "") + w[start:end]
                if sub in vocab:
                    found = vocab[sub]; break
                end -= 1
            if found is None:
                pieces = [vocab["[UNK]"]]; break
            pieces.append(found); start = end
        ids.extend(pieces)
    return ids


def encode_ids(text, vocab, max_seq):
    ids = tokenize(text, vocab)[: max_seq - 2]
    return [vocab["[CLS]"]] + ids + [vocab["[SEP]"]]

# ---- reference forward: Hugging Face BertModel + sentence-transformers ----


def reference(W, cfg, pooling, normalize, batch_ids):
    dt = torch.float64
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    dh, eps = H // nh, cfg["layer_norm_eps"]
    B, T = len(batch_ids), max(len(x) for x in batch_ids)
    ids = torch.zeros(B, T, dtype=torch.long)
    am = torch.zeros(B, T, dtype=torch.long)
    for i, x in enumerate(batch_ids):
        ids[i, : len(x)] = torch.tensor(x); am[i, : len(x)] = 1
    g = lambda n: W[n].to(dt)
    lin = lambda x, p: x @ g(p + ".weight").T + g(p + ".bias")
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (H,), g(p + ".weight"), g(p + ".bias"), eps)
    pos = torch.arange(T)
    x = g("embeddings.word_embeddings.weight")[ids] + g("embeddings.position_embeddings.weight")[pos][None] \
        + g("embeddings.token_type_embeddings.weight")[torch.zeros_like(ids)]
    x = ln(x, "embeddings.LayerNorm")
    # get_extended_attention_mask: (1 - mask) * finfo(dtype).min
    ext = (1.0 - am[:, None, None, :].to(dt)) * torch.finfo(dt).min
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        split = lambda t: t.view(B, T, nh, dh).permute(0, 2, 1, 3)
        q = split(lin(x, p + "attention.self.query"))
        k = split(lin(x, p + "attention.self.key"))
        v = split(lin(x, p + "attention.self.value"))
        sc = q @ k.transpose(-1, -2) / math.sqrt(dh) + ext
        ctx = (torch.softmax(sc, dim=-1) @ v).permute(0, 2, 1, 3).reshape(B, T, H)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        hmid = torch.nn.functional.gelu(lin(x, p + "intermediate.dense"))  # erf form
        x = ln(lin(hmid, p + "output.dense") + x, p + "output.LayerNorm")
    if pooling == "cls":
        e = x[:, 0]
    else:  # sentence-transformers Pooling: mean over real tokens
        m = am[..., None].to(dt)
        e = (x * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
    if normalize:
        e = torch.nn.functional.normalize(e, p=2, dim=1)
    return e

# ---- writing a model directory -------------------------------------------


def random_weights(cfg, gen):
    H, FF, V, P = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["max_position_embeddings"]
    r = lambda *s, std=1.0: torch.randn(*s, generator=gen, dtype=torch.float32) * std
    W = {"embeddings.word_embeddings.weight": r(V, H), "embeddings.position_embeddings.weight": r(P, H, std=0.5),
         "embeddings.token_type_embeddings.weight": r(2, H, std=0.5),
         "embeddings.LayerNorm.weight": 1 + r(H, std=0.1), "embeddings.LayerNorm.bias": r(H, std=0.1)}
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        for n in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            W[p + n + ".weight"] = r(H, H, std=1.5 / math.sqrt(H)); W[p + n + ".bias"] = r(H, std=0.1)
        W[p + "intermediate.dense.weight"] = r(FF, H, std=1 / math.sqrt(H)); W[p + "intermediate.dense.bias"] = r(FF, std=0.1)
        W[p + "output.dense.weight"] = r(H, FF, std=1 / math.sqrt(FF)); W[p + "output.dense.bias"] = r(H, std=0.1)
        for n in ("attention.output.LayerNorm", "output.LayerNorm"):
            W[p + n + ".weight"] = 1 + r(H, std=0.1); W[p + n + ".bias"] = r(H, std=0.1)
    W["pooler.dense.weight"] = r(H, H, std=0.02); W["pooler.dense.bias"] = r(H, std=0.02)
    return W


def write_safetensors(path, W, dtype, prefix):
    """Writes W (name -> float32 tensor) as dtype; returns the tensors as
    the file holds them (decoded back to float32)."""
    tdt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[dtype]
    header, blobs, off, stored = {"__metadata__": {"format": "pt"}}, [], 0, {}
    for name in sorted(W):
        t = W[name].to(tdt).contiguous()
        stored[name] = t.to(torch.float32)
        raw = t.view(torch.int16).numpy().tobytes() if tdt != torch.float32 else t.numpy().tobytes()
        header[prefix + name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw); off += len(raw)
    # sentence-transformers' files also carry position_ids (I64) sometimes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)
    return stored


def write_model(out, cfg, vocab_toks, dtype="F32", prefix="", pooling="mean", normalize=True,
                max_seq=24, seed=0, texts=TEXTS):
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    cfg = dict(cfg, vocab_size=len(vocab_toks))
    full = dict({"architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
                 "attention_probs_dropout_prob": 0.1, "hidden_dropout_prob": 0.1,
                 "initializer_range": 0.02, "pad_token_id": 0, "position_embedding_type": "absolute",
                 "type_vocab_size": 2, "torch_dtype": "float32", "transformers_version": "4.8.2",
                 "use_cache": True}, **cfg)
    dump = lambda name, obj: json.dump(obj, open(os.path.join(out, name), "w"), indent=2)
    dump("config.json", full)
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab_toks))
    dump("tokenizer_config.json", {"do_lower_case": True, "model_max_length": 512, "strip_accents": None,
                                   "tokenize_chinese_chars": True, "tokenizer_class": "BertTokenizer",
                                   "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                                   "unk_token": "[UNK]", "mask_token": "[MASK]"})
    dump("special_tokens_map.json", {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                                     "cls_token": "[CLS]", "mask_token": "[MASK]"})
    mods = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        mods.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    dump("modules.json", mods)
    dump("1_Pooling/config.json", {"word_embedding_dimension": cfg["hidden_size"],
                                   "pooling_mode_cls_token": pooling == "cls",
                                   "pooling_mode_mean_tokens": pooling == "mean",
                                   "pooling_mode_max_tokens": False,
                                   "pooling_mode_mean_sqrt_len_tokens": False})
    dump("sentence_bert_config.json", {"max_seq_length": max_seq, "do_lower_case": False})
    W = write_safetensors(os.path.join(out, "model.safetensors"), random_weights(full, gen), dtype, prefix)
    if texts is None:
        return
    vocab = {t: i for i, t in reversed(list(enumerate(vocab_toks)))}
    ids = [encode_ids(t, vocab, max_seq) for t in texts]
    with torch.no_grad():
        emb = reference(W, full, pooling, normalize, ids)
    dump("reference.json", {"texts": texts, "ids": ids,
                            "embeddings": [[float(f"{v:.9g}") for v in row] for row in emb.tolist()]})


def check_tokenizer(vocab):
    path = os.path.join(SHARED, "tokenizer", "wordpiece_vectors.jsonl")
    bad = 0
    for line in open(path, encoding="utf-8"):
        d = json.loads(line)
        if tokenize(d["text"], vocab) != d["ids"]:
            bad += 1; print("python tokenizer mismatch:", repr(d["text"]), file=sys.stderr)
    return bad


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("tiny", "minilm"):
        sys.exit(__doc__)
    toks, vocab = load_vocab(VOCAB)
    if check_tokenizer(vocab):
        sys.exit("the reference tokenizer does not match the Hugging Face cases")
    out = sys.argv[2]
    if sys.argv[1] == "minilm":
        cfg = {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
               "intermediate_size": 1536, "max_position_embeddings": 512, "layer_norm_eps": 1e-12}
        texts = TEXTS + ["word " * 300] if "--ref" in sys.argv else None
        write_model(out, cfg, toks, max_seq=256, seed=42, texts=texts)
        return
    # a 3,000-token slice of the real vocabulary (specials, characters,
    # ##pieces and the first ~1,000 words) keeps the fixtures small
    small = toks[:3000]
    tiny = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 64, "max_position_embeddings": 40, "layer_norm_eps": 1e-12}
    write_model(os.path.join(out, "tiny_mean"), tiny, small, seed=1)
    write_model(os.path.join(out, "tiny_cls"), dict(tiny, layer_norm_eps=1e-5), small, prefix="bert.",
                pooling="cls", normalize=False, seed=2)
    write_model(os.path.join(out, "tiny_f16"), dict(tiny, num_hidden_layers=3, intermediate_size=48),
                small, dtype="F16", seed=3, max_seq=20)
    write_model(os.path.join(out, "tiny_bf16"), tiny, small, dtype="BF16", prefix="bert.", seed=4)


if __name__ == "__main__":
    main()
