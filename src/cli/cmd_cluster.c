/* cmd_cluster.c - `logify cluster`: mine templates (by default; --by-message:
 * skip that), embed every row's template (or message), DBSCAN, UMAP to 2-D,
 * and write the map, the clusters and suggested rules (one per template, or
 * per cluster with --by-message or --embeddings) into a directory
 * (docs/cluster.md). Argument parsing, reading the CSV and writing files;
 * the algorithms are in the library (include/logify/cluster.h, umap.h).
 * DBSCAN, the silhouette and UMAP run on the distinct vectors (weighted by
 * their rows, which is exact); every row gets its vector's cluster and
 * coordinates back, and everything written counts rows.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "logify/cluster.h"
#include "logify/csv.h"
#include "logify/templates.h"
#include "logify/umap.h"

static const char usage_text[] =
    "usage: logify cluster --data CSV --out DIR [options]\n"
    "       logify cluster --embeddings FILE.npy --out DIR [--data CSV] [options]\n"
    "  --data CSV           input with a header; column log_message (required),\n"
    "                       source and target_label (optional)\n"
    "  --out DIR            output directory (created): points.csv, embeddings.npy,\n"
    "                       clusters.csv, map.svg, map.html, suggested_rules.yaml\n"
    "  --encoder SPEC       hash (default), hash:dim=N, sbert:DIR\n"
    "  --by-template        (the default with --data) mine templates first\n"
    "                       (docs/templates.md) and embed each row's template\n"
    "                       text: each template is one point, weighted by its\n"
    "                       rows, so clusters never split one template; a\n"
    "                       suggested rule per template of --min-size rows\n"
    "  --by-message         embed each message itself (the behaviour before\n"
    "                       templates): a suggested rule per cluster\n"
    "  --dims N             project a sparse encoder's rows to N columns (default 512;\n"
    "                       0 = keep all)\n"
    "  --embeddings FILE    use these rows (.npy, float32/64, n x d) instead of encoding\n"
    "  --eps E              DBSCAN cosine eps (default 0.2)\n"
    "  --min-samples K      DBSCAN min_samples (default 1)\n"
    "  --seed N             seed of UMAP and the kNN search (default 42)\n"
    "  --n-neighbors K      UMAP neighbours (default 15)\n"
    "  --min-dist X         UMAP min_dist (default 0.1)\n"
    "  --epochs N           UMAP epochs (default: 500 up to 10,000 distinct vectors,\n"
    "                       else 200)\n"
    "  --exact-max N        exact kNN up to N distinct vectors, NN-descent beyond\n"
    "                       (default 4096)\n"
    "  --min-size N         templates (clusters with --by-message) of at least N\n"
    "                       rows get a suggested rule (default 5)\n"
    "  --color-by label|cluster  colouring of map.svg (default: label when present)\n"
    "  --umap-only          only embeddings + layout: points.csv and embeddings.npy\n"
    "  --no-progress        no progress bars (they show only on a terminal anyway)\n"
    "Rows with identical embeddings are clustered once, weighted (the same result);\n"
    "at most 200,000 distinct embedding vectors and 20,000,000 rows.\n";

/* DBSCAN and the silhouette are O(m^2) in the m distinct vectors (rows
 * with identical embeddings are one weighted vector, exactly); rows only
 * cost memory (their text, O(n) arrays). */
#define MAX_DISTINCT 200000
#define MAX_ROWS 20000000

/* ---- Progress bars ---------------------------------------------------------------- */

typedef struct {
    int on;
    char phase[16];
    double last;
} progress_state;

static int progress_cb(void *user, const char *phase, size_t done, size_t total) {
    progress_state *p = user;
    if (!p->on || total == 0) return 0;
    double now = lg_now();
    int same = !strcmp(p->phase, phase);
    if (same && done < total && now - p->last < 0.1) return 0;
    if (!same && p->phase[0]) fputc('\n', stderr);
    snprintf(p->phase, sizeof p->phase, "%s", phase);
    p->last = now;
    int width = 40, fill = (int)((double)width * (double)done / (double)total);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r%-7s [%s] %3d%% (%zu/%zu)", phase, bar, (int)(100.0 * (double)done / (double)total),
            done, total);
    fflush(stderr);
    return 0;
}

