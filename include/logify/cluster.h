/* cluster.h - clustering of message embeddings and rules suggested from the
 * clusters, for `logify cluster` (docs/cluster.md).
 *
 *   DBSCAN (src/cluster/dbscan.c): cosine distance on L2-normalised rows, exact
 *   eps-neighbourhoods from blocks of one sgemm each, memory O(n) (no
 *   neighbour lists kept): one pass counts neighbours (core points), a second
 *   joins core points within eps by union-find and attaches border points.
 *   The silhouette score (cosine) of a labelling.
 *
 *   Templates (src/cluster/template.c): the token template of a group of messages
 *   (constant tokens kept, variable tokens generalised to typed wildcards:
 *   number, hex, IP, word) as a regex and a readable form.
 *
 *   Suggested rules (src/cluster/cluster_rules.c): one template per cluster above a
 *   size threshold turned into a rule of Logify's rules format, compiled by
 *   the rules engine itself, with its coverage on the data and, when
 *   labels are known, its precision.
 */
#ifndef LOGIFY_CLUSTER_H
#define LOGIFY_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "logify/common.h"
#include "logify/csv.h"
#include "logify/umap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Distinct vectors (src/cluster/cluster_dedup.c) --------------------------------- */

/* The distinct rows of an (n, d) matrix: rows that are bit-identical (same
 * bytes; hashed, then compared exactly) share one vector. DBSCAN and the
 * silhouette with the multiplicities as weights are exactly those of all
 * the rows; UMAP runs on the distinct vectors (docs/cluster.md). */
typedef struct {
    size_t n;          /* rows */
    size_t m;          /* distinct vectors */
    size_t d;          /* columns */
    size_t texts;      /* messages encoded (distinct texts); 0 when not encoded here */
    float *x;          /* (m, d) distinct vectors, in order of first occurrence */
    uint32_t *row_vec; /* (n) row -> its distinct vector */
    size_t *weight;    /* (m) rows per distinct vector (sum = n) */
    size_t *first_row; /* (m) first row of each distinct vector (ascending) */
    size_t x_cap;      /* vectors x has room for (internal) */
} lg_vecset;

void lg_vecset_init(lg_vecset *v);
void lg_vecset_free(lg_vecset *v); /* frees the arrays; init state after */

/* Deduplicates the rows of x ((n, d), copied, x is not kept). More than
 * max_distinct distinct rows (0 = no limit) is LG_ELIMIT, reported as soon
 * as it is seen. out is initialised here; lg_vecset_free it. */
lg_err lg_vecset_from_rows(const float *x, size_t n, size_t d, size_t max_distinct,
                           lg_vecset *out, lg_errmsg *err);

/* ---- DBSCAN --------------------------------------------------------------- */

#define LG_NOISE (-1)

/* Clusters the rows of x ((n, d), L2-normalised) with DBSCAN: a point is
 * core when at least min_samples points (itself included) lie within cosine
 * distance eps; clusters are the core points joined through eps-links plus
 * the border points within eps of a core point (a border point reachable
 * from several clusters joins that of its lowest-numbered core neighbour).
 * labels (OUT, (n)): cluster ids 0..n_clusters-1 numbered by their first
 * core row, LG_NOISE for noise. */
lg_err lg_dbscan(const float *x, size_t n, size_t d, float eps, size_t min_samples,
                 lg_progress_fn progress, void *puser, int32_t *labels /* OUT (n) */,
                 size_t *n_clusters /* OUT */, lg_errmsg *err);

/* DBSCAN of rows that stand for weight[i] identical points each (the
 * distinct vectors of lg_vecset): a point's neighbourhood count is the sum
 * of the weights within eps, its own included. Rows must be distinct and in
 * order of first occurrence for the labels to be exactly those of lg_dbscan
 * on the expanded rows (copies share cluster and core status; clusters are
 * numbered by their first core row; a border point joins the cluster of its
 * first core neighbour). weight NULL = all 1: lg_dbscan is this. */
lg_err lg_dbscan_weighted(const float *x, size_t n, size_t d, const size_t *weight /* (n) */,
                          float eps, size_t min_samples, lg_progress_fn progress, void *puser,
                          int32_t *labels /* OUT (n) */, size_t *n_clusters /* OUT */,
                          lg_errmsg *err);

/* Mean silhouette (cosine distance) over the non-noise rows, as
 * scikit-learn's silhouette_score (a row alone in its cluster scores 0).
 * When n_rows * n_clusters would exceed max_cells, a seeded sample of rows
 * is scored (their a/b still use all rows). *score is NAN when it is
 * undefined (fewer than 2 clusters, or every row its own cluster). */
