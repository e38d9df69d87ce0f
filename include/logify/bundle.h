/* bundle.h - the model bundle on disk: a directory with
 *   meta.json    format name + version, labels, encoder spec / config /
 *                config hash, classifier shape and settings, threshold,
 *                weights file size and checksum, training figures
 *                (including the training data's checksum);
 *   weights.bin  "LGFYW001", u32 n_classes, u32 dim (little endian), then
 *                W (dim, n_classes) feature-major and b (n_classes) as
 *                float32 little endian.
 * Writing is deterministic (no times, no absolute paths), so the same data
 * and seed give the same bytes. Reading validates every field and the
 * weights' size and checksum; any problem is LG_EMODEL (LG_ENOTFOUND for a
 * missing file) with a message naming the file and the field.
 * See docs/model.md. */
#ifndef LOGIFY_BUNDLE_H
#define LOGIFY_BUNDLE_H

#include "logify/common.h"
#include "logify/logreg.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_BUNDLE_FORMAT "logify-model"
#define LG_BUNDLE_VERSION 1
#define LG_BUNDLE_META "meta.json"
#define LG_BUNDLE_WEIGHTS "weights.bin"
#define LG_BUNDLE_MAX_LABEL 128

typedef struct {
    char **labels; /* (n_labels) class names, index = class */
    size_t n_labels;
    char *encoder_spec;    /* canonical spec, e.g. "hash:dim=32768,seed=1" */
    uint64_t encoder_hash; /* lg_encoder_config_hash of the encoder */
    char *encoder_config;  /* JSON object text (informative) */
    double threshold;      /* default answer threshold */
    double C;              /* training settings (informative) */
    int balanced;
    char *training; /* JSON object text: figures from training; may be NULL */
    lg_logreg *clf; /* n_classes == n_labels */
} lg_bundle;

/* Writes dir/weights.bin then dir/meta.json (each via a temporary file and
 * rename), creating dir if needed. */
lg_err lg_bundle_write(const char *dir, const lg_bundle *b, lg_errmsg *err);

/* Reads and validates a bundle. Caller frees with lg_bundle_free. */
lg_err lg_bundle_read(const char *dir, lg_bundle **out, lg_errmsg *err);

/* Frees everything the bundle holds (clf included); NULL is fine. */
void lg_bundle_free(lg_bundle *b);

#ifdef __cplusplus
}
#endif
#endif