static void progress_end(progress_state *p) {
    if (p->on && p->phase[0]) fputc('\n', stderr);
    p->phase[0] = '\0';
}

/* ---- Input ----------------------------------------------------------------------------- */

typedef lg_cluster_rows table;

static int read_table(const char *path, table *t) {
    FILE *f = fopen(path, "rb");
    if (!f) return cli_error("%s: %s", path, strerror(errno));
    lg_csv_reader *r = NULL;
    lg_errmsg err = {{0}};
    if (lg_csv_reader_new(NULL, lg_cluster_rows_on_row, NULL, t, &r, &err)) {
        fclose(f);
        return cli_error("%s", err.msg);
    }
    char buf[1 << 16];
    size_t got;
    lg_err e = LG_OK;
    while (!e && (got = fread(buf, 1, sizeof buf, f)) > 0) e = lg_csv_feed(r, buf, got, &err);
    if (!e) e = lg_csv_finish(r, &err);
    lg_csv_reader_free(r);
    fclose(f);
    if (e) return cli_error("%s: %s", path, err.msg);
    if (!t->header_done) return cli_error("%s: empty file", path);
    return CLI_OK;
}

/* ---- Output ------------------------------------------------------------------------------ */

/* The files a run writes in --out DIR: the writers below and the set's
 * commit name them from this one table. */
typedef enum { OUT_POINTS, OUT_EMBEDDINGS, OUT_CLUSTERS, OUT_SVG, OUT_HTML, OUT_RULES, OUT_FILES } out_file;
static const char *const out_names[OUT_FILES] = {"points.csv", "embeddings.npy", "clusters.csv",
                                                 "map.svg",    "map.html",       "suggested_rules.yaml"};

/* All or nothing: the new set is written into a private directory inside
 * DIR (DIR/.logify-cluster.XXXXXX, the same file system) and renamed into
 * place only when every file of it was written, so that a failed run
 * leaves the earlier files of DIR as they were (never some new and some
 * old) and removes a DIR it created. */
typedef struct {
    const char *dir;                /* --out DIR */
    char stage[4096];               /* DIR/.logify-cluster.XXXXXX, "" until made */
    int created;                    /* DIR made by this run */
    unsigned char written[OUT_FILES]; /* staged, to be renamed into DIR */
} out_set;

static int out_begin(out_set *s, const char *dir) {
    memset(s, 0, sizeof *s);
    s->dir = dir;
    s->created = mkdir(dir, 0777) == 0;
    if (!s->created && errno != EEXIST) return cli_error("cannot create %s: %s", dir, strerror(errno));
    char t[sizeof s->stage];
    if ((size_t)snprintf(t, sizeof t, "%s/.logify-cluster.XXXXXX", dir) >= sizeof t)
        return cli_error("%s: path too long", dir);
    if (!mkdtemp(t)) {
        int en = errno;
        if (s->created) rmdir(dir);
        s->created = 0;
        return cli_error("cannot create a directory in %s: %s", dir, strerror(en));
    }
    memcpy(s->stage, t, sizeof t);
    return CLI_OK;
}

static void out_path(char *p, size_t cap, const char *dir, out_file f, const char *suffix) {
    snprintf(p, cap, "%s/%s%s", dir, out_names[f], suffix);
}

/* Renames the staged files into DIR. Each earlier file is kept (a hard
 * link in the stage) until every rename succeeded: a failed rename puts
 * the earlier ones back and removes the new ones. */
