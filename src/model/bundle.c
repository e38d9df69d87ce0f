/* bundle.c - write and read (with strict validation) a model bundle
 * directory: meta.json + weights.bin. Format in include/logify/bundle.h
 * and docs/model.md. */
#include "logify/bundle.h"
#include "logify/jsonguard.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define META_MAX (256u << 20)         /* bytes of meta.json (per-label figures) */
#define WEIGHTS_MAX ((size_t)1 << 31) /* bytes of weights.bin */
#define WEIGHTS_MAGIC "LGFYW001"
#define WEIGHTS_HEADER 16 /* magic + u32 K + u32 D */
#define SVM_MAGIC "LGFYV002"
#define CENT_MAGIC "LGFYC002"
#define CSR_HEADER 24 /* magic + u32 K + u32 D + u64 nnz */
#define FEAT_MAGIC "LGFYF001"
#define FEAT_HEADER 16 /* magic + u32 D + u32 method */

void lg_bundle_free(lg_bundle *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n_labels; i++)
        free(b->labels[i]);
    free(b->labels);
    free(b->encoder_spec);
    free(b->encoder_config);
    free(b->training);
    lg_logreg_free(b->clf);
    lg_svm_free(b->svm);
    lg_centroids_free(b->cent);
    lg_featw_free(b->fw);
    free(b);
}

/* ---- Little-endian helpers ----------------------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u64(unsigned char *p, uint64_t v) {
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_u64(const unsigned char *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void put_f32(unsigned char *p, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(p, v);
}

static float get_f32(const unsigned char *p) {
    uint32_t v = get_u32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

/* ---- Writing ------------------------------------------------------------------------- */

/* The bundle's files, made whole in memory before any is written. */
typedef struct {
    const char *name;
    unsigned char *data;
    size_t len;
} bundle_file;

/* Writes every file to dir/name.tmp, then renames them into place (meta.json
 * last): a failure while making or writing them (a failed allocation, fopen's
 * FILE included) leaves the directory as it was, an older bundle whole. */
static lg_err write_files(const char *dir, const bundle_file *files, size_t n, lg_errmsg *err) {
    char path[4096], tmp[4200];
    int made_dir = mkdir(dir, 0777) == 0;
    if (!made_dir && errno != EEXIST)
        return lg_fail(err, errno == ENOMEM ? LG_ENOMEM : LG_EIO, "cannot create %s: %s", dir,
                       strerror(errno));
    size_t done = 0;
    lg_err e = LG_OK;
    for (; done < n; done++) {
        snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, files[done].name);
        FILE *f = fopen(tmp, "wb");
        if (!f) {
            int en = errno;
            e = lg_fail(err, en == ENOMEM ? LG_ENOMEM : LG_EIO, "cannot create %s: %s", tmp,
                        strerror(en));
            break;
        }
        int ok = fwrite(files[done].data, 1, files[done].len, f) == files[done].len;
        int en = errno;
        if (fclose(f) != 0 && ok) {
            ok = 0;
            en = errno;
        }
        if (!ok) {
            unlink(tmp);
            e = lg_fail(err, en == ENOMEM ? LG_ENOMEM : LG_EIO, "cannot write %s: %s", tmp,
                        strerror(en));
            break;
        }
    }
    for (size_t i = 0; i < n && !e; i++) {
        snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, files[i].name);
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        if (rename(tmp, path) != 0)
            e = lg_fail(err, LG_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    if (e) {
        for (size_t i = 0; i < done; i++) {
            snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, files[i].name);
            unlink(tmp);
        }
        if (made_dir) rmdir(dir);
    }
    return e;
}

static void hex64(char out[17], uint64_t v) {
    snprintf(out, 17, "%016llx", (unsigned long long)v);
}

/* A CSR-by-class matrix as bytes: magic, u32 K, u32 D, u64 nnz, u64
 * ptr[K + 1], u32 idx[nnz], f32 val[nnz], then `extra` f32 (may be 0). */
static unsigned char *csr_bytes(const char *magic, size_t K, size_t D, const size_t *ptr,
                                const uint32_t *idx, const float *val, const float *extra,
                                size_t n_extra, size_t *len) {
    size_t nnz = ptr[K];
    *len = CSR_HEADER + 8 * (K + 1) + 8 * nnz + 4 * n_extra;
    unsigned char *w = lg_malloc(*len), *p = w;
    if (!w) return NULL;
    memcpy(p, magic, 8);
    put_u32(p + 8, (uint32_t)K);
    put_u32(p + 12, (uint32_t)D);
    put_u64(p + 16, nnz);
    p += CSR_HEADER;
    for (size_t k = 0; k <= K; k++, p += 8)
        put_u64(p, ptr[k]);
    for (size_t q = 0; q < nnz; q++, p += 4)
        put_u32(p, idx[q]);
    for (size_t q = 0; q < nnz; q++, p += 4)
        put_f32(p, val[q]);
    for (size_t q = 0; q < n_extra; q++, p += 4)
        put_f32(p, extra[q]);
    return w;
}

