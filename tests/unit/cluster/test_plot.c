/* test_plot.c - the maps of `logify cluster` (src/cluster/plot.c): the SVG
 * coloured by cluster and by label (19 colours, the rest grey as "N
 * smaller clusters" / "N other labels", noise black, counts in rows, rows
 * at one spot one larger marker), the HTML page's inline data (markers,
 * weights, categories, hostile text escaped, long messages cut), and both
 * into buffers too small at every byte: an error, never a truncated map. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/cluster.h"

#define NCL 21 /* clusters 0..20, cluster k with 22 - k rows */
#define NMAX 300

static float xy[2 * NMAX];
static int32_t cl[NMAX];
static const char *lab[NMAX], *msg[NMAX], *src[NMAX];
static char names[NCL][8];
static char long_msg[1001];

/* 252 clustered rows, 3 noise rows; rows 0 and 1 at the same spot in
 * cluster 0 (one marker of 2 rows). Labels: cluster k's rows "Lkk"; the
 * noise rows "N", "N" and "a<b&c". */
static size_t make_data(void) {
    size_t n = 0;
    for (int k = 0; k < NCL; k++) {
        snprintf(names[k], sizeof names[k], "L%02d", k);
        for (int i = 0; i < 22 - k; i++, n++) {
            xy[2 * n] = (float)k + 0.01f * (float)i;
            xy[2 * n + 1] = (float)(k % 5) - 0.02f * (float)i;
            cl[n] = k;
            lab[n] = names[k];
            msg[n] = "disk full";
            src[n] = "app";
        }
    }
    xy[2] = xy[0], xy[3] = xy[1]; /* row 1 on row 0 */
    static const char *const noise_lab[3] = {"N", "N", "a<b&c"};
    for (int i = 0; i < 3; i++, n++) {
        xy[2 * n] = -3.0f - (float)i;
        xy[2 * n + 1] = 7.0f;
        cl[n] = LG_NOISE;
        lab[n] = noise_lab[i];
        msg[n] = i == 0 ? "</script><b>x" : long_msg;
        src[n] = "edge";
    }
    return n;
}