lg_err lg_silhouette_cosine(const float *x, size_t n, size_t d, const int32_t *labels,
                            size_t n_clusters, size_t max_cells, uint64_t seed,
                            double *score /* OUT */, lg_errmsg *err);

/* The same score over the rows that the weighted rows stand for (weight[i]
 * copies of row i, at distance 0 from each other): a row's own copies count
 * toward a(i) with distance 0, so a cluster of one distinct vector with
 * weight > 1 has a(i) = 0 (score 1 when b > 0), not the singleton rule.
 * Sizes and the "undefined" cases count rows. Sampling (beyond max_cells
 * distinct rows x clusters) draws distinct rows and weighs their scores.
 * weight NULL = all 1: lg_silhouette_cosine is this. */
lg_err lg_silhouette_cosine_weighted(const float *x, size_t n, size_t d,
                                     const size_t *weight /* (n) */, const int32_t *labels,
                                     size_t n_clusters, size_t max_cells, uint64_t seed,
                                     double *score /* OUT */, lg_errmsg *err);

/* ---- Templates ------------------------------------------------------------------- */

typedef enum {
    LG_SLOT_CONST = 0,
    LG_SLOT_NUMBER = 1, /* [0-9]+, decimals and a sign when seen */
    LG_SLOT_HEX = 2,    /* hex digits (and dashes, for UUIDs) */
    LG_SLOT_IP = 3,     /* dotted IPv4 */
    LG_SLOT_WORD = 4    /* any non-blank run */
} lg_slot_kind;

typedef struct {
    lg_buf regex;    /* anchored pattern: ^\s*tok\s+tok...\s*$ */
    lg_buf readable; /* "User <num> logged in." */
    size_t tokens;   /* tokens in the template */
    size_t constant; /* tokens fully constant */
    size_t group;    /* messages with the template's token count */
} lg_template;

void lg_template_init(lg_template *t);
void lg_template_free(lg_template *t);

/* Builds the template of msgs[0..n-1] (lens[i] bytes, whitespace-separated
 * tokens) from the messages with the most common token count. Per position:
 * identical tokens stay constant (regex-escaped); otherwise the common
 * prefix and suffix stay and the varying middle becomes the narrowest
 * wildcard that fits all of them. n >= 1. */
lg_err lg_template_build(const char *const *msgs, const size_t *lens, size_t n, lg_template *out,
                         lg_errmsg *err);

/* ---- Suggested rules --------------------------------------------------------------- */

typedef struct {
    char *id;        /* "cluster-12-user-logged" */
    char *label;     /* the cluster's dominant label, or "Cluster 12" */
    char *pattern;   /* regex (rules-file syntax) */
    char *readable;  /* readable template */
    size_t cluster;  /* source cluster id */
    size_t cluster_size;
    size_t coverage; /* rows of the whole data set the pattern matches */
    size_t correct;  /* of those, rows whose label is `label` */
    double precision;/* correct / coverage; -1 without labels */
    char *group;     /* what the rule's rows are ("template 2a35cf50a8d4085f in
                        cluster 3"), from lg_suggest_input.names; NULL: "cluster N" */
} lg_suggested_rule;

typedef struct {
    const char *const *msgs;   /* (n) */
    const size_t *lens;        /* (n) */
    const char *const *labels; /* (n) or NULL when the data has no labels */
    size_t n;
    const int32_t *cluster;    /* (n) DBSCAN labels */
    size_t n_clusters;
    size_t min_size;           /* clusters smaller than this get no rule */
    size_t max_rules;          /* 0 = no limit */
    const char *const *names;  /* (n_clusters) or NULL: what each group is, for the
                                  comments (groups that are templates, not clusters) */
} lg_suggest_input;

/* Builds, compiles (with the rules engine, so every rule returned is known
 * to compile) and measures the suggested rules, ordered by coverage
 * (largest first). Caller frees *out with lg_suggested_rules_free. */
lg_err lg_suggest_rules(const lg_suggest_input *in, lg_suggested_rule **out, size_t *n_out,
                        lg_errmsg *err);
void lg_suggested_rules_free(lg_suggested_rule *r, size_t n);

/* Appends the rules as a rules file (version 1) with comments; rules with
 * precision below 1.0 carry a "REVIEW" mark in a comment and in their
 * description. */
lg_err lg_suggested_rules_yaml(const lg_suggested_rule *r, size_t n, size_t n_rows, int has_labels,
                               lg_buf *out, lg_errmsg *err);

/* ---- Maps (src/cluster/plot.c) ------------------------------------------------------------ */