/* The weights file's bytes for the bundle's classifier. */
static unsigned char *weights_bytes(const lg_bundle *b, size_t *len) {
    if (b->kind == LG_CLF_SVM) {
        const lg_svm *m = b->svm;
        return csr_bytes(SVM_MAGIC, m->n_classes, m->dim, m->ptr, m->idx, m->val, m->bias,
                         m->n_classes, len);
    }
    const lg_logreg *m = b->clf;
    const size_t K = m->n_classes, D = m->dim;
    *len = WEIGHTS_HEADER + 4 * (D * K + K);
    unsigned char *w = lg_malloc(*len);
    if (!w) return NULL;
    memcpy(w, WEIGHTS_MAGIC, 8);
    put_u32(w + 8, (uint32_t)K);
    put_u32(w + 12, (uint32_t)D);
    unsigned char *p = w + WEIGHTS_HEADER;
    for (size_t i = 0; i < D * K; i++, p += 4)
        put_f32(p, m->W[i]);
    for (size_t k = 0; k < K; k++, p += 4)
        put_f32(p, m->b[k]);
    return w;
}

lg_err lg_bundle_write(const char *dir, const lg_bundle *b, lg_errmsg *err) {
    size_t K = b->kind == LG_CLF_SVM ? (b->svm ? b->svm->n_classes : 0)
                                     : (b->clf ? b->clf->n_classes : 0);
    size_t D = b->kind == LG_CLF_SVM ? (b->svm ? b->svm->dim : 0) : (b->clf ? b->clf->dim : 0);
    if (!K || K != b->n_labels)
        return lg_fail(err, LG_EINVAL, "bundle: %zu labels but the classifier has %zu classes",
                       b->n_labels, K);
    if (b->kind == LG_CLF_SVM && !b->cent)
        return lg_fail(err, LG_EINVAL, "bundle: an SVM bundle needs its centroids");
    if (b->cent && (b->cent->n_classes != K || b->cent->dim != D))
        return lg_fail(err, LG_EINVAL, "bundle: centroids of another shape than the classifier");
    if (b->fw && b->fw->dim != D)
        return lg_fail(err, LG_EINVAL, "bundle: feature weights of another dimension");
    if (b->source_feature > 0 && !(b->fw && b->source_feature < 1))
        return lg_fail(err, LG_EINVAL, "bundle: the source feature needs feature weights");
    bundle_file files[4];
    size_t n_files = 0;
    lg_err e = LG_OK;
    json_t *root = NULL, *labels = NULL, *enc_cfg = NULL, *training = NULL;
    char *text = NULL;
    size_t nbytes = 0, cbytes = 0;
    unsigned char *w = weights_bytes(b, &nbytes);
    if (!w) return lg_fail(err, LG_ENOMEM, "bundle weights: out of memory");
    files[n_files++] = (bundle_file){LG_BUNDLE_WEIGHTS, w, nbytes};
    char wsum[17], ehash[17], csum[17] = "", fsum[17] = "";
    size_t fbytes = 0;
    hex64(wsum, lg_fnv1a64(w, nbytes, 0));
    hex64(ehash, b->encoder_hash);
    if (b->cent) {
        const lg_centroids *c = b->cent;
        unsigned char *cb = csr_bytes(CENT_MAGIC, K, D, c->ptr, c->idx, c->val, NULL, 0, &cbytes);
        if (!cb) {
            e = lg_fail(err, LG_ENOMEM, "bundle centroids: out of memory");
            goto done;
        }
        files[n_files++] = (bundle_file){LG_BUNDLE_CENTROIDS, cb, cbytes};
        hex64(csum, lg_fnv1a64(cb, cbytes, 0));
    }
    if (b->fw) {
        fbytes = FEAT_HEADER + 4 * D;
        unsigned char *fb = lg_malloc(fbytes);
        if (!fb) {
            e = lg_fail(err, LG_ENOMEM, "bundle feature weights: out of memory");
            goto done;
        }
        files[n_files++] = (bundle_file){LG_BUNDLE_FEATURES, fb, fbytes};
        memcpy(fb, FEAT_MAGIC, 8);
        put_u32(fb + 8, (uint32_t)D);
        put_u32(fb + 12, (uint32_t)b->fw->method);
        for (size_t f = 0; f < D; f++)
            put_f32(fb + FEAT_HEADER + 4 * f, b->fw->w[f]);
        hex64(fsum, lg_fnv1a64(fb, fbytes, 0));
    }

    json_error_t je;
    /* a failed json_* call: meta.json would lack a field, or (Jansson 2.14,
     * logify/jsonguard.h) hold a value or key silently cut short */
    unsigned long mark = lg_json_alloc_mark();
    int oom = 0;
    root = json_object();
    labels = json_array();
    enc_cfg = json_loads(b->encoder_config ? b->encoder_config : "{}", 0, &je);
    training = b->training ? json_loads(b->training, 0, &je) : json_object();
    if (lg_json_alloc_failed_since(mark) || !root || !labels || (!training && !b->training)) {
        e = lg_fail(err, LG_ENOMEM, "out of memory (meta.json)");
        goto done;
    }
    if (!enc_cfg || !training) {
        e = lg_fail(err, LG_EINVAL, "bundle: encoder config or training figures are not valid JSON");
        goto done;
    }
    for (size_t i = 0; i < b->n_labels; i++)
        oom |= json_array_append_new(labels, json_string(b->labels[i]));
    oom |= json_object_set_new(root, "format", json_string(LG_BUNDLE_FORMAT));
    oom |= json_object_set_new(root, "format_version",
                        json_integer(b->source_feature > 0 ? LG_BUNDLE_VERSION
                                     : b->fw                ? LG_BUNDLE_VERSION_FW
                                                            : LG_BUNDLE_VERSION_MIN));
    oom |= json_object_set_new(root, "labels", labels);
    labels = NULL; /* root's now, even when the call failed */
    oom |= json_object_set_new(root, "threshold", json_real(b->threshold));
    oom |= json_object_set_new(root, "encoder",
                        json_pack("{s:s, s:s, s:o}", "spec", b->encoder_spec, "config_hash", ehash,
                                  "config", enc_cfg));
    enc_cfg = NULL; /* json_pack's "o" took it, even when it failed */
    if (b->kind == LG_CLF_SVM)
        oom |= json_object_set_new(
            root, "classifier",
            json_pack("{s:s, s:I, s:I, s:f, s:I, s:f, s:f, s:I}", "type", "ovr_linear_svm", "n_classes",
                      (json_int_t)K, "dim", (json_int_t)D, "C", b->C, "candidates",
                      (json_int_t)b->svm->candidates, "platt_a", (double)b->svm->platt_a,
                      "platt_b", (double)b->svm->platt_b, "nnz", (json_int_t)b->svm->ptr[K]));
    else
        oom |= json_object_set_new(root, "classifier",
                            json_pack("{s:s, s:I, s:I, s:f, s:s}", "type", "multinomial_logreg",
                                      "n_classes", (json_int_t)K, "dim", (json_int_t)D, "C", b->C,
                                      "class_weight", b->balanced ? "balanced" : "none"));
    oom |= json_object_set_new(
        root, "weights",
        json_pack("{s:s, s:I, s:s, s:s, s:s}", "file", LG_BUNDLE_WEIGHTS, "bytes",
                  (json_int_t)nbytes, "dtype", "float32le", "layout",
                  b->kind == LG_CLF_SVM
                      ? "header(magic LGFYV002, u32 n_classes, u32 dim, u64 nnz), u64 ptr "
                        "(n_classes + 1), u32 feature (nnz), f32 weight (nnz), f32 bias (n_classes)"
                      : "header(magic LGFYW001, u32 n_classes, u32 dim), W (dim, n_classes), b "
                        "(n_classes)",
                  "fnv1a64", wsum));
    if (b->cent) {
        oom |= json_object_set_new(
            root, "centroids",
            json_pack("{s:s, s:I, s:I, s:s, s:s}", "file", LG_BUNDLE_CENTROIDS, "bytes",
                      (json_int_t)cbytes, "nnz", (json_int_t)b->cent->ptr[K], "layout",
                      "header(magic LGFYC002, u32 n_classes, u32 dim, u64 nnz), u64 ptr "
                      "(n_classes + 1), u32 feature (nnz), f32 value (nnz)",
                      "fnv1a64", csum));
        oom |= json_object_set_new(root, "open_set",
                            json_pack("{s:s, s:f}", "method",
                                      "best cosine similarity to a class centroid",
                                      "unknown_threshold", b->unknown_threshold));
    }
    if (b->fw)
        oom |= json_object_set_new(
            root, "feature_weights",
            json_pack("{s:s, s:s, s:I, s:s, s:s}", "method", lg_featw_method_name(b->fw->method),
                      "file", LG_BUNDLE_FEATURES, "bytes", (json_int_t)fbytes, "layout",
                      "header(magic LGFYF001, u32 dim, u32 method), f32 weight (dim)", "fnv1a64",
                      fsum));
    if (b->source_feature > 0)
        oom |= json_object_set_new(root, "source_feature",
                            json_pack("{s:s, s:f}", "method",
                                      "hash of the lower-cased source, one feature", "value",
                                      b->source_feature));
    oom |= json_object_set_new(root, "training", training);
    training = NULL;
    if (oom) {
        e = lg_fail(err, LG_ENOMEM, "out of memory (meta.json)");
        goto done;
    }
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (!text || lg_json_alloc_failed_since(mark)) {
        e = lg_fail(err, LG_ENOMEM, "out of memory (meta.json)");
        goto done;
    }
    size_t tl = strlen(text);
    char *withnl = lg_realloc(text, tl + 2);
    if (!withnl) {
        e = lg_fail(err, LG_ENOMEM, "bundle meta.json: out of memory");
        goto done;
    }
    text = withnl;
    withnl[tl] = '\n';
    withnl[tl + 1] = '\0';
    files[n_files++] = (bundle_file){LG_BUNDLE_META, (unsigned char *)withnl, tl + 1};
    text = NULL; /* files[] frees it */
    e = write_files(dir, files, n_files, err);
done:
    json_decref(root);
    json_decref(labels);
    json_decref(enc_cfg);
    json_decref(training);
    free(text);
    for (size_t i = 0; i < n_files; i++)
        free(files[i].data);
    return e;
}

