/* test_evalplot.c - text made safe for SVG (logify/svg.h: the XML
 * specials, control characters, invalid UTF-8, cutting at a character),
 * the sparse confusion matrix (counts, ids, JSON, growth to many labels)
 * and the eval plot drawn from both (a cell per non-empty pair carrying
 * its count, hostile labels escaped). tests/e2e/eval_plot.sh parses the
 * plot of real runs as XML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/confusion.h"
#include "logify/evalplot.h"
#include "logify/report.h"
#include "logify/svg.h"

static const char *esc(const char *s, size_t max) {
    static lg_buf b;
    static int init;
    if (!init) lg_buf_init(&b, 1 << 16), init = 1;
    lg_buf_reset(&b);
    assert_int_equal(lg_svg_text(&b, s, max), LG_OK);
    return lg_buf_cstr(&b);
}

static void test_svg_text(void **state) {
    (void)state;
    assert_string_equal(esc("plain text", 0), "plain text");
    assert_string_equal(esc("<img src=x onerror=\"alert(1)\">&'", 0),
                        "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;");
    assert_string_equal(esc("</script><script>", 0), "&lt;/script&gt;&lt;script&gt;");
    /* control characters and invalid UTF-8 become U+FFFD */
    assert_string_equal(esc("a\x01" "b\x7f" "c", 0), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c");
    assert_string_equal(esc("x\xff" "y", 0), "x\xEF\xBF\xBD" "y");
    assert_string_equal(esc("\xC0\xAF", 0), "\xEF\xBF\xBD\xEF\xBF\xBD");   /* overlong '/' */
    assert_string_equal(esc("\xED\xA0\x80", 0), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* surrogate */
    assert_string_equal(esc("\xE2\x82", 0), "\xEF\xBF\xBD\xEF\xBF\xBD"); /* cut short */
    assert_string_equal(esc("\xEF\xBF\xBF", 0), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* U+FFFF */
    /* valid multi-byte characters stay, and count as one */
    assert_string_equal(esc("caf\xC3\xA9 \xF0\x9F\x94\xA5", 0), "caf\xC3\xA9 \xF0\x9F\x94\xA5");
    assert_int_equal(lg_svg_chars("caf\xC3\xA9 \xF0\x9F\x94\xA5"), 6);
    /* cutting: max characters, the last one an ellipsis; never inside one */
    assert_string_equal(esc("abcdef", 6), "abcdef");
    assert_string_equal(esc("abcdefg", 6), "abcde\xE2\x80\xA6");
    assert_string_equal(esc("\xC3\xA9\xC3\xA9\xC3\xA9", 2), "\xC3\xA9\xE2\x80\xA6");
    assert_string_equal(esc("<<<<", 3), "&lt;&lt;\xE2\x80\xA6");
}

static void test_confusion(void **state) {
    (void)state;
    lg_confusion c;
    lg_confusion_init(&c);
    assert_int_equal(lg_confusion_label_id(&c, "A"), -1);
    assert_int_equal(lg_confusion_add(&c, "A", "A", NULL), LG_OK);
    assert_int_equal(lg_confusion_add(&c, "A", "B", NULL), LG_OK);
    assert_int_equal(lg_confusion_add(&c, "A", "A", NULL), LG_OK);
    assert_int_equal(lg_confusion_add(&c, "C", "Unclassified", NULL), LG_OK);
    long a = lg_confusion_label_id(&c, "A"), b = lg_confusion_label_id(&c, "B");
    long u = lg_confusion_label_id(&c, "Unclassified"), cc = lg_confusion_label_id(&c, "C");
    assert_true(a >= 0 && b >= 0 && u >= 0 && cc >= 0);
    assert_int_equal(lg_confusion_get(&c, (uint32_t)a, (uint32_t)a), 2);
    assert_int_equal(lg_confusion_get(&c, (uint32_t)a, (uint32_t)b), 1);
    assert_int_equal(lg_confusion_get(&c, (uint32_t)b, (uint32_t)a), 0);
    assert_int_equal(lg_confusion_get(&c, (uint32_t)cc, (uint32_t)u), 1);
    assert_int_equal(c.rows, 4);
    assert_int_equal(c.n_cells, 3);
    json_t *j = lg_confusion_json(&c);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 2); /* rows for A and C only */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "A"), "A")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "A"), "B")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "C"), "Unclassified")), 1);
    json_decref(j);
    lg_confusion_clear(&c);

    /* 3,000 labels, every (i, i) and (i, i+1): the tables grow */
    lg_confusion_init(&c);
    char t[32], p[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(t, sizeof t, "label %d", i);
        snprintf(p, sizeof p, "label %d", (i + 1) % 3000);
        assert_int_equal(lg_confusion_add(&c, t, t, NULL), LG_OK);
        assert_int_equal(lg_confusion_add(&c, t, p, NULL), LG_OK);
        assert_int_equal(lg_confusion_add(&c, t, p, NULL), LG_OK);
    }
    assert_int_equal(c.n_labels, 3000);
    assert_int_equal(c.n_cells, 6000);
    for (int i = 0; i < 3000; i += 7) {
        snprintf(t, sizeof t, "label %d", i);
        snprintf(p, sizeof p, "label %d", (i + 1) % 3000);
        uint32_t ti = (uint32_t)lg_confusion_label_id(&c, t), pi = (uint32_t)lg_confusion_label_id(&c, p);
        assert_int_equal(lg_confusion_get(&c, ti, ti), 1);
        assert_int_equal(lg_confusion_get(&c, ti, pi), 2);
    }
    lg_confusion_clear(&c);
}