typedef struct {
    size_t n;
    const float *xy;             /* (n, 2) layout */
    const int32_t *cluster;      /* (n) DBSCAN labels (LG_NOISE = noise) */
    size_t n_clusters;
    const char *const *labels;   /* (n) or NULL */
    const char *const *msgs;     /* (n) or NULL */
    const size_t *lens;          /* (n) or NULL */
    const char *const *sources;  /* (n) or NULL */
    const char *title;           /* first line of the map */
} lg_plot_data;

/* A scatter of the layout as SVG: points coloured by label (by_label, when
 * labels exist) or by cluster (the 19 largest clusters in colour, the rest
 * grey, noise black), with a legend of colours, names and counts (rows).
 * Rows with the same coordinates and colour are one marker, larger with
 * its row count (r (1 + log10(rows) / 2)). */
lg_err lg_plot_svg(const lg_plot_data *d, int by_label, lg_buf *out, lg_errmsg *err);
/* The same map as one self-contained HTML page (inline data, canvas and
 * script, no network): hover shows message, label, cluster and source; a
 * toggle switches colouring between cluster and label. Rows with the same
 * coordinates, cluster and label are one marker (its first row's details
 * and its row count). */
lg_err lg_plot_html(const lg_plot_data *d, lg_buf *out, lg_errmsg *err);

/* ---- Embedding and .npy files (src/cluster/cluster_embed.c) ---------------------------------- */

/* Default dimension that a sparse encoder's rows are projected to. */
#define LG_CLUSTER_PROJ_DIM 512

/* Encodes msgs[0..n-1] with the encoder named by spec ("hash",
 * "sbert:DIR", ...; include/logify/encoder.h) in batches, into dense
 * L2-normalised rows. A dense encoder's rows are kept as they are. A sparse
 * encoder's rows (the hash encoder: 2^15 columns) are projected to
 * proj_dim columns by a seeded signed feature hash (count sketch: column
 * j goes to h(j) mod proj_dim with sign s(j), which keeps dot products
 * unbiased), then re-normalised; proj_dim 0 keeps all columns. *out
 * ((n, *dim) floats) is the caller's to free(). */
lg_err lg_cluster_embed(const char *spec, const char *const *msgs, const size_t *lens, size_t n,
                        size_t proj_dim, lg_progress_fn progress, void *puser, float **out,
                        size_t *dim, lg_errmsg *err);

/* lg_cluster_embed into distinct vectors: identical messages (same bytes)
 * are encoded once, and the rows are deduplicated as they are encoded, so
 * memory is O(distinct vectors x dims + n). More than max_distinct distinct
 * vectors (0 = no limit) stops with LG_ELIMIT as soon as it is seen. out is
 * initialised here; lg_vecset_free it. With an encoder whose rows do not
 * depend on the batch they are encoded in (the hash encoder), the vectors
 * are bit for bit those of lg_cluster_embed; Sentence-BERT's may differ in
 * the last bits (other batches, other padding). */
lg_err lg_cluster_embed_distinct(const char *spec, const char *const *msgs, const size_t *lens,
                                 size_t n, size_t proj_dim, size_t max_distinct,
                                 lg_progress_fn progress, void *puser, lg_vecset *out,
                                 lg_errmsg *err);

/* The header of a .npy file (format 1.0) for a C-order float32 (n, d)
 * array; the rows follow it as raw little-endian floats. */
lg_err lg_npy_header(size_t n, size_t d, lg_buf *out, lg_errmsg *err);
/* Reads a 2-D C-order .npy of float32 or float64 ('<f4', '<f8') into
 * floats. *out is the caller's to free(). */
lg_err lg_npy_read(const char *path, float **out, size_t *n, size_t *d, lg_errmsg *err);

/* ---- Template-first (src/cluster/template_rules.c) ------------------------------------------ */

struct lg_tpl_miner;

/* The templates of n rows (`logify cluster`'s default, docs/cluster.md):
 * each row's template group's text, to embed in place of the message
 * (rows of one template share one string: one weighted point). Free with
 * lg_cluster_templates_free (also on a zeroed struct). */
typedef struct {
    struct lg_tpl_miner *miner;
    uint32_t *tpl;          /* (n) each row's template index in miner */
    char **text;            /* (n_text) per template group, NULL when no row has it */
    size_t n_text;          /* lg_tpl_count(miner) */
    size_t groups;          /* template groups the rows fall in */
    const char **row_text;  /* (n) views into text */
    size_t *row_len;        /* (n) */
} lg_cluster_templates;

/* Mines msgs[0..n) with a fresh miner of default options (progress:
 * phase "templates"). On error out is freed. */
