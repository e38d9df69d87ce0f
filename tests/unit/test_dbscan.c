/* test_dbscan.c - DBSCAN under cosine distance (src/dbscan.c) on
 * constructed data with known clusters, border points and noise, and the
 * cosine silhouette against a direct computation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "logify/cluster.h"

/* Unit vector in the x-y plane at angle deg (3-D, z = 0). Cosine distance
 * between angles a and b is 1 - cos(a - b): 0.2 at ~36.87 degrees. */
static void at_angle(float *row, double deg) {
    row[0] = (float)cos(deg * M_PI / 180);
    row[1] = (float)sin(deg * M_PI / 180);
    row[2] = 0;
}

static void test_clusters_border_and_noise(void **state) {
    (void)state;
    /* cluster A around 0 deg: 0, 5, 10, 15; noise at 90; cluster B around
     * 180: 180, 186, 192; a border point at 48 (within eps of 15 only: 10 is
     * 38 deg away, so it has 2 neighbours with itself, not core) for
     * min_samples 3; a lone point at 270 */
    double ang[] = {90, 0, 180, 5, 186, 10, 192, 15, 48, 270};
    size_t n = sizeof ang / sizeof *ang, nc;
    float x[30];
    for (size_t i = 0; i < n; i++) at_angle(x + 3 * i, ang[i]);
    int32_t lab[10];
    lg_errmsg err;
    /* eps 0.2 (36.87 deg); min_samples 3 */
    assert_int_equal(lg_dbscan(x, n, 3, 0.2f, 3, NULL, NULL, lab, &nc, &err), LG_OK);
    assert_int_equal(nc, 2);
    int32_t want[] = {LG_NOISE, 0, 1, 0, 1, 0, 1, 0, 0 /* border of A */, LG_NOISE};
    for (size_t i = 0; i < n; i++) {
        if (lab[i] != want[i]) {
            print_error("row %zu (%g deg): label %d, expected %d\n", i, ang[i], lab[i], want[i]);
            fail();
        }
    }
    /* min_samples 1: every point is core; 48 joins A (48-15 = 33 deg), 90 is
     * alone (42 deg from 48), 270 alone */
    assert_int_equal(lg_dbscan(x, n, 3, 0.2f, 1, NULL, NULL, lab, &nc, &err), LG_OK);
    assert_int_equal(nc, 4);
    int32_t want1[] = {0, 1, 2, 1, 2, 1, 2, 1, 1, 3};
    assert_memory_equal(lab, want1, sizeof want1);
    /* eps 0: identical vectors only */
    at_angle(x + 3, 90); /* row 1 now equals row 0 */
    assert_int_equal(lg_dbscan(x, n, 3, 0.0f, 1, NULL, NULL, lab, &nc, &err), LG_OK);
    assert_int_equal(lab[0], lab[1]);
    assert_int_equal(nc, n - 1);
    assert_int_equal(lg_dbscan(x, n, 3, 0.2f, 0, NULL, NULL, lab, &nc, &err), LG_EINVAL);
}

/* scikit-learn's silhouette by its definition, in double. */
static double silhouette_direct(const float *x, size_t n, size_t d, const int32_t *lab, size_t nc) {
    double total = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (lab[i] < 0) continue;
        m++;
        double *sum = calloc(nc, sizeof *sum);
        size_t *cnt = calloc(nc, sizeof *cnt);
        for (size_t j = 0; j < n; j++) {
            if (j == i || lab[j] < 0) continue;
            double s = 0;
            for (size_t t = 0; t < d; t++) s += (double)x[i * d + t] * x[j * d + t];
            sum[lab[j]] += 1 - s;
            cnt[lab[j]]++;
        }
        if (cnt[lab[i]] > 0) {
            double a = sum[lab[i]] / (double)cnt[lab[i]], b = INFINITY;
            for (size_t c = 0; c < nc; c++)
                if ((int32_t)c != lab[i] && cnt[c]) b = fmin(b, sum[c] / (double)cnt[c]);
            total += (b - a) / fmax(a, b);
        }
        free(sum), free(cnt);
    }
    return total / (double)m;
}

static void test_silhouette(void **state) {
    (void)state;
    double ang[] = {0, 10, 20, 100, 110, 200, 50};
    size_t n = 7;
    float x[21];
    for (size_t i = 0; i < n; i++) at_angle(x + 3 * i, ang[i]);
    int32_t lab[] = {0, 0, 0, 1, 1, 2, LG_NOISE};
    double s;
    lg_errmsg err;
    assert_int_equal(lg_silhouette_cosine(x, n, 3, lab, 3, 0, 1, &s, &err), LG_OK);
    double want = silhouette_direct(x, n, 3, lab, 3);
    print_message("silhouette %.6f (direct %.6f)\n", s, want);
    assert_true(fabs(s - want) < 1e-5);
    assert_true(s > 0.5);
    /* one cluster: undefined */
    int32_t one[] = {0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(lg_silhouette_cosine(x, n, 3, one, 1, 0, 1, &s, &err), LG_OK);
    assert_true(isnan(s));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clusters_border_and_noise),
        cmocka_unit_test(test_silhouette),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
