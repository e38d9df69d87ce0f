/* srcfeat.h - the `source` column as one more feature of an encoded row.
 *
 * Two systems can write the very same line under different labels (Linux
 * and Thunderbird: "session closed for user bob by (uid=0)"); only the
 * source tells them apart. lg_srcfeat_add gives each sparse row whose
 * source is not empty one feature, the hash of the lower-cased source
 * (its own kind, so it never meets a word on purpose), with value v in a
 * unit row: the row's values are scaled by sqrt(1 - v^2), so the row keeps
 * unit L2 norm. The feature weights (featw.h) then weigh it like any other
 * feature: near 1 when each label comes from one source, small when labels
 * span sources. An empty source adds nothing: a bundle trained with the
 * feature still answers rows without the column. docs/model.md, "The
 * source column", has the measurements behind v. */
#ifndef LOGIFY_SRCFEAT_H
#define LOGIFY_SRCFEAT_H

#include "logify/common.h"
#include "logify/encoder.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_SRCFEAT_VALUE 0.1 /* the source feature's share of a unit row */
#define LG_SRCFEAT_MAX 256   /* bytes of a source that are hashed */

/* Feature index of a source in [0, dim) (dim a power of two); len > 0. */
uint32_t lg_srcfeat_index(const char *src, size_t len, size_t dim);

/* Adds the source feature to rows [0, X->n_rows) of a sparse X: srcs[i]
 * of lens[i] bytes (NULL or 0: nothing for that row). v in (0, 1).
 * LG_ENOMEM when the rows cannot grow (X is left as it was). */
lg_err lg_srcfeat_add(lg_embeddings *X, const char *const *srcs, const size_t *lens, double v,
                      lg_errmsg *err);

#ifdef __cplusplus
}
#endif
#endif
