/* test_dbscan.c - DBSCAN under cosine distance (src/cluster/dbscan.c) on
 * constructed data with known clusters, border points and noise, and the
 * cosine silhouette against a direct computation. Distinct vectors
 * (src/cluster/cluster_dedup.c): weighted DBSCAN and silhouette on the distinct
 * vectors against the plain ones on the expanded rows, on random data with
 * many duplicates and on the seed data (skipped when ../shared is absent). */
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
#include "logify/csv.h"

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

/* eps is inclusive (distance <= eps), as in scikit-learn: a pair exactly
 * eps apart are neighbours; with eps one float step smaller they are not.
 * (1, 0) and (0.75, sqrt(0.4375)) have the dot product 0.75 exactly, so
 * their cosine distance is exactly 0.25 in float arithmetic. */
static void test_eps_boundary(void **state) {
    (void)state;
    const float x[6] = {1.0f, 0.0f, 0.0f, 0.75f, sqrtf(0.4375f), 0.0f};
    int32_t lab[2];
    size_t nc;
    lg_errmsg err;
    for (size_t min_samples = 1; min_samples <= 2; min_samples++) {
        assert_int_equal(lg_dbscan(x, 2, 3, 0.25f, min_samples, NULL, NULL, lab, &nc, &err), LG_OK);
        assert_int_equal(nc, 1);
        assert_int_equal(lab[0], lab[1]);
        /* the largest eps whose similarity floor 1 - eps lies above 0.75 */
        float below = 1.0f - nextafterf(0.75f, 1.0f);
        assert_true(below < 0.25f);
        assert_int_equal(lg_dbscan(x, 2, 3, below, min_samples, NULL, NULL, lab, &nc, &err), LG_OK);
        if (min_samples == 1) {
            assert_int_equal(nc, 2); /* two clusters of one */
            assert_true(lab[0] != lab[1]);
        } else {
            assert_int_equal(nc, 0); /* both noise */
            assert_int_equal(lab[0], -1);
            assert_int_equal(lab[1], -1);
        }
    }
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

/* ---- Distinct vectors, weights ------------------------------------------------------ */

/* Do a and b (n labels each) agree up to renumbering, with the same noise
 * rows? Prints the first disagreement. */
static int same_partition(const int32_t *a, const int32_t *b, size_t n, size_t nc) {
    int32_t *ab = malloc((nc + 1) * sizeof *ab), *ba = malloc((nc + 1) * sizeof *ba);
    for (size_t c = 0; c <= nc; c++) ab[c] = ba[c] = -2;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        if ((a[i] < 0) != (b[i] < 0)) {
            print_error("row %zu: noise in one run only (%d vs %d)\n", i, a[i], b[i]);
            ok = 0;
        } else if (a[i] >= 0) {
            if (ab[a[i]] == -2) ab[a[i]] = b[i];
            if (ba[b[i]] == -2) ba[b[i]] = a[i];
            if (ab[a[i]] != b[i] || ba[b[i]] != a[i]) {
                print_error("row %zu: cluster %d vs %d breaks the 1:1 map\n", i, a[i], b[i]);
                ok = 0;
            }
        }
    }
    free(ab), free(ba);
    return ok;
}

static double gauss(lg_rng *r) {
    double u = lg_rng_unif(r) + 1e-12, v = lg_rng_unif(r);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* rows (n, d): `distinct` vectors (around 4 centres, a few uniform ones for
 * noise), each repeated 1..max_mult times, in shuffled order. */
static float *dup_data(size_t distinct, size_t d, size_t max_mult, uint64_t seed, size_t *n_out) {
    lg_rng r;
    lg_rng_seed(&r, seed);
    float *u = malloc(distinct * d * sizeof *u), cen[4][16];
    for (size_t c = 0; c < 4; c++)
        for (size_t t = 0; t < d; t++) cen[c][t] = (float)gauss(&r);
    size_t *mult = malloc(distinct * sizeof *mult), n = 0;
    for (size_t i = 0; i < distinct; i++) {
        int uniform = lg_rng_below(&r, 8) == 0;
        size_t c = lg_rng_below(&r, 4);
        for (size_t t = 0; t < d; t++)
            u[i * d + t] = uniform ? (float)gauss(&r) : cen[c][t] + 0.35f * (float)gauss(&r);
        mult[i] = lg_rng_below(&r, 3) == 0 ? 1 : 1 + lg_rng_below(&r, max_mult);
        n += mult[i];
    }
    lg_l2_normalize_rows(u, distinct, d);
    size_t *ord = malloc(n * sizeof *ord), k = 0;
    for (size_t i = 0; i < distinct; i++)
        for (size_t m = 0; m < mult[i]; m++) ord[k++] = i;
    for (size_t i = n - 1; i > 0; i--) { /* shuffle */
        size_t j = lg_rng_below(&r, i + 1), t = ord[i];
        ord[i] = ord[j];
        ord[j] = t;
    }
    float *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n; i++) memcpy(x + i * d, u + ord[i] * d, d * sizeof *x);
    free(u), free(mult), free(ord);
    *n_out = n;
    return x;
}