lg_err lg_cluster_templates_mine(const char *const *msgs, const size_t *lens, size_t n,
                                 lg_progress_fn progress, void *puser, lg_cluster_templates *out,
                                 lg_errmsg *err);
void lg_cluster_templates_free(lg_cluster_templates *tt);

/* Rules suggested per template group (`logify cluster`, `logify templates
 * --rules`): tpl[i] is row i's template index in m; cluster (or NULL) row
 * i's DBSCAN cluster, named in the comments. Groups are numbered by first
 * appearance (lg_suggested_rule.cluster is that number). base gives msgs,
 * lens, labels, n, min_size, max_rules; its cluster fields are ignored.
 * Free *out with lg_suggested_rules_free. */
lg_err lg_cluster_template_rules(const struct lg_tpl_miner *m, const uint32_t *tpl,
                                 const int32_t *cluster, const lg_suggest_input *base,
                                 lg_suggested_rule **out, size_t *n_out, lg_errmsg *err);

/* ---- Rows to cluster (src/cluster/cluster_report.c) ------------------------------------------ */

/* The rows of a CSV with a header (log_message required; source and
 * target_label optional): give lg_cluster_rows_on_row to lg_csv_reader_new
 * with user = the table. Each field is a NUL-terminated copy ("" when its
 * column is absent; col_* = -1 then). */
typedef struct {
    size_t n, cap;
    size_t max;                /* more rows: LG_ELIMIT naming the line; 0 = no cap */
    char **msg, **src, **lab;  /* (n) */
    size_t *len;               /* (n) message lengths */
    long col_msg, col_src, col_lab;
    int header_done;
} lg_cluster_rows;

void lg_cluster_rows_init(lg_cluster_rows *t, size_t max);
void lg_cluster_rows_free(lg_cluster_rows *t); /* init state after */
lg_err lg_cluster_rows_on_row(void *user, const lg_csv_row *row, lg_errmsg *err);

/* ---- Rows by cluster (src/cluster/cluster_report.c) ------------------------------------------ */

/* Rows grouped by cluster (cl: DBSCAN's ids, -1 = noise, nc clusters). The
 * rows of group c (c == nc: the noise) are rows[start[c] .. start[c + 1]),
 * in input order, size[c] of them; order lists the clusters largest first
 * (ties: lower id), then nc. Free with lg_cluster_groups_free. */
typedef struct {
    size_t nc;
    size_t *size;  /* (nc + 1) */
    size_t *start; /* (nc + 2) */
    size_t *rows;  /* (n) */
    size_t *order; /* (nc + 1) */
} lg_cluster_groups;

lg_err lg_cluster_groups_make(const int32_t *cl, size_t n, size_t nc, lg_cluster_groups *g,
                              lg_errmsg *err);
void lg_cluster_groups_free(lg_cluster_groups *g);

/* The most common of labels[rows[0 .. m)] (ties: the first in byte order),
 * *count = its rows; scratch holds m pointers (overwritten); m > 0. */
const char *lg_dominant_label(const char *const *labels, const size_t *rows, size_t m,
                              const char **scratch, size_t *count);

/* ---- One analysis as JSON (src/cluster/cluster_report.c) ------------------------------------ */

typedef struct {
    const char *encoder;  /* encoder spec; "hash" */
    size_t dims;          /* projection of a sparse encoder; LG_CLUSTER_PROJ_DIM */
    float eps;            /* DBSCAN; 0.2 */
    size_t min_samples;   /* 1 */
    size_t min_size;      /* clusters of at least this many rows get a rule; 5 */
    size_t max_rows;      /* more rows: LG_ELIMIT; 1,000,000 */
    size_t max_distinct;  /* more distinct vectors: LG_ELIMIT; 200,000 */
    int by_message;       /* 0 (default): mine templates first, a rule per
                             template; 1: `logify cluster --by-message` */
    lg_umap_params umap;
} lg_cluster_report_opts;

void lg_cluster_report_opts_default(lg_cluster_report_opts *o);

/* `logify cluster` (with --by-message when o->by_message) on a CSV held in
 * memory (header row; log_message required, target_label optional):
 * templates, embedding, DBSCAN, silhouette, UMAP, cluster templates and
 * suggested rules, written to out (reset first) as one JSON document
 * (shape: the file's header comment, docs/console.md); its clusters,
 * points and suggested_rules.yaml are those of the command on the same
 * rows. progress gets the phases templates, embed, dbscan, knn, layout,
 * rules. */
lg_err lg_cluster_report(const char *csv, size_t len, const lg_cluster_report_opts *o,
                         lg_progress_fn progress, void *puser, lg_buf *out, lg_errmsg *err);

#ifdef __cplusplus
}
#endif
#endif
