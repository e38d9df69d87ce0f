/* test_bundle.c - model bundles on disk: write/read round trip, byte-for-
 * byte determinism, and every kind of damage (truncated or flipped
 * weights, bad JSON, wrong format version, label/class mismatch, missing
 * files, another encoder configuration) giving a clear error; then
 * lg_model_load and the model stage on a small bundle (threshold, best
 * guess in detail, unknown labels). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <errno.h>
#include <jansson.h>

#include "logify/bundle.h"
#include "logify/encoder.h"
#include "logify/model.h"
#include "model/word_bundle.h"

#define DIM WORD_BUNDLE_DIM

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/logify_test_bundle_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *path_in(const char *dir, const char *name) {
    static char p[2][600];
    static int which;
    which ^= 1;
    snprintf(p[which], sizeof p[which], "%s/%s", dir, name);
    return p[which];
}

/* Three labels whose classes like their words (word_bundle.h), with a bias,
 * class balancing and a training record set. */
static lg_bundle *make_bundle(void) {
    static const char *const labels[] = {"Disk", "Network", "Login"};
    static const char *const words[] = {"disk disk full", "network timeout",
                                        "login failed password"};
    lg_embeddings e;
    lg_bundle *b = word_bundle(labels, words, 3, &e);
    lg_embeddings_free(&e);
    b->clf->b[0] = 0.25f;
    b->balanced = 1;
    b->training = lg_strdup("{\"rows\": 3, \"note\": \"unit test\"}");
    return b;
}

static char *slurp(const char *path, size_t *len) {
    char *data = NULL;
    lg_err e = lg_read_file(path, 1 << 24, &data, len, NULL);
    if (e) fail_msg("cannot read %s", path);
    char *copy = malloc(*len + 1);
    memcpy(copy, data, *len + 1);
    free(data);
    return copy;
}

