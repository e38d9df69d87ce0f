/* bundle.c - write and read (with strict validation) a model bundle
 * directory: meta.json + weights.bin. Format in include/logify/bundle.h
 * and docs/model.md. */
#include "logify/bundle.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define META_MAX (4u << 20)           /* bytes of meta.json */
#define WEIGHTS_MAX ((size_t)1 << 31) /* bytes of weights.bin */
#define WEIGHTS_MAGIC "LGFYW001"
#define WEIGHTS_HEADER 16 /* magic + u32 K + u32 D */

void lg_bundle_free(lg_bundle *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n_labels; i++)
        free(b->labels[i]);
    free(b->labels);
    free(b->encoder_spec);
    free(b->encoder_config);
    free(b->training);
    lg_logreg_free(b->clf);
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

/* Writes data to dir/name through dir/name.tmp + rename. */
static lg_err write_file(const char *dir, const char *name, const void *data, size_t len,
                         lg_errmsg *err) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return lg_fail(err, LG_EIO, "cannot create %s: %s", tmp, strerror(errno));
    int ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return lg_fail(err, LG_EIO, "cannot write %s: %s", path, strerror(e));
    }
    return LG_OK;
}

static void hex64(char out[17], uint64_t v) {
    snprintf(out, 17, "%016llx", (unsigned long long)v);
}