/* ---- Reading ------------------------------------------------------------------------ */

#define BAD(...) lg_fail(err, LG_EMODEL, __VA_ARGS__)

static lg_err parse_hex64(const char *s, uint64_t *out) {
    if (!s || strlen(s) != 16) return LG_EPARSE;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return LG_EPARSE;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return LG_OK;
}

/* what meta.json says about the binary files */
typedef struct {
    size_t dim, wbytes, wnnz, cbytes, cnnz, fbytes;
    uint64_t wsum, csum, fsum;
    int has_cent, has_fw, fw_method;
} meta_files;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t csr_size(size_t K, size_t nnz, size_t extra) {
    return CSR_HEADER + 8 * (K + 1) + 8 * nnz + 4 * extra;
}

/* Validates meta.json into b (everything but the binary files), whose
 * recorded sizes and checksums go to *mf. */
static lg_err read_meta(const char *path, json_t *root, lg_bundle *b, meta_files *mf,
                        lg_errmsg *err) {
    size_t *dim = &mf->dim;
    if (!json_is_object(root)) return BAD("%s: not a JSON object", path);
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!fmt || strcmp(fmt, LG_BUNDLE_FORMAT))
        return BAD("%s: \"format\" is not \"%s\": not a Logify model bundle", path,
                   LG_BUNDLE_FORMAT);
    json_t *ver = json_object_get(root, "format_version");
    if (!json_is_integer(ver)) return BAD("%s: \"format_version\" missing or not an integer", path);
    json_int_t version = json_integer_value(ver);
    if (version < LG_BUNDLE_VERSION_MIN || version > LG_BUNDLE_VERSION)
        return BAD(
            "%s: bundle format version %lld, this logify reads versions %d to %d (re-create it "
            "with 'logify train')",
            path, (long long)version, LG_BUNDLE_VERSION_MIN, LG_BUNDLE_VERSION);

    json_t *labels = json_object_get(root, "labels");
    size_t K = json_array_size(labels);
    if (!json_is_array(labels) || K < 2)
        return BAD("%s: \"labels\" must be an array of 2 or more strings", path);
    if (!(b->labels = lg_calloc(K, sizeof *b->labels)))
        return lg_fail(err, LG_ENOMEM, "bundle labels: out of memory");
    for (size_t i = 0; i < K; i++) {
        const char *s = json_string_value(json_array_get(labels, i));
        if (!s || !*s || strlen(s) > LG_BUNDLE_MAX_LABEL)
            return BAD("%s: label %zu is not a non-empty string of at most %d bytes", path, i,
                       LG_BUNDLE_MAX_LABEL);
        if (!(b->labels[i] = lg_strdup(s))) return lg_fail(err, LG_ENOMEM, "bundle labels: out of memory");
        b->n_labels = i + 1;
    }
    { /* duplicates: sort a copy of the pointers */
        char **sorted = lg_malloc(K * sizeof *sorted);
        if (!sorted) return lg_fail(err, LG_ENOMEM, "bundle labels: out of memory");
        memcpy(sorted, b->labels, K * sizeof *sorted);
        qsort(sorted, K, sizeof *sorted, cmp_str);
        for (size_t i = 1; i < K; i++) {
            if (!strcmp(sorted[i - 1], sorted[i])) {
                lg_err e = BAD("%s: label '%s' appears twice", path, sorted[i]);
                free(sorted);
                return e;
            }
        }
        free(sorted);
    }

    json_t *th = json_object_get(root, "threshold");
    b->threshold = json_number_value(th);
    if (!json_is_number(th) || !(b->threshold >= 0 && b->threshold <= 1))
        return BAD("%s: \"threshold\" must be a number in [0, 1]", path);

    json_t *enc = json_object_get(root, "encoder");
    const char *spec = json_string_value(json_object_get(enc, "spec"));
    const char *ch = json_string_value(json_object_get(enc, "config_hash"));
    if (!spec || !*spec) return BAD("%s: \"encoder.spec\" missing", path);
    if (parse_hex64(ch, &b->encoder_hash))
        return BAD("%s: \"encoder.config_hash\" must be 16 lower-case hex digits", path);
    json_t *cfg = json_object_get(enc, "config");
    b->encoder_spec = lg_strdup(spec);
    b->encoder_config = cfg ? lg_json_dumps(cfg, JSON_COMPACT | JSON_PRESERVE_ORDER) : lg_strdup("{}");
    if (!b->encoder_spec || !b->encoder_config)
        return lg_fail(err, LG_ENOMEM, "%s: out of memory copying the encoder's settings", path);

    json_t *clf = json_object_get(root, "classifier");
    const char *type = json_string_value(json_object_get(clf, "type"));
    if (type && !strcmp(type, "multinomial_logreg"))
        b->kind = LG_CLF_LOGREG;
    else if (type && !strcmp(type, "ovr_linear_svm"))
        b->kind = LG_CLF_SVM;
    else
        return BAD("%s: \"classifier.type\" must be \"multinomial_logreg\" or "
                   "\"ovr_linear_svm\"",
                   path);
    json_t *nk = json_object_get(clf, "n_classes"), *nd = json_object_get(clf, "dim");
    if (!json_is_integer(nk) || (size_t)json_integer_value(nk) != K)
        return BAD("%s: \"classifier.n_classes\" does not match the %zu labels", path, K);
    if (!json_is_integer(nd) || json_integer_value(nd) < 1 || json_integer_value(nd) > (1 << 24))
        return BAD("%s: \"classifier.dim\" must be an integer in 1..16777216", path);
    *dim = (size_t)json_integer_value(nd);
    b->C = json_number_value(json_object_get(clf, "C"));
    const char *cw = json_string_value(json_object_get(clf, "class_weight"));
    b->balanced = cw && !strcmp(cw, "balanced");

    json_t *w = json_object_get(root, "weights");
    const char *wf = json_string_value(json_object_get(w, "file"));
    const char *dtype = json_string_value(json_object_get(w, "dtype"));
    json_t *wb = json_object_get(w, "bytes");
    if (!wf || strcmp(wf, LG_BUNDLE_WEIGHTS))
        return BAD("%s: \"weights.file\" must be \"%s\"", path, LG_BUNDLE_WEIGHTS);
    if (!dtype || strcmp(dtype, "float32le"))
        return BAD("%s: \"weights.dtype\" must be \"float32le\"", path);
    if (b->kind == LG_CLF_SVM) {
        json_t *nz = json_object_get(clf, "nnz"), *nc = json_object_get(clf, "candidates");
        json_t *pa = json_object_get(clf, "platt_a"), *pb = json_object_get(clf, "platt_b");
        if (!json_is_integer(nz) || json_integer_value(nz) < 0 ||
            json_integer_value(nz) > ((json_int_t)1 << 32))
            return BAD("%s: \"classifier.nnz\" must be a non-negative integer", path);
        if (!json_is_integer(nc) || json_integer_value(nc) < 1)
            return BAD("%s: \"classifier.candidates\" must be a positive integer", path);
        if (!json_is_number(pa) || !json_is_number(pb))
            return BAD("%s: \"classifier.platt_a\" and \"platt_b\" must be numbers", path);
        mf->wnnz = (size_t)json_integer_value(nz);
        b->svm_candidates = (size_t)json_integer_value(nc);
        b->svm_platt[0] = json_number_value(pa);
        b->svm_platt[1] = json_number_value(pb);
    }
    size_t want = b->kind == LG_CLF_SVM ? csr_size(K, mf->wnnz, K)
                                        : WEIGHTS_HEADER + 4 * (*dim * K + K);
    if (!json_is_integer(wb) || json_integer_value(wb) != (json_int_t)want)
        return BAD("%s: \"weights.bytes\" does not match %zu classes x dim %zu", path, K, *dim);
    mf->wbytes = want;
    if (parse_hex64(json_string_value(json_object_get(w, "fnv1a64")), &mf->wsum))
        return BAD("%s: \"weights.fnv1a64\" must be 16 lower-case hex digits", path);

    json_t *ce = json_object_get(root, "centroids");
    if (ce) {
        const char *cf = json_string_value(json_object_get(ce, "file"));
        json_t *cn = json_object_get(ce, "nnz"), *cbj = json_object_get(ce, "bytes");
        if (!cf || strcmp(cf, LG_BUNDLE_CENTROIDS))
            return BAD("%s: \"centroids.file\" must be \"%s\"", path, LG_BUNDLE_CENTROIDS);
        if (!json_is_integer(cn) || json_integer_value(cn) < 0 ||
            json_integer_value(cn) > ((json_int_t)1 << 32))
            return BAD("%s: \"centroids.nnz\" must be a non-negative integer", path);
        mf->cnnz = (size_t)json_integer_value(cn);
        mf->cbytes = csr_size(K, mf->cnnz, 0);
        if (!json_is_integer(cbj) || json_integer_value(cbj) != (json_int_t)mf->cbytes)
            return BAD("%s: \"centroids.bytes\" does not match %zu classes, %zu values", path, K,
                       mf->cnnz);
        if (parse_hex64(json_string_value(json_object_get(ce, "fnv1a64")), &mf->csum))
            return BAD("%s: \"centroids.fnv1a64\" must be 16 lower-case hex digits", path);
        json_t *ut = json_object_get(json_object_get(root, "open_set"), "unknown_threshold");
        b->unknown_threshold = json_number_value(ut);
        if (!json_is_number(ut) || !(b->unknown_threshold >= 0 && b->unknown_threshold <= 1))
            return BAD("%s: \"open_set.unknown_threshold\" must be a number in [0, 1]", path);
        mf->has_cent = 1;
    } else if (b->kind == LG_CLF_SVM) {
        return BAD("%s: \"centroids\" missing (an ovr_linear_svm bundle needs them)", path);
    }

    json_t *fwj = json_object_get(root, "feature_weights");
    if (version == LG_BUNDLE_VERSION_MIN && fwj)
        return BAD("%s: \"feature_weights\" in a version %d bundle (they came with version %d)",
                   path, LG_BUNDLE_VERSION_MIN, LG_BUNDLE_VERSION_FW);
    json_t *sfj = json_object_get(root, "source_feature");
    if (version < LG_BUNDLE_VERSION && sfj)
        return BAD("%s: \"source_feature\" in a version %lld bundle (it came with version %d)",
                   path, (long long)version, LG_BUNDLE_VERSION);
    if (version == LG_BUNDLE_VERSION) {
        json_t *v = json_object_get(sfj, "value");
        b->source_feature = json_number_value(v);
        if (!json_is_object(sfj))
            return BAD("%s: \"source_feature\" missing (a version %d bundle has it)", path,
                       LG_BUNDLE_VERSION);
        if (!json_is_number(v) || !(b->source_feature > 0 && b->source_feature < 1))
            return BAD("%s: \"source_feature.value\" must be a number in (0, 1)", path);
    }
    if (version > LG_BUNDLE_VERSION_MIN) {
        const char *ff = json_string_value(json_object_get(fwj, "file"));
        const char *fm = json_string_value(json_object_get(fwj, "method"));
        json_t *fbj = json_object_get(fwj, "bytes");
        lg_featw_method m;
        lg_errmsg why;
        if (!json_is_object(fwj))
            return BAD("%s: \"feature_weights\" missing (a version %lld bundle has them)", path,
                       (long long)version);
        if (!ff || strcmp(ff, LG_BUNDLE_FEATURES))
            return BAD("%s: \"feature_weights.file\" must be \"%s\"", path, LG_BUNDLE_FEATURES);
        if (!fm || lg_featw_method_parse(fm, &m, &why) || m == LG_FEATW_NONE)
            return BAD("%s: \"feature_weights.method\" must be \"idf\"", path);
        mf->fbytes = FEAT_HEADER + 4 * *dim;
        if (!json_is_integer(fbj) || json_integer_value(fbj) != (json_int_t)mf->fbytes)
            return BAD("%s: \"feature_weights.bytes\" does not match dim %zu", path, *dim);
        if (parse_hex64(json_string_value(json_object_get(fwj, "fnv1a64")), &mf->fsum))
            return BAD("%s: \"feature_weights.fnv1a64\" must be 16 lower-case hex digits", path);
        mf->has_fw = 1;
        mf->fw_method = (int)m;
    }

    json_t *tr = json_object_get(root, "training");
    if (tr && !json_is_object(tr)) return BAD("%s: \"training\" must be an object", path);
    if (tr && !(b->training = lg_json_dumps(tr, JSON_COMPACT | JSON_PRESERVE_ORDER)))
        return lg_fail(err, LG_ENOMEM, "%s: out of memory copying \"training\"", path);
    return LG_OK;
}