static int out_commit(out_set *s) {
    char to[4200], from[4200], keep[4200];
    int had[OUT_FILES] = {0};
    for (int i = 0; i < OUT_FILES; i++) {
        if (!s->written[i]) continue;
        out_path(to, sizeof to, s->dir, (out_file)i, "");
        out_path(keep, sizeof keep, s->stage, (out_file)i, ".old");
        struct stat st;
        if (link(to, keep) == 0) {
            had[i] = 1;
            if (stat(to, &st) == 0) { /* an earlier file keeps its mode and owner, as -o's do */
                out_path(from, sizeof from, s->stage, (out_file)i, "");
                /* chown first: it clears set-id bits that chmod then restores */
                if ((chown(from, st.st_uid, st.st_gid) && errno != EPERM) || chmod(from, st.st_mode & 07777))
                    return cli_error("%s: %s (no file of %s was replaced)", from, strerror(errno), s->dir);
            }
        } else if (errno != ENOENT) {
            int en = errno;
            if (stat(to, &st) == 0 && S_ISDIR(st.st_mode))
                return cli_error("%s: is a directory (no file of %s was replaced)", to, s->dir);
            return cli_error("cannot replace %s: %s (no file of %s was replaced)", to, strerror(en), s->dir);
        }
    }
    for (int i = 0; i < OUT_FILES; i++) {
        if (!s->written[i]) continue;
        out_path(from, sizeof from, s->stage, (out_file)i, "");
        out_path(to, sizeof to, s->dir, (out_file)i, "");
        if (rename(from, to) == 0) continue;
        int en = errno;
        for (int j = 0; j < i; j++) { /* the earlier set back */
            if (!s->written[j]) continue;
            out_path(to, sizeof to, s->dir, (out_file)j, "");
            out_path(keep, sizeof keep, s->stage, (out_file)j, ".old");
            if (had[j]) rename(keep, to);
            else unlink(to);
        }
        out_path(to, sizeof to, s->dir, (out_file)i, "");
        return cli_error("cannot replace %s: %s (the earlier files of %s are kept)", to, strerror(en), s->dir);
    }
    return CLI_OK;
}

/* Removes the stage and what is left in it (the earlier files' links, or
 * after a failure the new set: the names of the table, no directory
 * listing, which could fail for want of memory); after a failure a DIR
 * this run created is removed too. */
