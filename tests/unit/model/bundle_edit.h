/* bundle_edit.h - for the model's unit tests that write a bundle to disk:
 * read a file whole, replace the first occurrence of a string in it,
 * expect lg_bundle_read to refuse the bundle with a given message, and
 * load the bundle to predict one line (with its source or none). Include
 * once per test file, after cmocka.h and tmpdir.h (the helpers are static). */
#ifndef LOGIFY_TEST_BUNDLE_EDIT_H
#define LOGIFY_TEST_BUNDLE_EDIT_H

#include <stdlib.h>
#include <string.h>

#include "logify/bundle.h"
#include "logify/model.h"

static char *bedit_slurp(const char *path, size_t *len) {
    char *d = read_whole(path, len);
    if (!d) fail_msg("cannot read %s", path);
    return d;
}

/* replaces the first `from` in the file by `to` */
static void bedit_replace(const char *path, const char *from, const char *to) {
    size_t len;
    char *m = bedit_slurp(path, &len), *hit = strstr(m, from);
    assert_non_null(hit);
    size_t at = (size_t)(hit - m), fl = strlen(from), tl = strlen(to);
    char *out = malloc(len - fl + tl + 1);
    assert_non_null(out);
    memcpy(out, m, at);
    memcpy(out + at, to, tl);
    memcpy(out + at + tl, m + at + fl, len - at - fl);
    assert_int_equal(write_whole(path, out, len - fl + tl), 0);
    free(m);
    free(out);
}

static void bedit_expect_read_error(const char *d, const char *needle) {
    lg_bundle *r = (lg_bundle *)1;
    lg_errmsg err = {{0}};
    assert_int_equal(lg_bundle_read(d, &r, &err), LG_EMODEL);
    if (!strstr(err.msg, needle)) fail_msg("got '%s', want '%s'", err.msg, needle);
    assert_null(r);
}

/* the class lg_model_predict_src gives msg from src (NULL: no source) */
static int bedit_predict(const char *d, const char *msg, const char *src) {
    lg_model *m;
    lg_errmsg err;
    if (lg_model_load(d, &m, &err)) fail_msg("%s", err.msg);
    lg_model_scratch *s;
    assert_int_equal(lg_model_scratch_new(m, &s, NULL), LG_OK);
    size_t len = strlen(msg), sl = src ? strlen(src) : 0;
    int cls;
    float prob;
    assert_int_equal(lg_model_predict_src(m, s, &msg, &len, src ? &src : NULL, &sl, 1, &cls,
                                          &prob, NULL, NULL),
                     LG_OK);
    lg_model_scratch_free(s);
    lg_model_free(m);
    return cls;
}

#endif
