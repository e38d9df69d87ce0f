#!/usr/bin/python3
"""scikit-learn anchor for the model stage (bench/bench_model.sh).

What a user of the Python prototype would otherwise run: TF-IDF features of
the same kinds Logify's hash encoder uses (word 1-2-grams + character 3-5-
grams inside word boundaries, sublinear tf, L2) and a multinomial
LogisticRegression (lbfgs, class_weight="balanced", C=10), on the rows the
prototype's model saw (source != LegacyCRM, complexity != regex: 1,903).

Prints two lines:
  train rows=N seconds=S test_accuracy=A test_macro_f1=F
  predict messages=M seconds=S messages_per_s=R cpu_messages_per_s=C
Run with Debian's python3-sklearn: /usr/bin/python3 sklearn_model_anchor.py SEED.csv [N_PREDICT]
"""
import csv
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import FeatureUnion, make_pipeline  # noqa: E402


def model():
    feats = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, lowercase=True)),
    ])
    clf = LogisticRegression(C=10, class_weight="balanced", max_iter=1000)
    return make_pipeline(feats, clf)


def main():
    path = sys.argv[1]
    n_predict = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    rows = [r for r in rows if r["source"] != "LegacyCRM" and r["complexity"] != "regex"]
    x = [r["log_message"] for r in rows]
    y = [r["target_label"] for r in rows]

    # the notebook's split figures (not timed)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, stratify=y, random_state=42)
    m = model().fit(xtr, ytr)
    pred = m.predict(xte)
    acc, f1 = accuracy_score(yte, pred), f1_score(yte, pred, average="macro")

    # training on all rows, timed (best of 3)
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        m = model().fit(x, y)
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
    print(f"train rows={len(x)} seconds={best:.4f} test_accuracy={acc:.4f} test_macro_f1={f1:.4f}")

    # encode + predict (transform + predict_proba), timed (best of 3)
    msgs = (x * (n_predict // len(x) + 1))[:n_predict]
    best = cbest = None
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        p = m.predict_proba(msgs)
        p.argmax(axis=1)
        dt, ct = time.perf_counter() - t0, time.process_time() - c0
        best = dt if best is None or dt < best else best
        cbest = ct if cbest is None or ct < cbest else cbest
    print(f"predict messages={len(msgs)} seconds={best:.4f} messages_per_s={len(msgs) / best:.0f} "
          f"cpu_messages_per_s={len(msgs) / cbest:.0f}")


if __name__ == "__main__":
    main()