static void out_end(out_set *s, int failed) {
    if (s->stage[0]) {
        char p[4200];
        for (int i = 0; i < OUT_FILES; i++) {
            out_path(p, sizeof p, s->stage, (out_file)i, "");
            unlink(p);
            out_path(p, sizeof p, s->stage, (out_file)i, ".old");
            unlink(p);
        }
        rmdir(s->stage);
    }
    if (failed && s->created) rmdir(s->dir); /* fails, harmlessly, if anything else is in it */
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Writes buf (and optionally raw bytes after it) into the set's stage. */
static int write_file(out_set *s, out_file file, const lg_buf *buf, const void *raw, size_t raw_len) {
    const char *dir = s->stage, *name = out_names[file];
    char *path = join(dir, name);
    if (!path) return cli_error("output path: out of memory");
    cli_outfile o;
    int rc = cli_outfile_open(&o, path);
    free(path);
    if (rc) return rc;
    if ((buf->len && fwrite(buf->data, 1, buf->len, o.f) != buf->len) ||
        (raw_len && fwrite(raw, 1, raw_len, o.f) != raw_len)) {
        cli_outfile_abort(&o);
        return cli_error("writing %s/%s failed", dir, name);
    }
    rc = cli_outfile_commit(&o);
    if (!rc) s->written[file] = 1;
    return rc;
}

static const size_t OUT_MAX = (size_t)1 << 31;

/* embeddings.npy: (rows, dims) float32 in input order, each row its
 * distinct vector, streamed (no rows x dims copy in memory). */
static int write_npy_rows(out_set *s, const lg_vecset *v) {
    const char *dir = s->stage;
    lg_buf h;
    lg_buf_init(&h, 4096);
    lg_errmsg err = {{0}};
    if (lg_npy_header(v->n, v->d, &h, &err)) {
        lg_buf_free(&h);
        return cli_error("%s: %s", out_names[OUT_EMBEDDINGS], err.msg);
    }
    char *path = join(dir, out_names[OUT_EMBEDDINGS]);
    if (!path) {
        lg_buf_free(&h);
        return cli_error("%s: out of memory", out_names[OUT_EMBEDDINGS]);
    }
    cli_outfile o;
    int rc = cli_outfile_open(&o, path);
    free(path);
    if (rc) {
        lg_buf_free(&h);
        return rc;
    }
    int bad = fwrite(h.data, 1, h.len, o.f) != h.len;
    for (size_t i = 0; i < v->n && !bad; i++)
        bad = fwrite(v->x + (size_t)v->row_vec[i] * v->d, sizeof *v->x, v->d, o.f) != v->d;
    lg_buf_free(&h);
    if (bad) {
        cli_outfile_abort(&o);
        return cli_error("writing %s/%s failed", dir, out_names[OUT_EMBEDDINGS]);
    }
    rc = cli_outfile_commit(&o);
    if (!rc) s->written[OUT_EMBEDDINGS] = 1;
    return rc;
}

static int write_points(out_set *dir, const table *t, const int32_t *cl, const float *xy, size_t n,
                        int has_labels) {
    lg_buf b;
    lg_buf_init(&b, OUT_MAX);
    lg_err e = lg_buf_printf(&b, "row,cluster,x,y%s%s\n", has_labels ? ",target_label" : "",
                             t ? ",source,log_message" : "");
    for (size_t i = 0; i < n && !e; i++) {
        e = lg_buf_printf(&b, "%zu,%d,%.5f,%.5f", i + 1, (int)cl[i], xy[2 * i], xy[2 * i + 1]);
        if (!e && has_labels) {
            e = lg_buf_putc(&b, ',');
            if (!e) e = lg_csv_put_field(&b, t->lab[i], strlen(t->lab[i]));
        }
        if (!e && t) {
            e = lg_buf_putc(&b, ',');
            if (!e) e = lg_csv_put_field(&b, t->src[i], strlen(t->src[i]));
            if (!e) e = lg_buf_putc(&b, ',');
            if (!e) e = lg_csv_put_field(&b, t->msg[i], t->len[i]);
        }
        if (!e) e = lg_buf_putc(&b, '\n');
    }
    int rc = e ? cli_error("%s: %s", out_names[OUT_POINTS], lg_strerror(e)) : write_file(dir, OUT_POINTS, &b, NULL, 0);
    lg_buf_free(&b);
    return rc;
}

/* clusters.csv: one line per cluster (largest first), then noise. */
static int write_clusters(out_set *dir, const table *t, const int32_t *cl, size_t n, size_t nc,
                          int has_labels) {
    lg_cluster_groups g;
    lg_errmsg gerr = {{0}};
    if (lg_cluster_groups_make(cl, n, nc, &g, &gerr)) return cli_error("%s", gerr.msg);
    const char **ms = malloc((n ? n : 1) * sizeof *ms);
    size_t *ls = malloc((n ? n : 1) * sizeof *ls);
    lg_buf b;
    lg_buf_init(&b, OUT_MAX);
    lg_template tp;
    lg_template_init(&tp);
    int rc = CLI_OK;
    lg_err e = LG_OK;
    if (!ms || !ls) {
        rc = cli_error("%s: out of memory", out_names[OUT_CLUSTERS]);
        goto done;
    }
    e = lg_buf_printf(&b, "id,size,dominant_label,label_share,template,example_1,example_2,example_3\n");
    for (size_t oi = 0; oi <= nc && !e; oi++) {
        size_t c = g.order[oi], m = g.size[c];
        if (m == 0) continue;
        const size_t *r = g.rows + g.start[c];
        if (c == nc) e = lg_buf_printf(&b, "-1,%zu,", m);
        else e = lg_buf_printf(&b, "%zu,%zu,", c, m);
        if (!e && has_labels) {
            size_t best_n;
            const char *best = lg_dominant_label((const char *const *)t->lab, r, m, ms, &best_n);
            e = lg_csv_put_field(&b, best, strlen(best));
            if (!e) e = lg_buf_printf(&b, ",%.3f,", (double)best_n / (double)m);
        } else if (!e) {
            e = lg_buf_printf(&b, ",,");
        }
        if (!e && t) {
            for (size_t a = 0; a < m; a++) ms[a] = t->msg[r[a]], ls[a] = t->len[r[a]];
            lg_errmsg terr;
            const char *tpl = (c != nc && !lg_template_build(ms, ls, m, &tp, &terr)) ? lg_buf_cstr(&tp.readable) : "";
            e = lg_csv_put_field(&b, tpl, strlen(tpl));
            for (size_t k = 0; k < 3 && !e; k++) {
                e = lg_buf_putc(&b, ',');
                if (!e && k < m) e = lg_csv_put_field(&b, t->msg[r[k * m / 3]], t->len[r[k * m / 3]]);
            }
        } else if (!e) {
            e = lg_buf_printf(&b, ",,,");
        }
        if (!e) e = lg_buf_putc(&b, '\n');
    }
    if (e) rc = cli_error("%s: %s", out_names[OUT_CLUSTERS], lg_strerror(e));
    else rc = write_file(dir, OUT_CLUSTERS, &b, NULL, 0);
done:
    lg_template_free(&tp);
    lg_cluster_groups_free(&g);
    lg_buf_free(&b);
    free(ms), free(ls);
    return rc;
}

/* ---- The command ---------------------------------------------------------------------------- */

typedef struct {
    const char *data, *out, *encoder, *embeddings, *color_by;
    double eps;
    long min_samples, min_size, dims;
    int umap_only, no_progress, by_message;
    lg_umap_params up;
} cluster_opts;

static int parse_long(const char *s, long lo, long hi, const char *what, long *out) {
    if (cli_parse_long(s, lo, hi, out))
        return cli_usage_error(usage_text, "%s must be an integer in %ld..%ld, got '%s'", what, lo, hi, s);
    return CLI_OK;
}

static int parse_double(const char *s, double lo, double hi, const char *what, double *out) {
    double v;
    if (cli_parse_double(s, &v) || !(v >= lo && v <= hi))
        return cli_usage_error(usage_text, "%s must be a number in %g..%g, got '%s'", what, lo, hi, s);
    *out = v;
    return CLI_OK;
}

static int parse_opts(int argc, char **argv, cluster_opts *o) {
    memset(o, 0, sizeof *o);
    o->encoder = "hash";
    o->eps = 0.2;
    o->min_samples = 1;
    o->min_size = 5;
    o->dims = LG_CLUSTER_PROJ_DIM;
    lg_umap_params_default(&o->up);
    static const struct option longopts[] = {
        {"data", 1, 0, 'd'},        {"out", 1, 0, 'o'},         {"encoder", 1, 0, 'e'},
        {"embeddings", 1, 0, 'E'},  {"eps", 1, 0, 'p'},         {"min-samples", 1, 0, 'm'},
        {"seed", 1, 0, 's'},        {"n-neighbors", 1, 0, 'k'}, {"min-dist", 1, 0, 'D'},
        {"epochs", 1, 0, 'n'},      {"exact-max", 1, 0, 'x'},   {"min-size", 1, 0, 'z'},
        {"color-by", 1, 0, 'c'},    {"dims", 1, 0, 'j'},        {"umap-only", 0, 0, 'u'},
        {"no-progress", 0, 0, 'q'}, {"help", 0, 0, 'h'},        {"by-template", 0, 0, 'T'},
        {"by-message", 0, 0, 'M'},  {0, 0, 0, 0}};
    int c, rc = CLI_OK;
    long v;
    double dv = 0;
    optind = 1;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': o->data = optarg; break;
        case 'o': o->out = optarg; break;
        case 'e': o->encoder = optarg; break;
        case 'E': o->embeddings = optarg; break;
        case 'p': rc = parse_double(optarg, 0, 2, "--eps", &o->eps); break;
        case 'm': rc = parse_long(optarg, 1, 1000000, "--min-samples", &o->min_samples); break;
        case 's':
            rc = parse_long(optarg, 0, 0x7fffffffL, "--seed", &v);
            o->up.seed = (uint64_t)v;
            break;
        case 'k':
            rc = parse_long(optarg, 2, 200, "--n-neighbors", &v);
            o->up.n_neighbors = (int)v;
            break;
        case 'D':
            rc = parse_double(optarg, 0, 10, "--min-dist", &dv);
            o->up.min_dist = (float)dv;
            break;
        case 'n':
            rc = parse_long(optarg, 1, 100000, "--epochs", &v);
            o->up.n_epochs = (int)v;
            break;
        case 'x':
            rc = parse_long(optarg, 0, MAX_DISTINCT, "--exact-max", &v);
            o->up.exact_max = (size_t)v;
            break;
        case 'z': rc = parse_long(optarg, 1, 1000000, "--min-size", &o->min_size); break;
        case 'j': rc = parse_long(optarg, 0, 1 << 20, "--dims", &o->dims); break;
        case 'c':
            if (strcmp(optarg, "label") && strcmp(optarg, "cluster"))
                rc = cli_usage_error(usage_text, "--color-by is label or cluster");
            o->color_by = optarg;
            break;
        case 'u': o->umap_only = 1; break;
        case 'T': o->by_message = 0; break;
        case 'M': o->by_message = 1; break;
        case 'q': o->no_progress = 1; break;
        case 'h': fputs(usage_text, stdout); return -1;
        default: return CLI_USAGE;
        }
    }
    if (rc) return rc;
    if (optind < argc) return cli_usage_error(usage_text, "unexpected argument '%s'", argv[optind]);
    if (!o->out) return cli_usage_error(usage_text, "--out DIR is required");
    if (!o->data && !o->embeddings) return cli_usage_error(usage_text, "--data CSV (or --embeddings) is required");
    return CLI_OK;
}

