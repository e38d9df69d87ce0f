"""Helper of bench/bench_cluster.sh: the anchor's clustering of the same
vectors Logify clustered (its embeddings.npy), as the prototype's notebook
did it: scikit-learn DBSCAN (cosine, eps 0.2, min_samples 1), its
silhouette_score (cosine), umap-learn (n_neighbors 15, min_dist 0.1,
cosine, random_state 42; JIT warm-up on 300 rows first, not counted).

  cluster_anchor.py E.npy LOGIFY_POINTS.csv
prints one line: dbscan= silhouette= umap= total= (seconds), clusters=,
sil=, and ari= (adjusted Rand index against Logify's clusters of the same
rows, from its points.csv).
"""
import csv, sys, time, warnings
import numpy as np

warnings.filterwarnings("ignore")
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score, silhouette_score

E = np.load(sys.argv[1])
ours = np.array([int(r["cluster"]) for r in csv.DictReader(open(sys.argv[2], newline=""))])
t = time.perf_counter()
lab = DBSCAN(eps=0.2, min_samples=1, metric="cosine").fit_predict(E)
t_db = time.perf_counter() - t
t = time.perf_counter()
sil = silhouette_score(E, lab, metric="cosine")
t_sil = time.perf_counter() - t
import umap
params = dict(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=42)
umap.UMAP(**params).fit_transform(E[:300])
t = time.perf_counter()
umap.UMAP(**params).fit_transform(E)
t_umap = time.perf_counter() - t
print(f"dbscan={t_db:.2f} silhouette={t_sil:.2f} umap={t_umap:.2f} total={t_db + t_sil + t_umap:.2f} "
      f"clusters={lab.max() + 1} sil={sil:.4f} ari={adjusted_rand_score(ours, lab):.4f}")