static size_t count(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

static void test_svg(void **state) {
    (void)state;
    lg_plot_data d = {make_data(), xy, cl, NCL, lab, msg, NULL, src, "map <1> & co"};
    lg_buf b;
    lg_buf_init(&b, 1 << 22);
    assert_int_equal(lg_plot_svg(&d, 0, &b, NULL), LG_OK);
    const char *svg = lg_buf_cstr(&b);
    assert_int_equal(strncmp(svg, "<?xml", 5), 0);
    assert_non_null(strstr(svg, ">map &lt;1&gt; &amp; co (coloured by cluster)</text>"));
    char want[64];
    for (int k = 0; k < 19; k++) {
        snprintf(want, sizeof want, ">cluster %d (%d)</text>", k, 22 - k);
        if (!strstr(svg, want)) fail_msg("legend lacks '%s'", want);
    }
    assert_non_null(strstr(svg, ">2 smaller clusters (5)</text>"));
    assert_non_null(strstr(svg, ">noise (3)</text>"));
    assert_null(strstr(svg, ">cluster 19 "));
    /* 21 legend entries; 254 markers (rows 0 and 1 are one, larger) */
    assert_int_equal(count(svg, "r=\"6\" fill="), 21);
    assert_int_equal(count(svg, "<circle"), 21 + 254);
    assert_int_equal(count(svg, "r=\"3.0\""), 1); /* 2.6 (1 + log10(2) / 2) */
    assert_int_equal(count(svg, "fill=\"#c7c7c7\""), 2); /* the grey group and its legend */
    assert_int_equal(count(svg, "fill=\"#000000\""), 2);

    lg_buf_reset(&b);
    assert_int_equal(lg_plot_svg(&d, 1, &b, NULL), LG_OK);
    svg = lg_buf_cstr(&b);
    assert_non_null(strstr(svg, "(coloured by label)</text>"));
    assert_non_null(strstr(svg, ">L00 (22)</text>"));
    assert_non_null(strstr(svg, ">L18 (4)</text>"));
    assert_non_null(strstr(svg, ">4 other labels (8)</text>")); /* L19 3, L20 2, N 2, a<b&c 1 */
    assert_null(strstr(svg, ">noise"));                          /* by label: no noise group */
    assert_int_equal(count(svg, "r=\"6\" fill="), 20);

    /* colouring by label without labels: by cluster */
    d.labels = NULL;
    lg_buf_reset(&b);
    assert_int_equal(lg_plot_svg(&d, 1, &b, NULL), LG_OK);
    assert_non_null(strstr(lg_buf_cstr(&b), "(coloured by cluster)</text>"));
    lg_buf_free(&b);
}

static void test_html(void **state) {
    (void)state;
    memset(long_msg, 'x', 1000);
    long_msg[1000] = '\0';
    lg_plot_data d = {make_data(), xy, cl, NCL, lab, msg, NULL, src, NULL};
    lg_buf b;
    lg_buf_init(&b, 1 << 22);
    assert_int_equal(lg_plot_html(&d, &b, NULL), LG_OK);
    const char *h = lg_buf_cstr(&b);
    assert_non_null(strstr(h, "<h3>logify cluster</h3>"));
    assert_non_null(strstr(h, "const D={\"n\":254,\"byLabel\":true,"));
    assert_non_null(strstr(h, "\"w\":[2,1,1,"));
    assert_non_null(strstr(h, "\"row\":[1,3,4,")); /* row 2 is in row 1's marker */
    assert_null(strstr(h, "<b>x"));                /* </script> in a message cannot end the script */
    assert_non_null(strstr(h, "\"\\u003c/script>\\u003cb>x\""));
    assert_non_null(strstr(h, "\"a\\u003cb&c\""));
    /* messages cut at 600 bytes for the tooltip */
    char cut[604];
    cut[0] = '"';
    memset(cut + 1, 'x', 600);
    cut[601] = '"';
    cut[602] = '\0';
    assert_non_null(strstr(h, cut));
    cut[601] = 'x';
    assert_null(strstr(h, cut));
    assert_non_null(strstr(h, "\"names\":[\"cluster 0\",")); /* by cluster, then by label */
    assert_non_null(strstr(h, "\"names\":[\"L00\","));

    /* no labels, sources or messages: nulls, not empty lists */
    lg_plot_data bare = {d.n, xy, cl, NCL, NULL, NULL, NULL, NULL, "t"};
    lg_buf_reset(&b);
    assert_int_equal(lg_plot_html(&bare, &b, NULL), LG_OK);
    h = lg_buf_cstr(&b);
    assert_non_null(strstr(h, "\"byLabel\":false"));
    assert_non_null(strstr(h, "\"label\":null"));
    assert_non_null(strstr(h, "\"lab\":null,\n\"src\":null,\n\"msg\":null};"));
    lg_buf_free(&b);
}

/* Renders into buffers of every size up to the full one: too small is
 * the error `want`, never a partial result; enough gives the same bytes. */
static void every_cap(lg_err (*render)(const lg_plot_data *, lg_buf *, lg_errmsg *),
                      const lg_plot_data *d, const char *want) {
    lg_buf full;
    lg_buf_init(&full, 1 << 22);
    assert_int_equal(render(d, &full, NULL), LG_OK);
    for (size_t cap = 1; cap <= full.len + 1; cap++) {
        lg_buf b;
        lg_buf_init(&b, cap);
        lg_errmsg err = {{0}};
        lg_err e = render(d, &b, &err);
        if (cap < full.len && (e == LG_OK || strcmp(err.msg, want)))
            fail_msg("cap %zu of %zu: %d '%s'", cap, full.len, (int)e, err.msg);
        if (!e && (b.len != full.len || memcmp(b.data, full.data, full.len)))
            fail_msg("cap %zu: different bytes", cap);
        if (cap == full.len + 1) assert_int_equal(e, LG_OK);
        lg_buf_free(&b);
    }
    lg_buf_free(&full);
}

static lg_err svg_by_label(const lg_plot_data *d, lg_buf *b, lg_errmsg *err) {
    return lg_plot_svg(d, 1, b, err);
}

static void test_caps(void **state) {
    (void)state;
    static const float sxy[] = {0, 0, 0, 0, 1, 1, 2, 0, 2, 1, 5, 5};
    static const int32_t scl[] = {0, 0, 0, 1, 1, LG_NOISE};
    static const char *const slab[] = {"A", "A", "B", "B", "B", "<n>"};
    static const char *const smsg[] = {"m1", "m1", "m2", "m3", "m4", "m5"};
    static const char *const ssrc[] = {"s", "s", "s", "t", "t", "t"};
    lg_plot_data d = {6, sxy, scl, 2, slab, smsg, NULL, ssrc, "small & <map>"};
    every_cap(lg_plot_html, &d, "plot: HTML too large");
    every_cap(svg_by_label, &d, "plot: SVG too large");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