static lg_err read_weights(const char *path, size_t K, size_t D, size_t wbytes, uint64_t wsum,
                           lg_bundle *b, lg_errmsg *err) {
    char *data = NULL;
    size_t len = 0;
    lg_err e = lg_read_file(path, WEIGHTS_MAX, &data, &len, err);
    if (e) return e == LG_ENOTFOUND ? lg_fail(err, LG_EMODEL, "%s: missing", path) : e;
    const unsigned char *p = (const unsigned char *)data;
    if (len != wbytes) {
        e = BAD("%s: %zu bytes, meta.json says %zu (truncated or from another bundle)", path, len,
                wbytes);
    } else if (memcmp(p, WEIGHTS_MAGIC, 8)) {
        e = BAD("%s: bad magic (not a Logify weights file, or another format version)", path);
    } else if (get_u32(p + 8) != K || get_u32(p + 12) != D) {
        e = BAD("%s: shape %u x %u does not match meta.json (%zu classes x dim %zu)", path,
                get_u32(p + 8), get_u32(p + 12), K, D);
    } else if (lg_fnv1a64(p, len, 0) != wsum) {
        e = BAD("%s: checksum mismatch (the file is corrupted)", path);
    } else if (!(e = lg_logreg_new(K, D, &b->clf, err))) {
        p += WEIGHTS_HEADER;
        for (size_t i = 0; i < D * K && !e; i++, p += 4)
            if (!isfinite(b->clf->W[i] = get_f32(p)))
                e = BAD("%s: weight %zu is not finite", path, i);
        for (size_t k = 0; k < K && !e; k++, p += 4)
            if (!isfinite(b->clf->b[k] = get_f32(p)))
                e = BAD("%s: bias %zu is not finite", path, k);
        if (!e) e = lg_logreg_seal(b->clf, err);
    }
    free(data);
    return e;
}

