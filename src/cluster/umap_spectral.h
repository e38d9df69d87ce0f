/* umap_spectral.h - UMAP's spectral start (src/cluster/umap_spectral.c),
 * a step of lg_umap_fit (src/cluster/umap.c), exposed for tests. Private to
 * src/cluster/. */
#ifndef LOGIFY_CLUSTER_UMAP_SPECTRAL_H
#define LOGIFY_CLUSTER_UMAP_SPECTRAL_H

#include "logify/knn.h"

/* Spectral start from the graph; x is used for the meta layout of several
 * components. Writes (n, 2) coordinates scaled into [-10, 10]. */
lg_err lg_umap_spectral_init(const lg_csr *graph, const float *x, size_t d, uint64_t seed,
                             float *out /* (n, 2) */, size_t *n_components,
                             size_t *random_rows, lg_errmsg *err);

#endif