static void spit(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void test_round_trip_and_same_bytes(void **state) {
    (void)state;
    lg_bundle *b = make_bundle();
    char *d1 = strdup(path_in(tmpdir, "rt1")), *d2 = strdup(path_in(tmpdir, "rt2"));
    lg_errmsg err;
    if (lg_bundle_write(d1, b, &err)) fail_msg("%s", err.msg);
    assert_int_equal(lg_bundle_write(d2, b, &err), LG_OK);
    size_t l1, l2;
    char *m1 = slurp(path_in(d1, "meta.json"), &l1), *m2 = slurp(path_in(d2, "meta.json"), &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(m1, m2, l1);
    free(m1);
    free(m2);
    m1 = slurp(path_in(d1, "weights.bin"), &l1);
    m2 = slurp(path_in(d2, "weights.bin"), &l2);
    assert_int_equal(l1, 16 + 4 * (DIM * 3 + 3));
    assert_memory_equal(m1, m2, l1);
    free(m1);
    free(m2);

    lg_bundle *r = NULL;
    if (lg_bundle_read(d1, &r, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r->n_labels, 3);
    assert_string_equal(r->labels[1], "Network");
    assert_string_equal(r->encoder_spec, b->encoder_spec);
    assert_true(r->encoder_hash == b->encoder_hash);
    assert_true(r->threshold == 0.5);
    assert_memory_equal(r->clf->W, b->clf->W, DIM * 3 * sizeof(float));
    assert_memory_equal(r->clf->b, b->clf->b, 3 * sizeof(float));
    assert_non_null(strstr(r->training, "unit test"));
    lg_bundle_free(r);
    lg_bundle_free(b);
    lg_bundle_free(NULL);
    free(d1);
    free(d2);
}

/* Writes a good bundle to dir, applies `damage`, and expects code + needle. */
static void expect_damage(const char *name, void (*damage)(const char *dir), lg_err code,
                          const char *needle) {
    lg_bundle *b = make_bundle();
    char *dir = strdup(path_in(tmpdir, name));
    assert_int_equal(lg_bundle_write(dir, b, NULL), LG_OK);
    lg_bundle_free(b);
    damage(dir);
    lg_bundle *r = (lg_bundle *)1;
    lg_errmsg err = {{0}};
    lg_err got = lg_bundle_read(dir, &r, &err);
    if (got != code || !strstr(err.msg, needle))
        fail_msg("%s: got %d '%s', want %d with '%s'", name, got, err.msg, code, needle);
    assert_null(r);
    /* the model loader reports the same, with the directory in front */
    lg_model *m = (lg_model *)1;
    assert_int_equal(lg_model_load(dir, &m, &err), code);
    assert_null(m);
    assert_non_null(strstr(err.msg, needle));
    free(dir);
}

/* Jansson's allocations failing, as malloc does (errno ENOMEM) */
static void *no_malloc(size_t n) {
    (void)n;
    errno = ENOMEM;
    return NULL;
}

/* out of memory while parsing meta.json is that, not a damaged bundle
 * (the default model would be left off silently as 'invalid JSON') */
static void test_meta_out_of_memory(void **state) {
    (void)state;
    lg_bundle *b = make_bundle();
    char *dir = strdup(path_in(tmpdir, "oom"));
    assert_int_equal(lg_bundle_write(dir, b, NULL), LG_OK);
    lg_bundle_free(b);
    lg_bundle *r = (lg_bundle *)1;
    lg_errmsg err = {{0}};
    json_set_alloc_funcs(no_malloc, free);
    lg_err got = lg_bundle_read(dir, &r, &err);
    json_set_alloc_funcs(malloc, free);
    if (got != LG_ENOMEM || !strstr(err.msg, "out of memory"))
        fail_msg("got %d '%s', want LG_ENOMEM and 'out of memory'", got, err.msg);
    assert_null(r);
    assert_int_equal(lg_bundle_read(dir, &r, &err), LG_OK); /* and reads once memory is back */
    lg_bundle_free(r);
    free(dir);
}

/* replaces the first occurrence of `from` in meta.json by `to` */
static void edit_meta(const char *dir, const char *from, const char *to) {
    size_t len;
    char *m = slurp(path_in(dir, "meta.json"), &len);
    const char *hit = strstr(m, from);
    assert_non_null(hit);
    size_t at = (size_t)(hit - m), fl = strlen(from), tl = strlen(to);
    char *out = malloc(len - fl + tl + 1);
    memcpy(out, m, at);
    memcpy(out + at, to, tl);
    memcpy(out + at + tl, m + at + fl, len - at - fl);
    spit(path_in(dir, "meta.json"), out, len - fl + tl);
    free(m);
    free(out);
}

static void truncate_weights(const char *dir) {
    size_t len;
    char *w = slurp(path_in(dir, "weights.bin"), &len);
    spit(path_in(dir, "weights.bin"), w, len - 100);
    free(w);
}
static void flip_weight_byte(const char *dir) {
    size_t len;
    char *w = slurp(path_in(dir, "weights.bin"), &len);
    w[len / 2] ^= 0x40;
    spit(path_in(dir, "weights.bin"), w, len);
    free(w);
}
static void bad_magic(const char *dir) {
    size_t len;
    char *w = slurp(path_in(dir, "weights.bin"), &len);
    w[7] = '9';
    spit(path_in(dir, "weights.bin"), w, len);
    free(w);
}
static void empty_weights(const char *dir) {
    spit(path_in(dir, "weights.bin"), "", 0);
}
static void no_weights(const char *dir) {
    unlink(path_in(dir, "weights.bin"));
}
static void no_meta(const char *dir) {
    unlink(path_in(dir, "meta.json"));
}
static void bad_json(const char *dir) {
    edit_meta(dir, "\"labels\"", "\"labels\" ]");
}
static void truncated_json(const char *dir) {
    size_t len;
    char *m = slurp(path_in(dir, "meta.json"), &len);
    spit(path_in(dir, "meta.json"), m, len / 2);
    free(m);
}
static void wrong_version(const char *dir) {
    edit_meta(dir, "\"format_version\": 2", "\"format_version\": 1"); /* an old bundle */
}
static void not_a_bundle(const char *dir) {
    edit_meta(dir, "logify-model", "other-model");
}
static void label_missing(const char *dir) {
    edit_meta(dir, "\"Network\",", "");
}
static void label_twice(const char *dir) {
    edit_meta(dir, "\"Network\"", "\"Disk\"");
}
static void threshold_out_of_range(const char *dir) {
    edit_meta(dir, "\"threshold\": 0.5", "\"threshold\": 1.5");
}
static void dim_changed(const char *dir) {
    edit_meta(dir, "\"n_classes\": 3,\n    \"dim\": 256", "\"n_classes\": 3,\n    \"dim\": 128");
}
static void checksum_changed(const char *dir) {
    edit_meta(dir, "\"fnv1a64\": \"", "\"fnv1a64\": \"x");
}
static void weights_path(const char *dir) {
    edit_meta(dir, "\"file\": \"weights.bin\"", "\"file\": \"../weights.bin\"");
}

static void nan_weight(const char *dir) {
    /* a NaN written with a matching checksum: caught by the value check */
    size_t len;
    char *w = slurp(path_in(dir, "weights.bin"), &len);
    memcpy(w + 16, "\x00\x00\xc0\x7f", 4);
    spit(path_in(dir, "weights.bin"), w, len);
    char sum[17];
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)lg_fnv1a64(w, len, 0));
    free(w);
    size_t ml;
    char *m = slurp(path_in(dir, "meta.json"), &ml);
    const char *hit = strstr(m, "\"fnv1a64\": \"");
    assert_non_null(hit);
    memcpy(m + (hit - m) + 12, sum, 16);
    spit(path_in(dir, "meta.json"), m, ml);
    free(m);
}

/* meta.json edits given as data: EDIT_FROM replaced by EDIT_TO */
static const char *edit_from, *edit_to;
static void edit_given(const char *dir) {
    edit_meta(dir, edit_from, edit_to);
}

static void test_meta_fields(void **state) {
    (void)state;
    static const struct {
        const char *from, *to, *needle;
    } cases[] = {
        {"\"labels\": [", "\"labels\": 5, \"x\": [", "\"labels\" must be an array of 2 or more strings"},
        {"\"Disk\"", "\"\"", "label 0 is not a non-empty string"},
        {"\"spec\": \"", "\"spec_x\": \"", "\"encoder.spec\" missing"},
        {"\"config_hash\": \"", "\"config_hash\": \"X", "\"encoder.config_hash\" must be 16 lower-case hex"},
        {"\"type\": \"multinomial_logreg\"", "\"type\": \"tree\"", "\"classifier.type\" must be"},
        {"\"n_classes\": 3,\n    \"dim\": 256", "\"n_classes\": 3,\n    \"dim\": 0",
         "\"classifier.dim\" must be an integer in 1..16777216"},
        {"\"dtype\": \"float32le\"", "\"dtype\": \"float64\"", "\"weights.dtype\" must be \"float32le\""},
        {"\"threshold\": 0.5", "\"threshold\": \"high\"", "\"threshold\" must be a number in [0, 1]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        edit_from = cases[i].from;
        edit_to = cases[i].to;
        char name[32];
        snprintf(name, sizeof name, "meta%zu", i);
        expect_damage(name, edit_given, LG_EMODEL, cases[i].needle);
    }
}

static void test_damage(void **state) {
    (void)state;
    expect_damage("trunc", truncate_weights, LG_EMODEL, "truncated");
    expect_damage("flip", flip_weight_byte, LG_EMODEL, "checksum mismatch");
    expect_damage("magic", bad_magic, LG_EMODEL, "bad magic");
    expect_damage("empty", empty_weights, LG_EMODEL, "0 bytes");
    expect_damage("noweights", no_weights, LG_EMODEL, "weights.bin: missing");
    expect_damage("nometa", no_meta, LG_ENOTFOUND, "meta.json");
    expect_damage("badjson", bad_json, LG_EMODEL, "invalid JSON");
    expect_damage("truncjson", truncated_json, LG_EMODEL, "invalid JSON");
    expect_damage("version", wrong_version, LG_EMODEL,
                  "format version 1, this logify reads versions 2 to 4 (re-create it with 'logify "
                  "train')");
    expect_damage("format", not_a_bundle, LG_EMODEL, "not a Logify model bundle");
    expect_damage("labels", label_missing, LG_EMODEL, "n_classes\" does not match the 2 labels");
    expect_damage("twice", label_twice, LG_EMODEL, "label 'Disk' appears twice");
    expect_damage("threshold", threshold_out_of_range, LG_EMODEL, "threshold");
    expect_damage("dim", dim_changed, LG_EMODEL, "weights.bytes\" does not match");
    expect_damage("checksum", checksum_changed, LG_EMODEL, "fnv1a64");
    expect_damage("path", weights_path, LG_EMODEL, "weights.file");
    expect_damage("nan", nan_weight, LG_EMODEL, "not finite");
    lg_bundle *r;
    lg_errmsg err;
    assert_int_equal(lg_bundle_read("/nonexistent/bundle", &r, &err), LG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "not a directory"));
}

static void test_write_refuses_mismatch(void **state) {
    (void)state;
    lg_bundle *b = make_bundle();
    b->n_labels = 2;
    lg_errmsg err;
    assert_int_equal(lg_bundle_write(path_in(tmpdir, "mismatch"), b, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "2 labels but the classifier has 3 classes"));
    b->n_labels = 3;
    lg_bundle_free(b);
}

static void test_model_encoder_checks(void **state) {
    (void)state;
    lg_bundle *b = make_bundle();
    lg_model *m;
    lg_errmsg err;
    /* another encoder configuration than the one recorded */
    b->encoder_hash ^= 1;
    assert_int_equal(lg_bundle_write(path_in(tmpdir, "enc1"), b, NULL), LG_OK);
    assert_int_equal(lg_model_load(path_in(tmpdir, "enc1"), &m, &err), LG_EMODEL);
    assert_non_null(strstr(err.msg, "configured differently"));
    /* an encoder whose dimension differs from the weights */
    b->encoder_hash ^= 1;
    free(b->encoder_spec);
    b->encoder_spec = lg_strdup("hash:dim=512");
    assert_int_equal(lg_bundle_write(path_in(tmpdir, "enc2"), b, NULL), LG_OK);
    assert_int_equal(lg_model_load(path_in(tmpdir, "enc2"), &m, &err), LG_EMODEL);
    assert_non_null(strstr(err.msg, "512 dimensions, weights expect 256"));
    /* an unknown encoder */
    free(b->encoder_spec);
    b->encoder_spec = lg_strdup("word2vec");
    assert_int_equal(lg_bundle_write(path_in(tmpdir, "enc3"), b, NULL), LG_OK);
    assert_int_equal(lg_model_load(path_in(tmpdir, "enc3"), &m, &err), LG_EMODEL);
    assert_non_null(strstr(err.msg, "unknown encoder spec"));
    lg_bundle_free(b);
}

static lg_model *load_good(void) {
    lg_bundle *b = make_bundle();
    assert_int_equal(lg_bundle_write(path_in(tmpdir, "good"), b, NULL), LG_OK);
    lg_bundle_free(b);
    lg_model *m = NULL;
    lg_errmsg err;
    if (lg_model_load(path_in(tmpdir, "good"), &m, &err)) fail_msg("%s", err.msg);
    return m;
}

static void test_model_predict_and_labels(void **state) {
    (void)state;
    lg_model *m = load_good();
    assert_int_equal(lg_model_n_labels(m), 3);
    assert_string_equal(lg_model_label(m, 2), "Login");
    size_t k;
    lg_errmsg err;
    assert_int_equal(lg_model_label_index(m, "Network", &k, &err), LG_OK);
    assert_int_equal(k, 1);
    assert_int_equal(lg_model_label_index(m, "Security Alert", &k, &err), LG_ENOTFOUND);
    assert_non_null(strstr(
        err.msg, "'Security Alert' is not one of the model's labels (Disk, Network, Login)"));
    lg_model_scratch *s;
    assert_int_equal(lg_model_scratch_new(m, &s, NULL), LG_OK);
    const char *msgs[] = {"Disk full on node 4", "network timeout talking to 10.0.0.3",
                          "login failed: bad password", ""};
    size_t lens[4];
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(msgs[i]);
    int cls[4];
    float prob[4];
    assert_int_equal(lg_model_predict(m, s, msgs, lens, 4, cls, prob, NULL, NULL), LG_OK);
    assert_int_equal(cls[0], 0);
    assert_int_equal(cls[1], 1);
    assert_int_equal(cls[2], 2);
    assert_int_equal(cls[3], 0); /* empty message: the bias decides */
    assert_true(prob[0] > 0.5f && prob[3] < 0.5f);
    lg_model_scratch_free(s);
    lg_model_free(m);
    lg_model_free(NULL);
}

static void test_model_stage(void **state) {
    (void)state;
    lg_model *m = load_good();
    lg_stage st;
    lg_stage_spec spec = {LG_STAGE_MODEL, -1, NULL, 0};
    lg_errmsg err;
    assert_int_equal(lg_model_stage_new(m, &spec, 0.5, &st, &err), LG_OK);
    assert_string_equal(st.ops->name, "model");
    void *scratch = NULL;
    assert_int_equal(st.ops->scratch_new(st.ctx, &scratch, &err), LG_OK);
    const char *msgs[] = {"disk is full", "hello there"};
    lg_record recs[2];
    lg_record *ptrs[2] = {&recs[0], &recs[1]};
    for (int i = 0; i < 2; i++) {
        memset(&recs[i], 0, sizeof recs[i]);
        recs[i].source = "S";
        recs[i].message = msgs[i];
        recs[i].message_len = strlen(msgs[i]);
        recs[i].confidence = -1;
    }
    assert_int_equal(st.ops->process(st.ctx, scratch, ptrs, 2, &err), LG_OK);
    assert_non_null(recs[0].label);
    assert_string_equal(recs[0].label, "Disk");
    assert_int_equal(recs[0].stage, LG_STAGE_MODEL);
    assert_true(recs[0].confidence >= 0.5);
    assert_non_null(strstr(recs[0].detail, "model p="));
    if (recs[1].label) fail_msg("'hello there' decided: %s", recs[1].detail);
    if (!strstr(recs[1].detail, "model below threshold: ") || !strstr(recs[1].detail, " p=0.") ||
        !strstr(recs[1].detail, "< 0.50"))
        fail_msg("detail: %s", recs[1].detail);
    st.ops->scratch_free(scratch);
    lg_stage_free(&st);
    /* per-route threshold: 1.0 answers nothing */
    spec.threshold = 1.0;
    assert_int_equal(lg_model_stage_new(m, &spec, 0.5, &st, &err), LG_OK);
    assert_int_equal(st.ops->scratch_new(st.ctx, &scratch, &err), LG_OK);
    recs[0].label = NULL;
    assert_int_equal(st.ops->process(st.ctx, scratch, ptrs, 1, &err), LG_OK);
    assert_null(recs[0].label);
    st.ops->scratch_free(scratch);
    lg_stage_free(&st);
    spec.threshold = -1;
    assert_int_equal(lg_model_stage_new(m, &spec, 2.0, &st, &err), LG_EINVAL);
    lg_model_free(m);
}

/* The threshold is inclusive: a record whose top probability equals the
 * route's threshold exactly is decided; one float step above it is not. */
static void test_model_threshold_boundary(void **state) {
    (void)state;
    lg_model *m = load_good();
    lg_model_scratch *ms;
    assert_int_equal(lg_model_scratch_new(m, &ms, NULL), LG_OK);
    const char *msg = "disk is full";
    size_t len = strlen(msg);
    int cls;
    float prob;
    assert_int_equal(lg_model_predict(m, ms, &msg, &len, 1, &cls, &prob, NULL, NULL), LG_OK);
    lg_model_scratch_free(ms);
    assert_true(prob > 0.5f && prob < 1.0f);
    const double ths[2] = {(double)prob, nextafter((double)prob, 2.0)};
    for (int k = 0; k < 2; k++) {
        lg_stage st;
        lg_stage_spec spec = {LG_STAGE_MODEL, ths[k], NULL, 0};
        lg_errmsg err;
        assert_int_equal(lg_model_stage_new(m, &spec, 0.5, &st, &err), LG_OK);
        void *scratch = NULL;
        assert_int_equal(st.ops->scratch_new(st.ctx, &scratch, &err), LG_OK);
        lg_record rec;
        lg_record *ptr = &rec;
        memset(&rec, 0, sizeof rec);
        rec.source = "S";
        rec.message = msg;
        rec.message_len = len;
        rec.confidence = -1;
        assert_int_equal(st.ops->process(st.ctx, scratch, &ptr, 1, &err), LG_OK);
        if (k == 0 && !rec.label) fail_msg("p == threshold (%.9g) not decided: %s", ths[k], rec.detail);
        if (k == 1 && rec.label) fail_msg("p < threshold (%.17g) decided", ths[k]);
        st.ops->scratch_free(scratch);
        lg_stage_free(&st);
    }
    lg_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_same_bytes),
        cmocka_unit_test(test_damage),
        cmocka_unit_test(test_meta_out_of_memory),
        cmocka_unit_test(test_meta_fields),
        cmocka_unit_test(test_write_refuses_mismatch),
        cmocka_unit_test(test_model_encoder_checks),
        cmocka_unit_test(test_model_predict_and_labels),
        cmocka_unit_test(test_model_stage),
        cmocka_unit_test(test_model_threshold_boundary),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