static void test_vecset(void **state) {
    (void)state;
    size_t n, d = 6;
    float *x = dup_data(150, d, 12, 7, &n);
    lg_vecset v;
    lg_errmsg err;
    assert_int_equal(lg_vecset_from_rows(x, n, d, 0, &v, &err), LG_OK);
    assert_int_equal(v.n, n);
    assert_true(v.m <= 150 && v.m < n / 2);
    size_t total = 0;
    for (size_t j = 0; j < v.m; j++) {
        total += v.weight[j];
        assert_true(v.weight[j] >= 1);
        assert_int_equal(v.row_vec[v.first_row[j]], j);
        if (j) assert_true(v.first_row[j] > v.first_row[j - 1]); /* first-occurrence order */
        for (size_t k = 0; k < j; k++) /* distinct */
            assert_true(memcmp(v.x + j * d, v.x + k * d, d * sizeof *x) != 0);
    }
    assert_int_equal(total, n);
    for (size_t i = 0; i < n; i++) {
        assert_memory_equal(x + i * d, v.x + (size_t)v.row_vec[i] * d, d * sizeof *x);
        assert_true(v.first_row[v.row_vec[i]] <= i);
    }
    lg_vecset_free(&v);
    lg_vecset_free(&v); /* twice: a no-op */
    /* the cap counts distinct vectors, not rows */
    assert_int_equal(lg_vecset_from_rows(x, n, d, 150, &v, &err), LG_OK);
    lg_vecset_free(&v);
    assert_int_equal(lg_vecset_from_rows(x, n, d, 20, &v, &err), LG_ELIMIT);
    print_message("cap: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "distinct"));
    assert_null(v.x);
    /* bit-identical only: -0.0 and 0.0 are two vectors */
    float z[4] = {0.0f, 1.0f, -0.0f, 1.0f};
    assert_int_equal(lg_vecset_from_rows(z, 2, 2, 0, &v, &err), LG_OK);
    assert_int_equal(v.m, 2);
    lg_vecset_free(&v);
    free(x);
}

/* Weighted DBSCAN of the distinct vectors, expanded, against plain DBSCAN
 * of all rows: same partition, same noise rows (and in fact the same ids). */
static void check_equivalent(const float *x, size_t n, size_t d, float eps, size_t min_samples,
                             size_t *noise_out, size_t *nc_out) {
    lg_vecset v;
    lg_errmsg err;
    assert_int_equal(lg_vecset_from_rows(x, n, d, 0, &v, &err), LG_OK);
    int32_t *plain = malloc(n * sizeof *plain), *wl = malloc(v.m * sizeof *wl),
            *exp = malloc(n * sizeof *exp);
    size_t nc_plain, nc_w;
    assert_int_equal(lg_dbscan(x, n, d, eps, min_samples, NULL, NULL, plain, &nc_plain, &err),
                     LG_OK);
    assert_int_equal(
        lg_dbscan_weighted(v.x, v.m, d, v.weight, eps, min_samples, NULL, NULL, wl, &nc_w, &err),
        LG_OK);
    for (size_t i = 0; i < n; i++) exp[i] = wl[v.row_vec[i]];
    size_t noise = 0;
    for (size_t i = 0; i < n; i++) noise += plain[i] < 0;
    print_message("eps %.2f min_samples %2zu: %zu rows, %zu distinct, %zu clusters, %zu noise\n",
                  (double)eps, min_samples, n, v.m, nc_plain, noise);
    assert_int_equal(nc_plain, nc_w);
    assert_true(same_partition(plain, exp, n, nc_plain));
    assert_memory_equal(plain, exp, n * sizeof *plain); /* numbering by first core row too */
    /* the silhouette of the same labels: weighted on distinct = plain on rows */
    double s_plain, s_w;
    assert_int_equal(lg_silhouette_cosine(x, n, d, plain, nc_plain, 0, 1, &s_plain, &err), LG_OK);
    assert_int_equal(
        lg_silhouette_cosine_weighted(v.x, v.m, d, v.weight, wl, nc_w, 0, 1, &s_w, &err), LG_OK);
    assert_true((isnan(s_plain) && isnan(s_w)) || fabs(s_plain - s_w) < 1e-5);
    *noise_out = noise;
    *nc_out = nc_plain;
    free(plain), free(wl), free(exp);
    lg_vecset_free(&v);
}

static void test_weighted_equals_expanded(void **state) {
    (void)state;
    size_t n, d = 6, with_noise = 0, multi = 0;
    float *x = dup_data(300, d, 15, 11, &n);
    const float eps[] = {0.02f, 0.05f, 0.1f, 0.1f, 0.2f, 0.3f, 0.05f};
    const size_t ms[] = {1, 4, 10, 25, 40, 80, 1000};
    for (size_t t = 0; t < sizeof eps / sizeof *eps; t++) {
        size_t noise, nc;
        check_equivalent(x, n, d, eps[t], ms[t], &noise, &nc);
        with_noise += noise > 0 && nc >= 2;
        multi += nc >= 2;
    }
    assert_true(with_noise >= 2 && multi >= 4); /* the runs are not all trivial */
    free(x);
}

/* scikit-learn's silhouette on the expanded rows, in double: weighted of
 * the distinct vectors must agree, including a cluster that is one
 * distinct vector of weight 3 (a(i) = 0 there, not the singleton rule). */
static void test_silhouette_weighted(void **state) {
    (void)state;
    double ang[] = {0, 20, 30, 100, 200};
    size_t w[] = {3, 1, 2, 2, 1};
    int32_t lab[] = {0, 1, 1, LG_NOISE, 2};
    float u[15], x[27];
    int32_t ex[9];
    size_t n = 0;
    for (size_t i = 0; i < 5; i++) {
        at_angle(u + 3 * i, ang[i]);
        for (size_t k = 0; k < w[i]; k++, n++) {
            memcpy(x + 3 * n, u + 3 * i, 3 * sizeof *x);
            ex[n] = lab[i];
        }
    }
    double sw, sp, direct = silhouette_direct(x, n, 3, ex, 3);
    lg_errmsg err;
    assert_int_equal(lg_silhouette_cosine_weighted(u, 5, 3, w, lab, 3, 0, 1, &sw, &err), LG_OK);
    assert_int_equal(lg_silhouette_cosine(x, n, 3, ex, 3, 0, 1, &sp, &err), LG_OK);
    /* by hand: cluster 0 (3 copies of 0 deg): a = 0, s = 1; cluster 2 (one
     * row at 200 deg): s = 0; cluster 1: 20 deg and two copies of 30 */
    double dd[5][5];
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 5; j++) dd[i][j] = 1 - cos((ang[i] - ang[j]) * M_PI / 180);
    double a1 = 2 * dd[1][2] / 2, b1 = fmin(dd[1][0], dd[1][4]);
    double a2 = dd[2][1] / 2, b2 = fmin(dd[2][0], dd[2][4]);
    double hand = (3 * 1.0 + (b1 - a1) / fmax(a1, b1) + 2 * (b2 - a2) / fmax(a2, b2) + 0) / 7;
    print_message("silhouette weighted %.6f, expanded %.6f, direct %.6f, by hand %.6f\n", sw, sp,
                  direct, hand);
    assert_true(fabs(sw - hand) < 1e-6);
    assert_true(fabs(sw - direct) < 1e-5);
    assert_true(fabs(sw - sp) < 1e-5);
    /* all the points in clusters of one point: undefined, as unweighted */
    size_t ones[] = {1, 1, 1, 1, 1};
    int32_t each[] = {0, 1, 2, 3, 4};
    assert_int_equal(lg_silhouette_cosine_weighted(u, 5, 3, ones, each, 5, 0, 1, &sw, &err), LG_OK);
    assert_true(isnan(sw));
    /* ... but one distinct vector per cluster with weights > 1 is defined */
    size_t twos[] = {2, 2, 2, 2, 2};
    assert_int_equal(lg_silhouette_cosine_weighted(u, 5, 3, twos, each, 5, 0, 1, &sw, &err), LG_OK);
    assert_true(fabs(sw - 1.0) < 1e-12);
}

