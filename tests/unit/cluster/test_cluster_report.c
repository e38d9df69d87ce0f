/* test_cluster_report.c - lg_cluster_report, the console's clusters view
 * (src/cluster/cluster_report.c, docs/console.md), without a browser:
 *  - the JSON document, parsed: rows, points (three numbers a row, in input
 *    order, each row's cluster), groups (sizes adding up to the rows,
 *    largest first, noise last, each with its dominant label and share, its
 *    template, examples from its rows, its rules), the suggested rules
 *    file; by template (default) and by message;
 *  - refusals: no header, no log_message column, fewer than 2 rows, more
 *    rows than max_rows; a progress callback that cancels;
 *  - an output buffer too small, at each size where a key or value begins
 *    (by message: where an object or array begins),
 *    from the rules file's size up to the whole document's: an error naming
 *    the cap, never a cut document; exactly the document's size: the same
 *    bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "logify/cluster.h"

/* 3 kinds of message, 8 rows each (labelled), and 2 of their own */
static void make_csv(lg_buf *b, int labels) {
    lg_buf_init(b, 1 << 20);
    lg_buf_printf(b, labels ? "source,log_message,target_label\n" : "log_message\n");
    for (int i = 0; i < 8; i++) {
        if (labels) {
            lg_buf_printf(b, "S,Disk quota exceeded on vol%d by %d MB,Resource Usage\n", i, i * 7 + 3);
            lg_buf_printf(b, "S,User u%d logged in from 10.0.0.%d,%s\n", i * 13, i, i == 7 ? "Security Alert" : "User Action");
            lg_buf_printf(b, "S,\"Backup job %d completed in %d s, \"\"ok\"\"\",System Notification\n", i, i * 11);
        } else {
            lg_buf_printf(b, "Disk quota exceeded on vol%d by %d MB\n", i, i * 7 + 3);
            lg_buf_printf(b, "User u%d logged in from 10.0.0.%d\n", i * 13, i);
            lg_buf_printf(b, "\"Backup job %d completed in %d s, \"\"ok\"\"\"\n", i, i * 11);
        }
    }
    lg_buf_printf(b, labels ? "S,kernel panic at 0xdeadbeef cpu 3,Critical Error\n" : "kernel panic at 0xdeadbeef cpu 3\n");
    lg_buf_printf(b, labels ? "S,zzz,\n" : "zzz\n");
}

static json_t *report(const lg_buf *csv, int by_message, lg_buf *out) {
    lg_cluster_report_opts o;
    lg_cluster_report_opts_default(&o);
    o.by_message = by_message;
    o.eps = 0.3f;
    o.umap.n_epochs = 5; /* the layout's quality is unit.test_umap's */
    lg_errmsg err;
    lg_err e = lg_cluster_report(csv->data, csv->len, &o, NULL, NULL, out, &err);
    if (e) fail_msg("report: %s", err.msg);
    json_error_t je;
    json_t *j = json_loadb(out->data, out->len, 0, &je);
    if (!j) fail_msg("not JSON (%s at %d): %.*s", je.text, je.position, (int)out->len, out->data);
    return j;
}

