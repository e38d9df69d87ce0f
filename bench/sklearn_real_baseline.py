#!/usr/bin/env python3
"""sklearn_real_baseline.py - the bench anchor for the model stage on
real-looking logs with any taxonomy (issue 16).

TF-IDF (word 1-2 grams + char 2-4 grams, sublinear tf) + LinearSVC on a
50/50 split (train_test_split, random_state=SEED, not stratified: labels
with one line exist), the baseline `logify train` + `logify eval` is
compared with. Optionally an open-set figure: --unseen FILE holds lines of
systems left out of training (LinearSVC has no "unknown" answer, so it
labels every one of them with a known label: 0% Unclassified).

Prints one JSON object: rows, labels, train_rows, test_rows, accuracy,
macro_f1 (union of true and predicted labels), weighted_f1, train_seconds,
predict_lines_per_s.

Run: build/venv/bin/python bench/sklearn_real_baseline.py DATA.csv [--seed 42]
(`make venv-bench`: Debian's python3-sklearn 1.2.1; the figures in
docs/model.md were measured with scikit-learn 1.5.2, numpy 2.4.6, scipy
1.17.1 from PyPI)
"""
import argparse
import csv
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import FeatureUnion, make_pipeline  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["log_message"] for r in rows], [r["target_label"] for r in rows]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--test-size", type=float, default=0.5)
    a = ap.parse_args()
    X, y = load(a.data)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=a.test_size, random_state=a.seed)
    model = make_pipeline(
        FeatureUnion([
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)),
        ]),
        LinearSVC(),
    )
    t0 = time.perf_counter()
    model.fit(Xtr, ytr)
    t1 = time.perf_counter()
    pred = model.predict(Xte)
    t2 = time.perf_counter()
    print(json.dumps({
        "data": os.path.basename(a.data), "rows": len(X), "labels": len(set(y)),
        "train_rows": len(Xtr), "test_rows": len(Xte), "seed": a.seed,
        "accuracy": round(accuracy_score(yte, pred), 6),
        "macro_f1": round(f1_score(yte, pred, average="macro", zero_division=0), 6),
        "weighted_f1": round(f1_score(yte, pred, average="weighted", zero_division=0), 6),
        "train_seconds": round(t1 - t0, 3),
        "predict_lines_per_s": round(len(Xte) / (t2 - t1)),
    }))


if __name__ == "__main__":
    main()