/* Reads a CSR file (magic, K, D, nnz, ptr, idx, val, extra floats) into
 * caller arrays ptr (K + 1), idx/val (nnz), extra (n_extra). */
static lg_err read_csr(const char *path, const char *magic, size_t K, size_t D, size_t nnz,
                       size_t bytes, uint64_t sum, size_t *ptr, uint32_t *idx, float *val,
                       float *extra, size_t n_extra, lg_errmsg *err) {
    char *data = NULL;
    size_t len = 0;
    lg_err e = lg_read_file(path, WEIGHTS_MAX, &data, &len, err);
    if (e) return e == LG_ENOTFOUND ? lg_fail(err, LG_EMODEL, "%s: missing", path) : e;
    const unsigned char *p = (const unsigned char *)data;
    if (len != bytes) {
        e = BAD("%s: %zu bytes, meta.json says %zu (truncated or from another bundle)", path, len,
                bytes);
    } else if (memcmp(p, magic, 8)) {
        e = BAD("%s: bad magic (not a Logify %s file, or another format version)", path, magic);
    } else if (get_u32(p + 8) != K || get_u32(p + 12) != D || get_u64(p + 16) != nnz) {
        e = BAD("%s: shape does not match meta.json (%zu classes x dim %zu, %zu values)", path, K,
                D, nnz);
    } else if (lg_fnv1a64(p, len, 0) != sum) {
        e = BAD("%s: checksum mismatch (the file is corrupted)", path);
    } else {
        p += CSR_HEADER;
        for (size_t k = 0; k <= K; k++, p += 8) {
            ptr[k] = (size_t)get_u64(p);
            if (ptr[k] > nnz || (k && ptr[k] < ptr[k - 1]) || (k == K && ptr[k] != nnz))
                e = BAD("%s: bad offsets", path);
        }
        for (size_t q = 0; q < nnz; q++, p += 4)
            idx[q] = get_u32(p);
        for (size_t q = 0; q < nnz && !e; q++, p += 4)
            if (!isfinite(val[q] = get_f32(p))) e = BAD("%s: value %zu is not finite", path, q);
        for (size_t q = 0; q < n_extra && !e; q++, p += 4)
            if (!isfinite(extra[q] = get_f32(p))) e = BAD("%s: bias %zu is not finite", path, q);
    }
    free(data);
    return e;
}

