/* bundle.h - the model bundle on disk (format version 3, or 2 when it has
 * no feature weights, so bundles without them keep their bytes): a
 * directory with
 *   meta.json     format name + version, labels, encoder spec / config /
 *                 config hash, classifier kind, shape and settings,
 *                 threshold, open-set setting, each binary file's size and
 *                 checksum, training figures (with the data's checksum);
 *   weights.bin   multinomial_logreg: "LGFYW001", u32 n_classes, u32 dim
 *                 (little endian), then W (dim, n_classes) feature-major
 *                 and b (n_classes) as float32 little endian;
 *                 ovr_linear_svm: "LGFYV002", u32 K, u32 dim, u64 nnz, u64
 *                 ptr[K + 1], u32 feature[nnz], f32 weight[nnz], f32
 *                 bias[K] (each class's weights sparse, features ascending);
 *   centroids.bin "LGFYC002", u32 K, u32 dim, u64 nnz, u64 ptr[K + 1], u32
 *                 feature[nnz], f32 value[nnz]: the unit-length class means
 *                 (open set; the SVM's candidate retrieval);
 *   features.bin  version 3 only: "LGFYF001", u32 dim, u32 method (1 =
 *                 idf), f32 w[dim]: the feature weights (featw.h) applied
 *                 to every encoded row before the classifier.
 * Writing is deterministic (no times, no absolute paths), so the same data
 * and seed give the same bytes. Reading validates every field and the
 * weights' size and checksum; any problem is LG_EMODEL (LG_ENOTFOUND for a
 * missing file) with a message naming the file and the field.
 * See docs/model.md. */
#ifndef LOGIFY_BUNDLE_H
#define LOGIFY_BUNDLE_H

#include "logify/centroids.h"
#include "logify/common.h"
#include "logify/featw.h"
#include "logify/logreg.h"
#include "logify/svm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_BUNDLE_FORMAT "logify-model"
#define LG_BUNDLE_VERSION 4    /* written when the bundle has the source feature */
#define LG_BUNDLE_VERSION_FW 3 /* written when it has feature weights (and no source feature) */
#define LG_BUNDLE_VERSION_MIN 2 /* read too: the same without feature weights */
#define LG_BUNDLE_META "meta.json"
#define LG_BUNDLE_WEIGHTS "weights.bin"
#define LG_BUNDLE_CENTROIDS "centroids.bin"
#define LG_BUNDLE_FEATURES "features.bin"

typedef enum { LG_CLF_LOGREG = 0, LG_CLF_SVM = 1 } lg_clf_kind;
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
    lg_clf_kind kind;
    lg_logreg *clf;     /* LG_CLF_LOGREG: n_classes == n_labels */
    lg_svm *svm;        /* LG_CLF_SVM (its cent points at the bundle's) */
    lg_centroids *cent; /* class centroids (open set, retrieval) */
    lg_featw *fw;       /* feature weights applied to encoded rows; NULL: none */
    double source_feature; /* > 0: the source column is a feature of this value
                              (srcfeat.h; version 4, needs fw); 0: not used */
    double unknown_threshold; /* open set: best centroid similarity below it -> passed on */
    size_t svm_candidates;    /* as read from meta.json (copied into svm) */
    double svm_platt[2];
} lg_bundle;

/* Writes dir/weights.bin then dir/meta.json (each via a temporary file and
 * rename), creating dir if needed. */
lg_err lg_bundle_write(const char *dir, const lg_bundle *b, lg_errmsg *err);

/* Reads and validates a bundle. Caller frees with lg_bundle_free. */
lg_err lg_bundle_read(const char *dir, lg_bundle **out, lg_errmsg *err);

/* Frees everything the bundle holds (classifier, centroids); NULL is fine. */
void lg_bundle_free(lg_bundle *b);

#ifdef __cplusplus
}
#endif
#endif