/* ---- Seed data ---------------------------------------------------------------------------- */

typedef struct {
    long col;
    int header;
    size_t n, cap;
    char **msg;
    size_t *len;
} msgs_t;

static lg_err on_row(void *user, const lg_csv_row *row, lg_errmsg *err) {
    msgs_t *m = user;
    if (!m->header) {
        m->header = 1;
        for (size_t i = 0; i < row->nfields; i++)
            if (!strcmp(row->fields[i], "log_message")) m->col = (long)i;
        return m->col < 0 ? lg_fail(err, LG_EPARSE, "no log_message") : LG_OK;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 1024;
        m->msg = realloc(m->msg, m->cap * sizeof *m->msg);
        m->len = realloc(m->len, m->cap * sizeof *m->len);
    }
    size_t c = (size_t)m->col;
    m->msg[m->n] = lg_strndup(row->fields[c], row->lens[c]);
    m->len[m->n++] = row->lens[c];
    return LG_OK;
}

static void test_seed_data(void **state) {
    (void)state;
    const char *shared = getenv("LOGIFY_SHARED");
    char path[4096];
    snprintf(path, sizeof path, "%s/datasets/synthetic_logs.csv", shared ? shared : "../../shared");
    FILE *f = fopen(path, "rb");
    if (!f) {
        print_message("SKIP: %s not found (../shared is absent)\n", path);
        skip();
    }
    msgs_t m = {-1, 0, 0, 0, NULL, NULL};
    lg_csv_reader *r;
    lg_errmsg err;
    assert_int_equal(lg_csv_reader_new(NULL, on_row, NULL, &m, &r, &err), LG_OK);
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        assert_int_equal(lg_csv_feed(r, buf, got, &err), LG_OK);
    assert_int_equal(lg_csv_finish(r, &err), LG_OK);
    lg_csv_reader_free(r);
    fclose(f);
    size_t n = m.n, d;
    float *x;
    lg_vecset v;
    assert_int_equal(lg_cluster_embed("hash", (const char *const *)m.msg, m.len, n, 512, NULL, NULL,
                                      &x, &d, &err), LG_OK);
    assert_int_equal(lg_cluster_embed_distinct("hash", (const char *const *)m.msg, m.len, n, 512,
                                               0, NULL, NULL, &v, &err), LG_OK);
    assert_int_equal(v.d, d);
    for (size_t i = 0; i < n; i++) /* bit for bit the vectors of the plain embedding */
        assert_memory_equal(x + i * d, v.x + (size_t)v.row_vec[i] * d, d * sizeof *x);
    lg_vecset vr; /* dedup of the rows afterwards finds the same distinct set */
    assert_int_equal(lg_vecset_from_rows(x, n, d, 0, &vr, &err), LG_OK);
    assert_int_equal(vr.m, v.m);
    assert_memory_equal(vr.x, v.x, v.m * d * sizeof *x);
    assert_memory_equal(vr.weight, v.weight, v.m * sizeof *v.weight);
    print_message("seed: %zu rows, %zu distinct messages, %zu distinct vectors\n", n, v.texts, v.m);
    assert_true(v.m < v.texts && v.texts <= n);
    /* a cap below the distinct count stops the embedding */
    lg_vecset small;
    assert_int_equal(lg_cluster_embed_distinct("hash", (const char *const *)m.msg, m.len, n, 512,
                                               v.m - 1, NULL, NULL, &small, &err), LG_ELIMIT);
    print_message("cap: %s\n", err.msg);
    lg_vecset_free(&small);
    size_t noise, nc;
    check_equivalent(x, n, d, 0.2f, 1, &noise, &nc);
    assert_int_equal(nc, 340); /* docs/cluster.md */
    check_equivalent(x, n, d, 0.2f, 5, &noise, &nc);
    check_equivalent(x, n, d, 0.1f, 20, &noise, &nc);
    lg_vecset_free(&v);
    lg_vecset_free(&vr);
    free(x);
    for (size_t i = 0; i < n; i++) free(m.msg[i]);
    free(m.msg), free(m.len);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clusters_border_and_noise),
        cmocka_unit_test(test_eps_boundary),
        cmocka_unit_test(test_silhouette),
        cmocka_unit_test(test_vecset),
        cmocka_unit_test(test_weighted_equals_expanded),
        cmocka_unit_test(test_silhouette_weighted),
        cmocka_unit_test(test_seed_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