/* The document's invariants; returns its groups. */
static json_t *check_shape(json_t *j, size_t rows, int labels, const char *by) {
    assert_int_equal(json_integer_value(json_object_get(j, "rows")), rows);
    assert_true(json_is_boolean(json_object_get(j, "labels")));
    assert_int_equal(json_is_true(json_object_get(j, "labels")), labels);
    assert_string_equal(json_string_value(json_object_get(j, "encoder")), "hash");
    assert_string_equal(json_string_value(json_object_get(j, "by")), by);
    json_t *pts = json_object_get(j, "points"), *groups = json_object_get(j, "groups");
    assert_int_equal(json_array_size(pts), 3 * rows);
    size_t nc = (size_t)json_integer_value(json_object_get(j, "clusters"));
    size_t noise = (size_t)json_integer_value(json_object_get(j, "noise"));
    /* every row's cluster is a cluster or noise; the counts agree */
    size_t *count = calloc(nc + 1, sizeof *count);
    for (size_t i = 0; i < rows; i++) {
        json_int_t c = json_integer_value(json_array_get(pts, 3 * i + 2));
        assert_true(c >= -1 && c < (json_int_t)nc);
        assert_true(json_is_number(json_array_get(pts, 3 * i)) && json_is_number(json_array_get(pts, 3 * i + 1)));
        count[c < 0 ? nc : (size_t)c]++;
    }
    assert_int_equal(count[nc], noise);
    size_t sum = 0, prev = SIZE_MAX;
    for (size_t g = 0; g < json_array_size(groups); g++) {
        json_t *gr = json_array_get(groups, g);
        json_int_t id = json_integer_value(json_object_get(gr, "id"));
        size_t size = (size_t)json_integer_value(json_object_get(gr, "size"));
        if (id >= 0) {
            assert_true(size <= prev); /* largest first */
            prev = size;
            assert_int_equal(size, count[id]);
            assert_true(json_is_string(json_object_get(gr, "template")));
        } else {
            assert_int_equal(g, json_array_size(groups) - 1); /* noise last */
            assert_int_equal(size, noise);
            assert_true(json_is_null(json_object_get(gr, "template")));
        }
        sum += size;
        json_t *ex = json_object_get(gr, "examples");
        assert_true(json_array_size(ex) >= 1 && json_array_size(ex) <= 3);
        if (labels && id >= 0) {
            double share = json_real_value(json_object_get(gr, "label_share"));
            assert_true(share > 0 && share <= 1);
            assert_true(json_is_string(json_object_get(gr, "label")));
        }
        json_t *rs = json_object_get(gr, "rules");
        for (size_t k = 0; k < json_array_size(rs); k++) {
            json_t *r = json_array_get(rs, k);
            const char *yaml = json_string_value(json_object_get(r, "yaml"));
            const char *pat = json_string_value(json_object_get(r, "pattern"));
            assert_non_null(yaml);
            assert_non_null(pat);
            assert_non_null(strstr(yaml, "rules:"));
            /* the rule's pattern is in the whole file too */
            const char *all = json_string_value(json_object_get(j, "suggested_rules"));
            assert_non_null(all);
            assert_non_null(strstr(all, json_string_value(json_object_get(r, "id"))));
            assert_true((size_t)json_integer_value(json_object_get(r, "coverage")) >= 1);
        }
    }
    assert_int_equal(sum, rows);
    free(count);
    return groups;
}

static void test_by_template(void **state) {
    (void)state;
    lg_buf csv, out;
    make_csv(&csv, 1);
    lg_buf_init(&out, 1 << 20);
    json_t *j = report(&csv, 0, &out);
    json_t *groups = check_shape(j, 26, 1, "template");
    assert_true(json_integer_value(json_object_get(j, "templates")) >= 3);
    /* the disk rows: one group of 8, labelled Resource Usage (share 1), its
     * template with the variables starred, a rule of that label */
    int disk = 0, user = 0;
    for (size_t g = 0; g < json_array_size(groups); g++) {
        json_t *gr = json_array_get(groups, g);
        const char *t = json_string_value(json_object_get(gr, "template"));
        if (t && strstr(t, "Disk quota exceeded")) {
            disk++;
            assert_int_equal(json_integer_value(json_object_get(gr, "size")), 8);
            assert_string_equal(json_string_value(json_object_get(gr, "label")), "Resource Usage");
            assert_true(json_real_value(json_object_get(gr, "label_share")) == 1.0);
            json_t *r = json_array_get(json_object_get(gr, "rules"), 0);
            assert_string_equal(json_string_value(json_object_get(r, "label")), "Resource Usage");
            assert_true(json_real_value(json_object_get(r, "precision")) == 1.0);
        }
        if (t && strstr(t, "logged in from")) {
            user++;
            /* 7 of 8 say User Action: the dominant label and its share */
            assert_string_equal(json_string_value(json_object_get(gr, "label")), "User Action");
            double share = json_real_value(json_object_get(gr, "label_share"));
            assert_true(share > 0.874 && share < 0.876);
        }
    }
    assert_int_equal(disk, 1);
    assert_int_equal(user, 1);
    json_decref(j);

    /* no labels: "labels": false, label and label_share null */
    lg_buf_free(&csv);
    make_csv(&csv, 0);
    j = report(&csv, 0, &out);
    groups = check_shape(j, 26, 0, "template");
    for (size_t g = 0; g < json_array_size(groups); g++) {
        assert_true(json_is_null(json_object_get(json_array_get(groups, g), "label_share")));
        assert_true(json_is_null(json_object_get(json_array_get(groups, g), "label")));
    }
    json_decref(j);
    lg_buf_free(&csv);
    lg_buf_free(&out);
}

static void test_by_message(void **state) {
    (void)state;
    lg_buf csv, out;
    make_csv(&csv, 1);
    lg_buf_init(&out, 1 << 20);
    json_t *j = report(&csv, 1, &out);
    check_shape(j, 26, 1, "message");
    assert_true(json_is_null(json_object_get(j, "templates")));
    json_decref(j);
    lg_buf_free(&csv);
    lg_buf_free(&out);
}