lg_err lg_bundle_write(const char *dir, const lg_bundle *b, lg_errmsg *err) {
    const lg_logreg *m = b->clf;
    if (!m || m->n_classes != b->n_labels)
        return lg_fail(err, LG_EINVAL, "bundle: %zu labels but the classifier has %zu classes",
                       b->n_labels, m ? m->n_classes : 0);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return lg_fail(err, LG_EIO, "cannot create %s: %s", dir, strerror(errno));
    const size_t K = m->n_classes, D = m->dim;
    size_t nbytes = WEIGHTS_HEADER + 4 * (D * K + K);
    unsigned char *w = lg_malloc(nbytes);
    if (!w) return lg_fail(err, LG_ENOMEM, "out of memory");
    memcpy(w, WEIGHTS_MAGIC, 8);
    put_u32(w + 8, (uint32_t)K);
    put_u32(w + 12, (uint32_t)D);
    unsigned char *p = w + WEIGHTS_HEADER;
    for (size_t i = 0; i < D * K; i++, p += 4)
        put_f32(p, m->W[i]);
    for (size_t k = 0; k < K; k++, p += 4)
        put_f32(p, m->b[k]);
    char wsum[17], ehash[17];
    hex64(wsum, lg_fnv1a64(w, nbytes, 0));
    hex64(ehash, b->encoder_hash);
    lg_err e = write_file(dir, LG_BUNDLE_WEIGHTS, w, nbytes, err);
    free(w);
    if (e) return e;

    json_error_t je;
    json_t *root = json_object(), *labels = json_array();
    json_t *enc_cfg = json_loads(b->encoder_config ? b->encoder_config : "{}", 0, &je);
    json_t *training = b->training ? json_loads(b->training, 0, &je) : json_object();
    if (!root || !labels || !enc_cfg || !training) {
        json_decref(root);
        json_decref(labels);
        json_decref(enc_cfg);
        json_decref(training);
        return lg_fail(err, LG_EINVAL,
                       "bundle: encoder config or training figures are not valid JSON");
    }
    for (size_t i = 0; i < b->n_labels; i++)
        json_array_append_new(labels, json_string(b->labels[i]));
    json_object_set_new(root, "format", json_string(LG_BUNDLE_FORMAT));
    json_object_set_new(root, "format_version", json_integer(LG_BUNDLE_VERSION));
    json_object_set_new(root, "labels", labels);
    json_object_set_new(root, "threshold", json_real(b->threshold));
    json_object_set_new(root, "encoder",
                        json_pack("{s:s, s:s, s:o}", "spec", b->encoder_spec, "config_hash", ehash,
                                  "config", enc_cfg));
    json_object_set_new(root, "classifier",
                        json_pack("{s:s, s:I, s:I, s:f, s:s}", "type", "multinomial_logreg",
                                  "n_classes", (json_int_t)K, "dim", (json_int_t)D, "C", b->C,
                                  "class_weight", b->balanced ? "balanced" : "none"));
    json_object_set_new(
        root, "weights",
        json_pack(
            "{s:s, s:I, s:s, s:s, s:s}", "file", LG_BUNDLE_WEIGHTS, "bytes", (json_int_t)nbytes,
            "dtype", "float32le", "layout",
            "header(magic LGFYW001, u32 n_classes, u32 dim), W (dim, n_classes), b (n_classes)",
            "fnv1a64", wsum));
    json_object_set_new(root, "training", training);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (!text) return lg_fail(err, LG_ENOMEM, "out of memory (meta.json)");
    size_t tl = strlen(text);
    char *withnl = lg_realloc(text, tl + 2);
    if (!withnl) {
        free(text);
        return lg_fail(err, LG_ENOMEM, "out of memory");
    }
    withnl[tl] = '\n';
    withnl[tl + 1] = '\0';
    e = write_file(dir, LG_BUNDLE_META, withnl, tl + 1, err);
    free(withnl);
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

/* Validates meta.json into b (everything but the weights); wbytes/wsum
 * get the weights file's recorded size and checksum. */
static lg_err read_meta(const char *path, json_t *root, lg_bundle *b, size_t *dim, size_t *wbytes,
                        uint64_t *wsum, lg_errmsg *err) {
    if (!json_is_object(root)) return BAD("%s: not a JSON object", path);
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!fmt || strcmp(fmt, LG_BUNDLE_FORMAT))
        return BAD("%s: \"format\" is not \"%s\": not a Logify model bundle", path,
                   LG_BUNDLE_FORMAT);
    json_t *ver = json_object_get(root, "format_version");
    if (!json_is_integer(ver)) return BAD("%s: \"format_version\" missing or not an integer", path);
    if (json_integer_value(ver) != LG_BUNDLE_VERSION)
        return BAD(
            "%s: bundle format version %lld, this logify reads version %d (re-create it with "
            "'logify train')",
            path, (long long)json_integer_value(ver), LG_BUNDLE_VERSION);

    json_t *labels = json_object_get(root, "labels");
    size_t K = json_array_size(labels);
    if (!json_is_array(labels) || K < 2 || K > LG_LOGREG_MAX_CLASSES)
        return BAD("%s: \"labels\" must be an array of 2..%d strings", path, LG_LOGREG_MAX_CLASSES);
    if (!(b->labels = lg_calloc(K, sizeof *b->labels)))
        return lg_fail(err, LG_ENOMEM, "out of memory");
    for (size_t i = 0; i < K; i++) {
        const char *s = json_string_value(json_array_get(labels, i));
        if (!s || !*s || strlen(s) > LG_BUNDLE_MAX_LABEL)
            return BAD("%s: label %zu is not a non-empty string of at most %d bytes", path, i,
                       LG_BUNDLE_MAX_LABEL);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(b->labels[j], s)) return BAD("%s: label '%s' appears twice", path, s);
        if (!(b->labels[i] = lg_strdup(s))) return lg_fail(err, LG_ENOMEM, "out of memory");
        b->n_labels = i + 1;
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
    b->encoder_config = cfg ? json_dumps(cfg, JSON_COMPACT | JSON_PRESERVE_ORDER) : lg_strdup("{}");
    if (!b->encoder_spec || !b->encoder_config) return lg_fail(err, LG_ENOMEM, "out of memory");

    json_t *clf = json_object_get(root, "classifier");
    const char *type = json_string_value(json_object_get(clf, "type"));
    if (!type || strcmp(type, "multinomial_logreg"))
        return BAD("%s: \"classifier.type\" must be \"multinomial_logreg\"", path);
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
    if (!json_is_integer(wb) ||
        json_integer_value(wb) != (json_int_t)(WEIGHTS_HEADER + 4 * (*dim * K + K)))
        return BAD("%s: \"weights.bytes\" does not match %zu classes x dim %zu", path, K, *dim);
    *wbytes = (size_t)json_integer_value(wb);
    if (parse_hex64(json_string_value(json_object_get(w, "fnv1a64")), wsum))
        return BAD("%s: \"weights.fnv1a64\" must be 16 lower-case hex digits", path);

    json_t *tr = json_object_get(root, "training");
    if (tr && !json_is_object(tr)) return BAD("%s: \"training\" must be an object", path);
    if (tr && !(b->training = json_dumps(tr, JSON_COMPACT | JSON_PRESERVE_ORDER)))
        return lg_fail(err, LG_ENOMEM, "out of memory");
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
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!root) return BAD("%s:%d: invalid JSON: %s", path, je.line, je.text);
    lg_bundle *b = lg_calloc(1, sizeof *b);
    if (!b) {
        json_decref(root);
        return lg_fail(err, LG_ENOMEM, "out of memory");
    }
    size_t dim = 0, wbytes = 0;
    uint64_t wsum = 0;
    e = read_meta(path, root, b, &dim, &wbytes, &wsum, err);
    json_decref(root);
    if (!e) {
        snprintf(path, sizeof path, "%s/%s", dir, LG_BUNDLE_WEIGHTS);
        e = read_weights(path, b->n_labels, dim, wbytes, wsum, b, err);
    }
    if (e) {
        lg_bundle_free(b);
        return e;
    }
    *out = b;
    return LG_OK;
}
