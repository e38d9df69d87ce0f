"""Helper of bench/bench_umap.sh: the same embeddings for both UMAPs,
umap-learn's run, and one trustworthiness function for both layouts.

  umap_compare.py prep CSV N OUT.npy       anchor-style vectors of the seed logs
      (TF-IDF char_wb 2-4 grams -> TruncatedSVD 384, as ../shared/anchors/
      umap_anchor.py), stacked to N rows with N(0, 0.01) noise (seed 0)
  umap_compare.py umap-learn E.npy OUT.npy  fit umap-learn (n_neighbors 15,
      min_dist 0.1, cosine, random_state 42) after a JIT warm-up fit on 300
      rows; prints warmup= and secs= (the timed, warm fit)
  umap_compare.py trust E.npy LAYOUT        trustworthiness (scikit-learn's,
      k=15, cosine) on a seeded sample of 3000 rows (the same rows for any
      layout of E); LAYOUT is a .npy (n, 2) or Logify's points.csv
"""
import csv, sys, time, warnings
import numpy as np

warnings.filterwarnings("ignore")


def prep(path, n, out):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.decomposition import TruncatedSVD
    msgs = [r["log_message"] for r in csv.DictReader(open(path, newline=""))]
    X = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2).fit_transform(msgs)
    E = TruncatedSVD(384, random_state=0).fit_transform(X).astype(np.float32)
    if n != len(E):
        rng = np.random.default_rng(0)
        E = np.vstack([E] * (n // len(E) + 1))[:n] + rng.normal(0, 0.01, (n, 384)).astype(np.float32)
    np.save(out, np.ascontiguousarray(E, dtype=np.float32))


def run_umap_learn(e_path, out):
    import umap
    E = np.load(e_path)
    params = dict(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=42)
    # numba compiles umap-learn's kernels on first use: a fit on 300 rows
    # first, so that the timed fit below is warm (the fair comparison)
    t = time.perf_counter()
    umap.UMAP(**params).fit_transform(E[:300])
    warm = time.perf_counter() - t
    t = time.perf_counter()
    Y = umap.UMAP(**params).fit_transform(E)
    dt = time.perf_counter() - t
    np.save(out, Y.astype(np.float32))
    print(f"warmup={warm:.3f} secs={dt:.3f}")


def load_layout(path):
    if path.endswith(".npy"):
        return np.load(path)
    rows = list(csv.DictReader(open(path, newline="")))
    return np.array([[float(r["x"]), float(r["y"])] for r in rows], dtype=np.float32)


def trust(e_path, layout):
    from sklearn.manifold import trustworthiness
    E = np.load(e_path)
    Y = load_layout(layout)
    assert len(E) == len(Y), (len(E), len(Y))
    rng = np.random.default_rng(0)
    sub = rng.choice(len(E), min(len(E), 3000), replace=False)
    print(f"trustworthiness={trustworthiness(E[sub], Y[sub], n_neighbors=15, metric='cosine'):.4f}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "prep":
        prep(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "umap-learn":
        run_umap_learn(sys.argv[2], sys.argv[3])
    elif cmd == "trust":
        trust(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: umap_compare.py prep|umap-learn|trust ...")
