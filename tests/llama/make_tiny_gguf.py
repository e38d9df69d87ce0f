#!/usr/bin/env python3
"""make_tiny_gguf.py - writes a tiny random-weight llama GGUF model for the
LLM stage's tests against a real llama.cpp server (tests/e2e/llm_llamacpp.sh).

    make_tiny_gguf.py OUT.gguf [--seed N]

Architecture "llama", 2 layers, 64-wide, 4 heads; the tokenizer is one built
here: byte-level BPE ("gpt2" model) whose vocabulary is the 256 byte symbols,
a few merges of frequent pairs of the labels' text, and <s>, </s> as
control tokens, so that a grammar or JSON schema can spell any answer byte by
byte. A chat template (ChatML) is included so the server formats chats
itself. The weights are random (seeded): the model answers garbage unless
the server constrains it. About 0.5 MB; generated at test time, never
committed. Uses PyPI's gguf and numpy (tests/requirements-llama.txt).
"""
import argparse
import sys

import numpy as np
import gguf

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def byte_symbols():
    """GPT-2's byte -> printable unicode map (what byte-level BPE vocabularies hold)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def tokenizer():
    sym = byte_symbols()
    tokens = list(sym)
    merges = []
    # a few merges so the merge table is real: pairs from the labels' text
    for a, b in [("e", "r"), ("o", "r"), ("i", "n"), ("a", "t"), ("Ġ", "W"), ("l", "a"),
                 ("Ġ", "E"), ("e", "l")]:
        merges.append("%s %s" % (a, b))
        tokens.append(a + b)
    specials = ["<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    types = [gguf.TokenType.NORMAL] * len(tokens) + [gguf.TokenType.CONTROL] * len(specials)
    tokens += specials
    return tokens, types, merges


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    tokens, types, merges = tokenizer()
    n_vocab, n_embd, n_ff, n_head, n_layer, n_ctx = len(tokens), 64, 128, 4, 2, 2048

    w = gguf.GGUFWriter(a.out, "llama")
    w.add_name("logify-tiny-random")
    w.add_context_length(n_ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tokens.index("<s>"))
    w.add_eos_token_id(tokens.index("<|im_end|>"))
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML)

    def t(name, *shape):
        w.add_tensor(name, (rng.standard_normal(shape) * 0.2).astype(np.float32))

    t("token_embd.weight", n_vocab, n_embd)
    for i in range(n_layer):
        w.add_tensor("blk.%d.attn_norm.weight" % i, np.ones(n_embd, dtype=np.float32))
        t("blk.%d.attn_q.weight" % i, n_embd, n_embd)
        t("blk.%d.attn_k.weight" % i, n_embd, n_embd)
        t("blk.%d.attn_v.weight" % i, n_embd, n_embd)
        t("blk.%d.attn_output.weight" % i, n_embd, n_embd)
        w.add_tensor("blk.%d.ffn_norm.weight" % i, np.ones(n_embd, dtype=np.float32))
        t("blk.%d.ffn_gate.weight" % i, n_ff, n_embd)
        t("blk.%d.ffn_up.weight" % i, n_ff, n_embd)
        t("blk.%d.ffn_down.weight" % i, n_embd, n_ff)
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    t("output.weight", n_vocab, n_embd)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
