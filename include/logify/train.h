/* train.h - labeled datasets and the training run behind `logify train`
 * (the prototype's training notebook as a library call):
 *
 *   labeled CSV -> route table + rules (rows the rules decide, rows routed
 *   to the LLM are reported and set aside) -> rare labels set aside ->
 *   encode -> stratified split (seeded) -> fit on train, report train and
 *   test -> refit on all rows -> bundle.
 */
#ifndef LOGIFY_TRAIN_H
#define LOGIFY_TRAIN_H

#include <jansson.h>

#include "logify/bundle.h"
#include "logify/common.h"
#include "logify/config.h"
#include "logify/featw.h"
#include "logify/logreg.h"
#include "logify/progress.h"
#include "logify/report.h"
#include "logify/rules.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Labeled data ------------------------------------------------------------ */

typedef struct {
    char *source; /* "" when the column is empty */
    char *message;
    size_t message_len;
    char *label; /* target_label */
} lg_labeled_row;

typedef struct {
    lg_labeled_row *rows;
    size_t n, cap;
    uint64_t checksum; /* FNV-1a 64 of the file's bytes */
    size_t bytes;      /* held by the rows, capped */
} lg_dataset;

#define LG_DATASET_MAX_ROWS 10000000
#define LG_DATASET_MAX_BYTES ((size_t)1 << 30)

/* Reads a CSV with a header naming (at least) source, log_message and
 * target_label, in any order. A missing column is LG_ENOTFOUND naming it;
 * a malformed row is LG_EPARSE naming its line; an empty target_label is
 * LG_EPARSE too. Free with lg_dataset_free. */
lg_err lg_dataset_load(const char *path, lg_dataset *out, lg_errmsg *err);
/* The same, telling prog (may be NULL) the rows and bytes read as it goes
 * (the caller starts the phase: lg_progress_phase). */
lg_err lg_dataset_load_progress(const char *path, lg_progress *prog, lg_dataset *out,
                                lg_errmsg *err);
/* The same from len bytes in memory (the server's POST /v1/eval); errors
 * begin with name as they would with a path. */
lg_err lg_dataset_load_buf(const char *name, const char *data, size_t len, lg_dataset *out,
                          lg_errmsg *err);
void lg_dataset_free(lg_dataset *d);

/* ---- Training ------------------------------------------------------------------ */

typedef struct {
    const char *encoder_spec; /* NULL (default): LG_TRAIN_ENCODER for the logreg,
                                 LG_TRAIN_ENCODER_SVM for the svm */
    uint64_t seed;            /* split seed (default 42) */
    double test_fraction;     /* default 0.2 */
    size_t min_label_rows;    /* labels with fewer rows are set aside (default 1: none) */
    double threshold;         /* written into the bundle (default 0.5) */
    const char *classifier;   /* "auto" (default: logreg up to LG_TRAIN_AUTO_LOGREG
                                 labels, else svm), "logreg", "svm" */
    double unknown_threshold; /* open set, written into the bundle; < 0 (default):
                                 min(LG_TRAIN_UNKNOWN (_PURITY with purity weights),
                                 held-out 1st percentile - 0.05) */
    const char *feature_weights; /* "auto" (default: purity for the svm, none for
                                    the logreg), "none", "idf", "purity": featw.h */
    const char *source_feature; /* "auto" (default: on for the svm with feature
                                   weights when the rows name 2 or more sources),
                                   "on", "off": srcfeat.h */
    lg_logreg_opts lr;
    lg_svm_opts svm;
    const lg_rules *rules;        /* rules stage used to set rows aside; NULL: none */
    const lg_route_table *routes; /* route table; NULL: every row goes to the model */
    const char *data_name;        /* recorded in the figures (a base name) */
    lg_progress *progress; /* NULL: none; else told each phase (routing,
                                     encoding, fitting, ...) as it starts */
} lg_train_opts;

#define LG_TRAIN_ENCODER "hash:text=1"           /* masked tokens keep their text */
#define LG_TRAIN_ENCODER_SVM "hash:text=1,pos=3,hdr=1" /* and the first and last 3 tokens their place */
#define LG_TRAIN_AUTO_LOGREG 32 /* "auto": multinomial logreg up to this many labels */
#define LG_TRAIN_REPORT_MAX 50000 /* train rows in the train report (a sample above) */
#define LG_TRAIN_UNKNOWN 0.5     /* highest automatic open-set threshold (docs/model.md) */
#define LG_TRAIN_UNKNOWN_PURITY 0.7 /* the same with purity feature weights */

void lg_train_opts_default(lg_train_opts *o);

typedef struct {
    size_t rows;      /* rows in the data */
    size_t by_rules;  /* decided by the rules stage */
    size_t to_llm;    /* routed to the LLM before the model */
    size_t no_model;  /* no route, or a route without the model stage */
    size_t rare_rows; /* rows of labels set aside as too rare */
    size_t used;      /* rows the model learns from */
    size_t train_rows, test_rows;
    size_t train_report_rows; /* train rows in the train report (<= LG_TRAIN_REPORT_MAX) */
    lg_report train, test; /* split figures */
    lg_logreg_fit_info split_fit, final_fit; /* logreg */
    lg_svm_fit_info svm_split, svm_final;    /* svm */
    lg_clf_kind kind;
    size_t rare_labels; /* labels set aside (fewer than min_label_rows rows) */
    double encode_seconds;
    lg_bundle *bundle; /* refit on all used rows, ready to write */
    json_t *figures;   /* everything above as JSON (no times: recorded
                          in the bundle, so deterministic) */
} lg_train_result;

/* Runs the whole training. On success fills res (free with
 * lg_train_result_free). Errors: LG_EINVAL for an empty training set or a
 * single class (after rules, routes and rare labels), encoder and optimiser
 * errors as they come. */
lg_err lg_train_run(const lg_dataset *d, const lg_train_opts *o, lg_train_result *res,
                    lg_errmsg *err);
void lg_train_result_free(lg_train_result *res);

#ifdef __cplusplus
}
#endif
#endif
