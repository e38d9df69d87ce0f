#!/usr/bin/env python3
"""gen_tokenizer_json.py VOCAB_TXT [TOKENIZER_CONFIG_JSON] -o OUT [--max-length N] [--padding N]

Writes the tokenizer.json that Hugging Face `tokenizers` saves for a BERT
WordPiece tokenizer (transformers' convert_slow_tokenizer for BertTokenizer,
as shipped by bert-base-uncased and sentence-transformers/all-MiniLM-L6-v2)
from vocab.txt and, optionally, tokenizer_config.json (do_lower_case,
strip_accents, tokenize_chinese_chars and the special token names). Same
key order, 2-space indent and raw UTF-8 as `Tokenizer.save`.
--max-length N writes truncation {"direction": "Right", "max_length": N,
"strategy": "LongestFirst", "stride": 0} as all-MiniLM-L6-v2 has (default:
null, as bert-base-uncased); --padding N writes all-MiniLM-L6-v2's fixed
padding to N (Logify ignores padding). Python standard library only; no
network.
Used by the tokenizer.json tests (tests/unit/bert/test_tokenizer_json.c,
tests/e2e/embed_tokenizer_json.sh) and for tests/fixtures/bert/tiny_tokjson.
"""
import argparse
import json
import sys


def build(vocab_lines, cfg, max_length=None, padding=None):
    vocab = {}
    for i, tok in enumerate(vocab_lines):
        if tok in vocab:
            raise SystemExit(f"vocab.txt: '{tok}' on lines {vocab[tok] + 1} and {i + 1}")
        vocab[tok] = i
    lower = cfg.get("do_lower_case", True)
    names = [cfg.get(k, d) for k, d in (("pad_token", "[PAD]"), ("unk_token", "[UNK]"),
                                        ("cls_token", "[CLS]"), ("sep_token", "[SEP]"),
                                        ("mask_token", "[MASK]"))]
    names = [n["content"] if isinstance(n, dict) else n for n in names]
    for n in names[1:4]:
        if n not in vocab:
            raise SystemExit(f"vocab.txt: special token {n} missing")
    unk, cls, sep = names[1], names[2], names[3]
    added = [{"id": vocab[n], "content": n, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True}
             for n in names if n in vocab]
    added.sort(key=lambda a: a["id"])
    truncation = None
    if max_length is not None:
        truncation = {"direction": "Right", "max_length": max_length,
                      "strategy": "LongestFirst", "stride": 0}

    pad = None
    if padding is not None:
        pad = {"strategy": {"Fixed": padding}, "direction": "Right", "pad_to_multiple_of": None,
               "pad_id": vocab.get(names[0], 0), "pad_type_id": 0, "pad_token": names[0]}

    def special(tok, type_id):
        return {"SpecialToken": {"id": tok, "type_id": type_id}}

    def seq(name, type_id):
        return {"Sequence": {"id": name, "type_id": type_id}}

    return {
        "version": "1.0",
        "truncation": truncation,
        "padding": pad,
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True,
                       "handle_chinese_chars": cfg.get("tokenize_chinese_chars", True),
                       "strip_accents": cfg.get("strip_accents", None), "lowercase": lower},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special(cls, 0), seq("A", 0), special(sep, 0)],
            "pair": [special(cls, 0), seq("A", 0), special(sep, 0), seq("B", 1),
                     special(sep, 1)],
            "special_tokens": {
                cls: {"id": cls, "ids": [vocab[cls]], "tokens": [cls]},
                sep: {"id": sep, "ids": [vocab[sep]], "tokens": [sep]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": unk, "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vocab")
    ap.add_argument("config", nargs="?")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--max-length", type=int)
    ap.add_argument("--padding", type=int)
    a = ap.parse_args()
    with open(a.vocab, encoding="utf-8", newline="") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    cfg = {}
    if a.config:
        with open(a.config, encoding="utf-8") as f:
            cfg = json.load(f)
    doc = build(lines, cfg, a.max_length, a.padding)
    with open(a.out, "w", encoding="utf-8", newline="\n") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
    print(f"{a.out}: {len(lines)} tokens", file=sys.stderr)


if __name__ == "__main__":
    main()