static lg_err read_features(const char *path, size_t D, const meta_files *mf, lg_bundle *b,
                            lg_errmsg *err) {
    char *data = NULL;
    size_t len = 0;
    lg_err e = lg_read_file(path, WEIGHTS_MAX, &data, &len, err);
    if (e) return e == LG_ENOTFOUND ? lg_fail(err, LG_EMODEL, "%s: missing", path) : e;
    const unsigned char *p = (const unsigned char *)data;
    if (len != mf->fbytes) {
        e = BAD("%s: %zu bytes, meta.json says %zu (truncated or from another bundle)", path, len,
                mf->fbytes);
    } else if (memcmp(p, FEAT_MAGIC, 8)) {
        e = BAD("%s: bad magic (not a Logify feature weights file)", path);
    } else if (get_u32(p + 8) != D || get_u32(p + 12) != (uint32_t)mf->fw_method) {
        e = BAD("%s: dimension or method does not match meta.json (dim %zu)", path, D);
    } else if (lg_fnv1a64(p, len, 0) != mf->fsum) {
        e = BAD("%s: checksum mismatch (the file is corrupted)", path);
    } else if (!(e = lg_featw_new(D, (lg_featw_method)mf->fw_method, &b->fw, err))) {
        for (size_t f = 0; f < D; f++)
            b->fw->w[f] = get_f32(p + FEAT_HEADER + 4 * f);
        lg_errmsg why;
        if (lg_featw_check(b->fw, &why)) e = BAD("%s: %s", path, why.msg);
    }
    free(data);
    return e;
}

