/* test_dynlib.c - libraries loaded on first use (logify/dynlib.h): a
 * missing library and a missing function are errors naming the library,
 * its package and what needs it (and a later load tries again); the five
 * real tables load and call into the real libraries (this test does not
 * link them: dlopen is the only way in); sixteen threads loading at once
 * resolve the table exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <cmocka.h>

#include "logify/dynlib.h"
#include "logify/dynlib_blas.h"
#include "logify/dynlib_curl.h"
#include "logify/dynlib_hs.h"
#include "logify/dynlib_kafka.h"
#include "logify/dynlib_mhd.h"

/* ---- A missing library, a missing function -------------------------------- */

static int resolves;
static size_t (*fake_strlen)(const char *);

static lg_err resolve_strlen(const lg_dynlib *lib, void *handle, lg_errmsg *err) {
    __atomic_add_fetch(&resolves, 1, __ATOMIC_RELAXED);
    return lg_dynlib_sym(lib, handle, "strlen", &fake_strlen, err);
}

static lg_err resolve_absent(const lg_dynlib *lib, void *handle, lg_errmsg *err) {
    void (*f)(void) = NULL;
    return lg_dynlib_sym(lib, handle, "lg_no_such_function", &f, err);
}

static void test_missing_library(void **state) {
    (void)state;
    static lg_dynlib lib = LG_DYNLIB_INIT("liblogify-absent.so.9", "liblogify-absent9",
                                          "the test's command", resolve_strlen);
    for (int round = 0; round < 2; round++) { /* nothing kept: the second try fails alike */
        lg_errmsg err = {{0}};
        assert_int_equal(lg_dynlib_load(&lib, &err), LG_EUNSUPPORTED);
        assert_non_null(strstr(err.msg, "liblogify-absent.so.9"));
        assert_non_null(strstr(err.msg, "install the package liblogify-absent9"));
        assert_non_null(strstr(err.msg, "the test's command needs"));
        assert_false(lg_dynlib_is_loaded(&lib));
    }
    assert_int_equal(resolves, 0);
}

static void test_missing_function(void **state) {
    (void)state;
    static lg_dynlib lib = LG_DYNLIB_INIT("libc.so.6", "libc6", "the test", resolve_absent);
    lg_errmsg err = {{0}};
    assert_int_equal(lg_dynlib_load(&lib, &err), LG_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "libc.so.6 has no function lg_no_such_function"));
    assert_non_null(strstr(err.msg, "libc6"));
    assert_false(lg_dynlib_is_loaded(&lib));
}

/* ---- Threads: one resolve ------------------------------------------------- */

static lg_dynlib shared_lib = LG_DYNLIB_INIT("libc.so.6", "libc6", "the test", resolve_strlen);

static void *load_and_call(void *arg) {
    size_t *out = arg;
    if (lg_dynlib_load(&shared_lib, NULL) == LG_OK) *out = fake_strlen("seven!!");
    return NULL;
}

static void test_threads_resolve_once(void **state) {
    (void)state;
    enum { T = 16 };
    pthread_t th[T];
    size_t got[T] = {0};
    resolves = 0;
    for (int i = 0; i < T; i++) assert_int_equal(pthread_create(&th[i], NULL, load_and_call, &got[i]), 0);
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    assert_int_equal(resolves, 1);
    for (int i = 0; i < T; i++) assert_int_equal(got[i], 7);
    assert_true(lg_dynlib_is_loaded(&shared_lib));
}

/* ---- The real libraries --------------------------------------------------- */

static int on_hs_match(unsigned id, unsigned long long from, unsigned long long to,
                       unsigned flags, void *ctx) {
    (void)from, (void)to, (void)flags;
    *(unsigned *)ctx = id;
    return 0;
}

static void test_real_tables(void **state) {
    (void)state;
    lg_errmsg err = {{0}};
    assert_null(lg_curl()->easy_init); /* nothing loaded before it is asked for */
    assert_int_equal(lg_curl_load(&err), LG_OK);
    assert_string_equal(lg_curl()->easy_strerror(CURLE_OK), "No error");
    CURL *c = lg_curl()->easy_init();
    assert_non_null(c);
    char *esc = lg_curl()->easy_escape(c, "a b", 0);
    assert_string_equal(esc, "a%20b");
    lg_curl()->free(esc);
    lg_curl()->easy_cleanup(c);

    assert_int_equal(lg_blas_load(&err), LG_OK);
    /* C (2, 2) = A (2, 3) . B^T, B (2, 3) */
    const float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 1, 0, 1, 0};
    float out[4] = {0};
    lg_blas()->cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 2, 2, 3, 1.0f, a, 3, b, 3,
                           0.0f, out, 2);
    assert_true(out[0] == 4 && out[1] == 2 && out[2] == 10 && out[3] == 5);
    assert_true(lg_blas()->openblas_get_num_threads() >= 1);

    assert_int_equal(lg_mhd_load(&err), LG_OK);
    assert_non_null(lg_mhd()->start_daemon);
    assert_int_equal(lg_kafka_load(&err), LG_OK);
    assert_string_equal(lg_kafka()->err2name(RD_KAFKA_RESP_ERR__TIMED_OUT), "_TIMED_OUT");
    rd_kafka_conf_t *conf = lg_kafka()->conf_new();
    char why[256];
    assert_int_equal(lg_kafka()->conf_set(conf, "no.such.property", "1", why, sizeof why),
                     RD_KAFKA_CONF_UNKNOWN);
    lg_kafka()->conf_destroy(conf);

    assert_int_equal(lg_hs_load(&err), LG_OK);
    const char *pats[] = {"fail(ed|ure)"};
    unsigned flags[] = {0}, ids[] = {7};
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    assert_int_equal(lg_hs()->compile_multi(pats, flags, ids, 1, HS_MODE_BLOCK, NULL, &db, &cerr),
                     HS_SUCCESS);
    hs_scratch_t *scratch = NULL;
    assert_int_equal(lg_hs()->alloc_scratch(db, &scratch), HS_SUCCESS);
    unsigned hit = 0;
    assert_int_equal(lg_hs()->scan(db, "login failed", 12, 0, scratch, on_hs_match, &hit),
                     HS_SUCCESS);
    assert_int_equal(hit, 7);
    lg_hs()->free_scratch(scratch);
    lg_hs()->free_database(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_library),
        cmocka_unit_test(test_missing_function),
        cmocka_unit_test(test_threads_resolve_once),
        cmocka_unit_test(test_real_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