static void print_sizes(const int32_t *cl, size_t n, size_t nc) {
    lg_cluster_groups g;
    if (lg_cluster_groups_make(cl, n, nc, &g, NULL)) return;
    size_t singles = 0;
    for (size_t c = 0; c < nc; c++) singles += g.size[c] == 1;
    fprintf(stderr, "  largest clusters (id:rows):");
    for (size_t c = 0; c < nc && c < 12; c++) fprintf(stderr, " %zu:%zu", g.order[c], g.size[g.order[c]]);
    fprintf(stderr, "%s\n  clusters of one row: %zu\n", nc > 12 ? " ..." : "", singles);
    lg_cluster_groups_free(&g);
}

/* Too many distinct vectors: say what the cap counts and what to do. */
static int distinct_cap_error(const char *what, const char *msg) {
    return cli_error("%s: %s; the cap of %d applies to distinct embedding vectors, not rows "
                     "(identical vectors are clustered once, weighted): DBSCAN and the "
                     "silhouette are O(m^2) in them; cluster a sample",
                     what, msg, MAX_DISTINCT);
}

int cmd_cluster(int argc, char **argv) {
    cluster_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    table t;
    lg_cluster_rows_init(&t, MAX_ROWS);
    lg_vecset vs; /* the distinct vectors: DBSCAN, the silhouette and UMAP run on these */
    lg_cluster_templates tt = {0};
    lg_vecset_init(&vs);
    float *x = NULL, *xy = NULL, *xyd = NULL;
    int32_t *cl = NULL, *cld = NULL;
    lg_suggested_rule *rules = NULL;
    size_t n_rules = 0, n = 0, d = 0, m = 0, nc = 0;
    lg_errmsg err = {{0}};
    lg_buf b;
    lg_buf_init(&b, OUT_MAX);
    progress_state ps = {!o.no_progress && isatty(2), "", 0};
    double t0 = lg_now();

    out_set os = {0};
    if (o.data && (rc = read_table(o.data, &t))) goto done;
    int has_labels = 0;
    for (size_t i = 0; i < t.n && !has_labels; i++) has_labels = t.col_lab >= 0 && t.lab[i][0];
    if ((rc = out_begin(&os, o.out))) goto done;
    /* ---- embed, deduplicate */
    if (o.embeddings) {
        if (lg_npy_read(o.embeddings, &x, &n, &d, &err)) {
            rc = cli_error("%s", err.msg);
            goto done;
        }
        if (o.data && n != t.n) {
            rc = cli_error("%s has %zu rows but %s has %zu", o.embeddings, n, o.data, t.n);
            goto done;
        }
        lg_l2_normalize_rows(x, n, d);
        lg_err e = lg_vecset_from_rows(x, n, d, MAX_DISTINCT, &vs, &err);
        free(x);
        x = NULL;
        if (e) {
            rc = e == LG_ELIMIT ? distinct_cap_error(o.embeddings, err.msg)
                                : cli_error("%s", err.msg);
            goto done;
        }
    } else {
        n = t.n;
        if (n < 2) {
            rc = cli_error("%s: need at least 2 rows, got %zu", o.data, n);
            goto done;
        }
        const char *const *emsg = (const char *const *)t.msg;
        const size_t *elen = t.len;
        if (!o.by_message) {
            if (lg_cluster_templates_mine(emsg, elen, n, NULL, NULL, &tt, &err)) {
                rc = cli_error("%s", err.msg);
                goto done;
            }
            fprintf(stderr, "logify cluster: %zu rows, %zu templates (docs/templates.md)\n", n,
                    tt.groups);
            emsg = tt.row_text;
            elen = tt.row_len;
        }
        lg_err e = lg_cluster_embed_distinct(o.encoder, emsg, elen, n, (size_t)o.dims, MAX_DISTINCT,
                                             progress_cb, &ps, &vs, &err);
        progress_end(&ps);
        if (e) {
            rc = e == LG_ELIMIT ? distinct_cap_error(o.data, err.msg)
                                : cli_error("encoder '%s': %s", o.encoder, err.msg);
            goto done;
        }
        d = vs.d;
    }
    m = vs.m;
    fprintf(stderr, "logify cluster: %zu rows, %zu distinct vectors", n, m);
    if (vs.texts) fprintf(stderr, " (%zu distinct messages encoded)", vs.texts);
    fprintf(stderr, ", %zu dims (%s) in %.2f s\n", d, o.embeddings ? o.embeddings : o.encoder,
            lg_now() - t0);
    if ((rc = write_npy_rows(&os, &vs))) goto done;
    cl = malloc(n * sizeof *cl);
    xy = malloc(2 * n * sizeof *xy);
    cld = malloc(m * sizeof *cld);
    xyd = calloc(2 * m, sizeof *xyd);
    if (!cl || !xy || !cld || !xyd) {
        rc = cli_error("cluster assignments: out of memory");
        goto done;
    }
    /* ---- DBSCAN (weighted: exactly that of all rows) */
    if (!o.umap_only) {
        double t1 = lg_now();
        if (lg_dbscan_weighted(vs.x, m, d, vs.weight, (float)o.eps, (size_t)o.min_samples,
                               progress_cb, &ps, cld, &nc, &err)) {
            progress_end(&ps);
            rc = cli_error("%s", err.msg);
            goto done;
        }
        progress_end(&ps);
        for (size_t i = 0; i < n; i++) cl[i] = cld[vs.row_vec[i]];
        size_t noise = 0;
        for (size_t i = 0; i < n; i++) noise += cl[i] < 0;
        double sil;
        if (lg_silhouette_cosine_weighted(vs.x, m, d, vs.weight, cld, nc, (size_t)50 << 20,
                                          o.up.seed, &sil, &err)) {
            rc = cli_error("%s", err.msg);
            goto done;
        }
        fprintf(stderr, "DBSCAN (cosine, eps %g, min_samples %ld): %zu clusters, %zu noise rows, "
                        "silhouette %s%.4f (%.2f s)\n",
                o.eps, o.min_samples, nc, noise, isnan(sil) ? "n/a " : "", isnan(sil) ? 0.0 : sil,
                lg_now() - t1);
        print_sizes(cl, n, nc);
    } else {
        for (size_t i = 0; i < n; i++) cl[i] = LG_NOISE;
    }
    /* ---- UMAP of the distinct vectors; copies share their coordinates */
    lg_umap_stats st;
    double t2 = lg_now();
    if (m >= 2) {
        if (lg_umap_fit(vs.x, m, d, &o.up, progress_cb, &ps, xyd, &st, &err)) {
            progress_end(&ps);
            rc = cli_error("%s", err.msg);
            goto done;
        }
        progress_end(&ps);
        fprintf(
            stderr,
            "UMAP (n_neighbors %d, min_dist %g, seed %llu) of %zu distinct vectors: %.2f s: kNN %s "
            "%.2f s, graph %.2f s (%zu edges, %zu components), init %.2f s (%zu rows random), "
            "layout %.2f s; a=%.4f b=%.4f\n",
            o.up.n_neighbors, (double)o.up.min_dist, (unsigned long long)o.up.seed, m,
            lg_now() - t2, st.knn_exact ? "exact" : "NN-descent", st.knn_seconds, st.graph_seconds,
            st.graph_nnz, st.components, st.init_seconds, st.random_init_rows, st.layout_seconds,
            (double)st.a, (double)st.b);
    } else {
        fprintf(stderr, "UMAP: every row has the same vector: all at (0, 0)\n");
    }
    for (size_t i = 0; i < n; i++) {
        xy[2 * i] = xyd[2 * (size_t)vs.row_vec[i]];
        xy[2 * i + 1] = xyd[2 * (size_t)vs.row_vec[i] + 1];
    }
    double t_out = lg_now(), t_rules = 0;
    if ((rc = write_points(&os, o.data ? &t : NULL, cl, xy, n, has_labels))) goto done;
    if (o.umap_only) goto summary;
    if ((rc = write_clusters(&os, o.data ? &t : NULL, cl, n, nc, has_labels))) goto done;
    /* ---- maps */
    lg_plot_data pd = {n, xy, cl, nc, has_labels ? (const char *const *)t.lab : NULL,
                       o.data ? (const char *const *)t.msg : NULL, o.data ? t.len : NULL,
                       o.data && t.col_src >= 0 ? (const char *const *)t.src : NULL, NULL};
    char title[256];
    snprintf(title, sizeof title,
             "logify cluster: %zu rows (%zu distinct vectors), %zu clusters, UMAP of %s", n, m, nc,
             o.embeddings ? "the given embeddings" : o.encoder);
    pd.title = title;
    int by_label = has_labels && (!o.color_by || !strcmp(o.color_by, "label"));
    if (lg_plot_svg(&pd, by_label, &b, &err)) {
        rc = cli_error("%s", err.msg);
        goto done;
    }
    if ((rc = write_file(&os, OUT_SVG, &b, NULL, 0))) goto done;
    lg_buf_reset(&b);
    if (lg_plot_html(&pd, &b, &err)) {
        rc = cli_error("%s", err.msg);
        goto done;
    }
    if ((rc = write_file(&os, OUT_HTML, &b, NULL, 0))) goto done;
    lg_buf_reset(&b);
    /* ---- suggested rules */
    if (o.data) {
        double tr = lg_now();
        lg_suggest_input si = {(const char *const *)t.msg, t.len,
                               has_labels ? (const char *const *)t.lab : NULL, n, cl, nc,
                               (size_t)o.min_size, 500, NULL};
        /* template-first: a rule per template (as `logify templates --rules`) */
        if ((tt.miner ? lg_cluster_template_rules(tt.miner, tt.tpl, cl, &si, &rules, &n_rules, &err)
                      : lg_suggest_rules(&si, &rules, &n_rules, &err)) ||
            lg_suggested_rules_yaml(rules, n_rules, n, has_labels, &b, &err)) {
            rc = cli_error("suggested rules: %s", err.msg);
            goto done;
        }
        t_rules = lg_now() - tr;
        if ((rc = write_file(&os, OUT_RULES, &b, NULL, 0))) goto done;
        size_t low = 0, covered = 0;
        for (size_t i = 0; i < n_rules; i++) {
            low += has_labels && rules[i].precision < 1.0;
            covered += rules[i].coverage;
        }
        fprintf(stderr, "suggested rules: %zu (%s of >= %ld rows)", n_rules, tt.miner ? "templates" : "clusters",
                o.min_size);
        if (has_labels) fprintf(stderr, ", %zu with precision < 1.0 (marked REVIEW)", low);
        fprintf(stderr, " (%.2f s)\n", t_rules);
    }
summary:
    /* the output phase apart from the rule suggestions, then the whole run
     * (the figure printed here used to be the whole run, which read as a
     * slow output phase) */
    if ((rc = out_commit(&os))) goto done;
    fprintf(stderr, "wrote %s/{", o.out);
    for (int i = 0, k = 0; i < OUT_FILES; i++)
        if (os.written[i]) fprintf(stderr, "%s%s", k++ ? "," : "", out_names[i]);
    fprintf(stderr, "} in %.2f s (whole run %.2f s)\n", lg_now() - t_out - t_rules, lg_now() - t0);
done:
    out_end(&os, rc != 0);
    lg_suggested_rules_free(rules, n_rules);
    lg_buf_free(&b);
    lg_cluster_rows_free(&t);
    lg_cluster_templates_free(&tt);
    lg_vecset_free(&vs);
    free(x), free(xy), free(cl), free(xyd), free(cld);
    return rc;
}