lg_err lg_bundle_read(const char *dir, lg_bundle **out, lg_errmsg *err) {
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, LG_BUNDLE_META);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return lg_fail(err, LG_ENOTFOUND, "model bundle %s: not a directory", dir);
    char *text = NULL;
    size_t len = 0;
    lg_err e = lg_read_file(path, META_MAX, &text, &len, err);
    if (e) return e;
    json_error_t je;
    int no_memory; /* Jansson's lexer reports a failed malloc as a syntax error */
    json_t *root = lg_json_loadb(text, len, JSON_REJECT_DUPLICATES, &je, &no_memory);
    free(text);
    if (no_memory) return lg_fail(err, LG_ENOMEM, "%s: out of memory while reading JSON", path);
    if (!root) return BAD("%s:%d: invalid JSON: %s", path, je.line, je.text);
    lg_bundle *b = lg_calloc(1, sizeof *b);
    if (!b) {
        json_decref(root);
        return lg_fail(err, LG_ENOMEM, "bundle: out of memory");
    }
    meta_files mf;
    memset(&mf, 0, sizeof mf);
    e = read_meta(path, root, b, &mf, err);
    json_decref(root);
    const size_t K = b->n_labels, D = mf.dim;
    if (!e && mf.has_cent && !(e = lg_centroids_new(K, D, mf.cnnz, &b->cent, err))) {
        snprintf(path, sizeof path, "%s/%s", dir, LG_BUNDLE_CENTROIDS);
        e = read_csr(path, CENT_MAGIC, K, D, mf.cnnz, mf.cbytes, mf.csum, b->cent->ptr,
                     b->cent->idx, b->cent->val, NULL, 0, err);
        if (!e) e = lg_centroids_seal(b->cent, err);
    }
    if (!e && mf.has_fw) {
        snprintf(path, sizeof path, "%s/%s", dir, LG_BUNDLE_FEATURES);
        e = read_features(path, D, &mf, b, err);
    }
    if (!e) {
        snprintf(path, sizeof path, "%s/%s", dir, LG_BUNDLE_WEIGHTS);
        if (b->kind == LG_CLF_SVM) {
            if (!(e = lg_svm_new(K, D, mf.wnnz, &b->svm, err))) {
                e = read_csr(path, SVM_MAGIC, K, D, mf.wnnz, mf.wbytes, mf.wsum, b->svm->ptr,
                             b->svm->idx, b->svm->val, b->svm->bias, K, err);
                b->svm->candidates = b->svm_candidates;
                b->svm->platt_a = (float)b->svm_platt[0];
                b->svm->platt_b = (float)b->svm_platt[1];
                b->svm->cent = b->cent;
                if (!e) e = lg_svm_check(b->svm, err);
            }
        } else {
            e = read_weights(path, K, D, mf.wbytes, mf.wsum, b, err);
        }
    }
    if (e) {
        lg_bundle_free(b);
        return e;
    }
    *out = b;
    return LG_OK;
}