static size_t count(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

static void test_plot(void **state) {
    (void)state;
    static const char *const pairs[][2] = {
        {"A", "A"}, {"A", "A"}, {"A", "B"}, {"B", "B"}, {"<b>x</b>&\"", "<b>x</b>&\""},
        {"<b>x</b>&\"", "Unclassified"}};
    lg_report r;
    lg_confusion c;
    lg_report_init(&r);
    lg_confusion_init(&c);
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        assert_int_equal(lg_report_add(&r, pairs[i][0], pairs[i][1], NULL), LG_OK);
        assert_int_equal(lg_confusion_add(&c, pairs[i][0], pairs[i][1], NULL), LG_OK);
    }
    lg_buf b;
    lg_buf_init(&b, 1 << 20);
    assert_int_equal(lg_evalplot_svg(&r, &c, "t <&>", &b, NULL), LG_OK);
    const char *svg = lg_buf_cstr(&b);
    assert_int_equal(strncmp(svg, "<?xml", 5), 0);
    assert_non_null(strstr(svg, "</svg>\n"));
    assert_int_equal(count(svg, "class=\"cell\""), 5); /* the non-empty pairs */
    assert_non_null(strstr(svg, "data-truth=\"A\" data-pred=\"A\" data-rows=\"2\""));
    assert_non_null(strstr(svg, "data-truth=\"A\" data-pred=\"B\" data-rows=\"1\""));
    assert_non_null(strstr(svg, "data-truth=\"&lt;b&gt;x&lt;/b&gt;&amp;&quot;\" "
                                "data-pred=\"Unclassified\" data-rows=\"1\""));
    assert_null(strstr(svg, "<b>"));
    assert_non_null(strstr(svg, "t &lt;&amp;&gt;"));
    assert_int_equal(count(svg, "class=\"truth-label\""), 4);
    assert_int_equal(count(svg, "class=\"label-metrics\""), 4);
    /* a buffer too small for the SVG at any point: an error naming it,
     * never a truncated SVG; the same bytes once it fits */
    size_t full = b.len;
    char *want = malloc(full);
    memcpy(want, b.data, full);
    for (size_t cap = 1; cap <= full + 1; cap++) {
        lg_buf small;
        lg_buf_init(&small, cap);
        lg_errmsg serr = {{0}};
        lg_err se = lg_evalplot_svg(&r, &c, "t <&>", &small, &serr);
        if (cap < full && (se == LG_OK || strcmp(serr.msg, "plot: the SVG does not fit in its buffer")))
            fail_msg("cap %zu of %zu: got %d '%s'", cap, full, (int)se, serr.msg);
        if (se == LG_OK && (small.len != full || memcmp(small.data, want, full)))
            fail_msg("cap %zu: a different SVG", cap);
        if (cap == full + 1) assert_int_equal(se, LG_OK);
        lg_buf_free(&small);
    }
    free(want);
    /* a confusion label the report lacks is an error, not a wrong figure */
    lg_confusion_add(&c, "D", "D", NULL);
    lg_buf_reset(&b);
    lg_errmsg err;
    assert_int_equal(lg_evalplot_svg(&r, &c, NULL, &b, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "'D'"));
    lg_buf_free(&b);
    lg_confusion_clear(&c);
    lg_report_clear(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_svg_text),
        cmocka_unit_test(test_confusion),
        cmocka_unit_test(test_plot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