static int cancel_at_rules(void *u, const char *phase, size_t done, size_t total) {
    (void)done, (void)total;
    ++*(int *)u;
    return !strcmp(phase, "rules");
}

static void refused(const char *csv, size_t max_rows, lg_err code, const char *want) {
    lg_cluster_report_opts o;
    lg_cluster_report_opts_default(&o);
    if (max_rows) o.max_rows = max_rows;
    lg_buf out;
    lg_buf_init(&out, 1 << 20);
    lg_errmsg err;
    lg_err e = lg_cluster_report(csv, strlen(csv), &o, NULL, NULL, &out, &err);
    if (e != code || !strstr(err.msg, want)) fail_msg("want %d '%s', got %d '%s'", (int)code, want, (int)e, err.msg);
    lg_buf_free(&out);
}

static void test_refusals(void **state) {
    (void)state;
    refused("", 0, LG_EPARSE, "empty input: no header row");
    refused("source,message\nS,x\nS,y\n", 0, LG_ENOTFOUND, "line 1: the header has no log_message column");
    refused("log_message\nonly one\n", 0, LG_EINVAL, "need at least 2 rows, got 1");
    refused("log_message\na\nb\nc\nd\n", 3, LG_ELIMIT, "line 5: more than 3 rows: cluster a sample");
    /* a progress callback that cancels: LG_ECANCELED, after the phases before */
    lg_buf csv, out;
    make_csv(&csv, 1);
    lg_buf_init(&out, 1 << 20);
    lg_cluster_report_opts o;
    lg_cluster_report_opts_default(&o);
    int calls = 0;
    lg_errmsg err;
    assert_int_equal(lg_cluster_report(csv.data, csv.len, &o, cancel_at_rules, &calls, &out, &err), LG_ECANCELED);
    assert_true(calls > 1);
    lg_buf_free(&csv);
    lg_buf_free(&out);
}

/* Caps from the rules file's size up to the whole document's: an error
 * (the report's own, naming the cap), never a document cut short. */
static void test_output_too_small(void **state) {
    (void)state;
    for (int by = 0; by < 2; by++) {
        lg_buf csv, full;
        make_csv(&csv, 1);
        lg_buf_init(&full, 1 << 20);
        json_decref(report(&csv, by, &full));
        json_t *j = json_loadb(full.data, full.len, 0, NULL);
        size_t yaml_len = strlen(json_string_value(json_object_get(j, "suggested_rules")));
        json_decref(j);
        lg_cluster_report_opts o;
        lg_cluster_report_opts_default(&o);
        o.by_message = by;
        o.eps = 0.3f;
        o.umap.n_epochs = 5;
        size_t named = 0;
        /* caps where a value or a key begins (each append fails on its first
         * byte), from the rules file's size on (a cap below it fails there) */
        size_t k = 0; /* caps skipped under ASan */
        (void)k;
        for (size_t cap = yaml_len; cap < full.len; cap++) {
            if (!strchr(by ? "[{" : ",:[{", full.data[cap - 1]) && cap + 1 != full.len) continue;
#ifdef __SANITIZE_ADDRESS__
            /* under ASan (16 s of CPU for them all): objects and arrays, and
             * every 4th key or value (the pieces repeat per group and point) */
            if (!strchr("[{", full.data[cap - 1]) && k++ % 4 && cap + 1 != full.len) continue;
#endif
            lg_buf out;
            lg_buf_init(&out, cap);
            lg_errmsg err;
            lg_err e = lg_cluster_report(csv.data, csv.len, &o, NULL, NULL, &out, &err);
            if (e != LG_ELIMIT) fail_msg("cap %zu of %zu: %d (%s)", cap, full.len, (int)e, e ? err.msg : "accepted");
            char want[96];
            snprintf(want, sizeof want, "the report is larger than %zu bytes", cap);
            if (!strcmp(err.msg, want)) named++;
            lg_buf_free(&out);
        }
        assert_true(named > 10);
        /* exactly the document's size: accepted, the same bytes */
        lg_buf out;
        lg_buf_init(&out, full.len);
        lg_errmsg err;
        assert_int_equal(lg_cluster_report(csv.data, csv.len, &o, NULL, NULL, &out, &err), LG_OK);
        assert_int_equal(out.len, full.len);
        assert_memory_equal(out.data, full.data, full.len);
        lg_buf_free(&out);
        lg_buf_free(&full);
        lg_buf_free(&csv);
    }
}

int main(void) {
    if (getenv("CLUSTER_REPORT_ONLY")) cmocka_set_test_filter(getenv("CLUSTER_REPORT_ONLY"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_template), cmocka_unit_test(test_by_message),
        cmocka_unit_test(test_refusals), cmocka_unit_test(test_output_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
