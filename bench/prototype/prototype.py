"""The Python prototype Logify re-creates, reproduced for `make bench` (never
part of Logify; runs in the bench venv: `make venv-bench`).

Faithful to the prototype's code paths, written from its description
(../shared/anchors/README.md, ../shared/DESIGN.md):
  - regex stage: the 18 patterns of ../shared/anchors/seed_regex.py, tried in
    order with re.search(..., re.IGNORECASE); first match wins;
  - routing: source == "LegacyCRM" goes to the LLM; everything else to the
    regexes, then the model;
  - model stage: sentence-transformers all-MiniLM-L6-v2 embeddings +
    scikit-learn LogisticRegression (class_weight="balanced", max_iter=1000)
    trained as its notebook did: rows the regexes decide and LegacyCRM rows
    set aside, stratified 80/20 split (random_state=42); answer only when the
    top probability is >= 0.5, else "Unclassified";
  - LLM stage: one chat completion per LegacyCRM line (the prototype's Groq
    client call, here over plain HTTP to an OpenAI-compatible server: the
    project's fake server in `make bench`), the label read from
    <category>...</category> tags, and only Workflow Error / Deprecation
    Warning accepted;
  - the CLI path classifies row by row (encode([msg]) per line), as the
    prototype's classify.py did; `--batched` encodes all model rows at once
    (what a careful user would change first), reported beside it.

  python prototype.py train SEED.csv MODEL_DIR OUT.joblib
  python prototype.py classify IN.csv OUT.csv MODEL_DIR CLF.joblib [--batched]
Environment: PROTO_LLM_URL (chat completions URL), LOGIFY_SHARED (../shared).
"""
import ast
import csv
import json
import os
import re
import sys
import time
import urllib.request

SHARED = os.environ.get("LOGIFY_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
LLM_LABELS = ("Workflow Error", "Deprecation Warning")


def load_patterns():
    tree = ast.parse(open(os.path.join(SHARED, "anchors", "seed_regex.py")).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PATTERNS":
            return ast.literal_eval(node.value)
    raise RuntimeError("no PATTERNS in seed_regex.py")


PATTERNS = load_patterns()


def classify_with_regex(msg):
    for pattern, label in PATTERNS.items():
        if re.search(pattern, msg, re.IGNORECASE):
            return label
    return None


def classify_with_llm(msg):
    url = os.environ.get("PROTO_LLM_URL")
    if not url:
        return "Unclassified"
    prompt = ("Classify the log message into one of these categories: (1) Workflow Error, "
              "(2) Deprecation Warning. If you can't figure out a category, use \"Unclassified\". "
              "Put the category inside <category> </category> tags. Log message:\n" + json.dumps(msg))
    body = json.dumps({"model": "llama-3.3-70b-versatile",
                       "messages": [{"role": "user", "content": prompt}]}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            content = json.load(r)["choices"][0]["message"]["content"]
    except Exception:
        return "Unclassified"
    m = re.search(r"<category>(.*)</category>", content, flags=re.DOTALL)
    label = m.group(1).strip() if m else "Unclassified"
    return label if label in LLM_LABELS else "Unclassified"


class BertStage:
    def __init__(self, model_dir, clf_path):
        import joblib
        from sentence_transformers import SentenceTransformer
        self.embed = SentenceTransformer(model_dir, device="cpu")
        self.clf = joblib.load(clf_path)

    def one(self, msg):
        emb = self.embed.encode([msg])
        probs = self.clf.predict_proba(emb)[0]
        if max(probs) < 0.5:
            return "Unclassified"
        return self.clf.predict(emb)[0]

    def many(self, msgs):
        if not msgs:
            return []
        emb = self.embed.encode(msgs, batch_size=32)
        probs = self.clf.predict_proba(emb)
        return [self.clf.classes_[p.argmax()] if p.max() >= 0.5 else "Unclassified" for p in probs]


def classify(rows, bert, batched=False):
    """rows: [(source, message)] -> labels, the prototype's classify()."""
    labels = [None] * len(rows)
    pending = []
    for i, (source, msg) in enumerate(rows):
        if source == "LegacyCRM":
            labels[i] = classify_with_llm(msg)
            continue
        label = classify_with_regex(msg)
        if label:
            labels[i] = label
        elif batched:
            pending.append(i)
        else:
            labels[i] = bert.one(msg)
    if pending:
        for i, label in zip(pending, bert.many([rows[i][1] for i in pending])):
            labels[i] = label
    return labels


def train(seed, model_dir, out):
    import joblib
    import numpy as np
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, classification_report, f1_score
    from sklearn.model_selection import train_test_split

    rows = list(csv.DictReader(open(seed, newline="", encoding="utf-8")))
    keep = [r for r in rows if classify_with_regex(r["log_message"]) is None and r["source"] != "LegacyCRM"]
    t0 = time.perf_counter()
    X = SentenceTransformer(model_dir, device="cpu").encode([r["log_message"] for r in keep])
    t1 = time.perf_counter()
    y = np.array([r["target_label"] for r in keep])
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)
    clf = LogisticRegression(max_iter=1000, class_weight="balanced")
    clf.fit(X_train, y_train)
    pred = clf.predict(X_test)
    print(classification_report(y_test, pred, digits=4), file=sys.stderr)
    joblib.dump(clf, out)  # the notebook saved the classifier fitted on the 80% split
    print(json.dumps({"rows": len(rows), "training_rows": len(keep), "test_rows": len(y_test),
                      "test_accuracy": accuracy_score(y_test, pred),
                      "test_macro_f1": f1_score(y_test, pred, average="macro"),
                      "encode_seconds": t1 - t0, "seconds": time.perf_counter() - t0}))


def classify_file(inp, outp, model_dir, clf_path, batched):
    t0 = time.perf_counter()
    bert = BertStage(model_dir, clf_path)
    t1 = time.perf_counter()
    with open(inp, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, skipinitialspace=True)
        fields = list(reader.fieldnames)
        data = list(reader)
    labels = classify([(r["source"], r["log_message"]) for r in data], bert, batched)
    if "target_label" not in fields:
        fields.append("target_label")
    with open(outp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r, label in zip(data, labels):
            r["target_label"] = label
            w.writerow(r)
    t2 = time.perf_counter()
    print(json.dumps({"rows": len(data), "load_seconds": t1 - t0, "classify_seconds": t2 - t1,
                      "rows_per_s": len(data) / (t2 - t1), "batched": batched}))


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "train":
        train(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) >= 6 and sys.argv[1] == "classify":
        classify_file(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], "--batched" in sys.argv)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
