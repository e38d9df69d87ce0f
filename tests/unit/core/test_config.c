/* test_config.c - route table (defaults, YAML, --route flags) and the
 * configuration file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "logify/config.h"
#include "logify/ytree.h"

static char *describe(const lg_route_table *t) {
    lg_buf b;
    lg_buf_init(&b, 4096);
    assert_int_equal(lg_routes_describe(t, &b), LG_OK);
    char *s = lg_strdup(lg_buf_cstr(&b));
    lg_buf_free(&b);
    return s;
}

static void expect_table(const lg_route_table *t, const char *want) {
    char *got = describe(t);
    assert_string_equal(got, want);
    free(got);
}

static void test_default_is_the_prototype(void **state) {
    (void)state;
    lg_route_table t;
    assert_int_equal(lg_routes_default(&t, NULL), LG_OK);
    expect_table(&t, "LegacyCRM=llm; *=rules,model");
    assert_string_equal(lg_routes_find(&t, "LegacyCRM")->source, "LegacyCRM");
    assert_string_equal(lg_routes_find(&t, "ModernHR")->source, "*");
    assert_string_equal(lg_routes_find(&t, "")->source, "*");
    lg_routes_free(&t);
}

static void test_flags(void **state) {
    (void)state;
    lg_route_table t;
    lg_errmsg err;
    assert_int_equal(lg_routes_default(&t, NULL), LG_OK);
    assert_int_equal(lg_routes_apply_flag(&t, "*=rules,model:0.7,llm", &err), LG_OK);
    assert_int_equal(lg_routes_apply_flag(&t, "Billing=rules", &err), LG_OK);
    expect_table(&t, "LegacyCRM=llm; Billing=rules; *=rules,model:0.7,llm");
    assert_int_equal(lg_routes_apply_flag(&t, "*=rules,rules", &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "twice"));
    assert_int_equal(lg_routes_apply_flag(&t, "*=magic", &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "unknown stage 'magic'"));
    assert_int_equal(lg_routes_apply_flag(&t, "*=llm:0.5", &err), LG_EINVAL);
    assert_int_equal(lg_routes_apply_flag(&t, "*=model:2", &err), LG_EINVAL);
    assert_int_equal(lg_routes_apply_flag(&t, "rules", &err), LG_EINVAL);
    expect_table(&t, "LegacyCRM=llm; Billing=rules; *=rules,model:0.7,llm"); /* unchanged */
    lg_route_table c;
    assert_int_equal(lg_routes_copy(&t, &c, NULL), LG_OK);
    expect_table(&c, "LegacyCRM=llm; Billing=rules; *=rules,model:0.7,llm");
    lg_routes_free(&c);
    lg_routes_free(&t);
}

static char *write_tmp(const char *text) {
    char *path = lg_strdup("/tmp/logify-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_config_file(void **state) {
    (void)state;
    char *path = write_tmp("rules: my-rules.yaml\n"
                           "model: /abs/model\n"
                           "threshold: 0.6\n"
                           "routes:\n"
                           "  - source: LegacyCRM\n"
                           "    stages:\n"
                           "      - {stage: llm, labels: [Workflow Error, Deprecation Warning]}\n"
                           "  - source: '*'\n"
                           "    stages: [rules, {stage: model, threshold: 0.8}]\n"
                           "llm:\n  model: whatever\n");
    lg_config cfg;
    lg_errmsg err;
    assert_int_equal(lg_config_init(&cfg, NULL), LG_OK);
    lg_err e = lg_config_load(path, &cfg, &err);
    if (e) print_error("%s\n", err.msg);
    assert_int_equal(e, LG_OK);
    assert_string_equal(cfg.rules_path, "/tmp/my-rules.yaml"); /* relative to the file */
    assert_string_equal(cfg.model_dir, "/abs/model");
    assert_true(cfg.threshold > 0.59 && cfg.threshold < 0.61);
    expect_table(&cfg.routes, "LegacyCRM=llm; *=rules,model:0.8");
    assert_int_equal(cfg.routes.routes[0].stages[0].n_labels, 2);
    assert_string_equal(cfg.routes.routes[0].stages[0].labels[1], "Deprecation Warning");
    assert_non_null(lg_ymap_get(cfg.doc, "llm"));
    lg_config_free(&cfg);
    unlink(path);
    free(path);
}

static void expect_config_error(const char *text, const char *msg_part) {
    char *path = write_tmp(text);
    lg_config cfg;
    lg_errmsg err = {{0}};
    assert_int_equal(lg_config_init(&cfg, NULL), LG_OK);
    lg_err e = lg_config_load(path, &cfg, &err);
    if (e == LG_OK || !strstr(err.msg, msg_part)) {
        print_error("got %d '%s', expected an error with '%s'\n", e, err.msg, msg_part);
        fail();
    }
    expect_table(&cfg.routes, "LegacyCRM=llm; *=rules,model"); /* untouched */
    lg_config_free(&cfg);
    unlink(path);
    free(path);
}

/* A config file may list "*" before an exact source: lookups (train's
 * routing) still find the exact route for its source, "*" for the rest. */
static void test_star_listed_first(void **state) {
    (void)state;
    char *path = write_tmp("routes:\n"
                           "  - source: '*'\n    stages: [rules]\n"
                           "  - source: LegacyCRM\n    stages: [llm]\n");
    lg_config cfg;
    lg_errmsg err;
    assert_int_equal(lg_config_init(&cfg, NULL), LG_OK);
    lg_err e = lg_config_load(path, &cfg, &err);
    if (e) print_error("%s\n", err.msg);
    assert_int_equal(e, LG_OK);
    assert_string_equal(lg_routes_find(&cfg.routes, "LegacyCRM")->source, "LegacyCRM");
    assert_string_equal(lg_routes_find(&cfg.routes, "ModernHR")->source, "*");
    lg_config_free(&cfg);
    unlink(path);
    free(path);
}

static void test_config_errors(void **state) {
    (void)state;
    expect_config_error("colour: blue\n", ":1: unknown setting 'colour'");
    expect_config_error("threshold: high\n", "threshold must be a number");
    expect_config_error("threshold: 1.5\n", "between 0 and 1");
    expect_config_error("routes:\n  - source: x\n    stages: [{stage: model, threshold: 1.5}]\n",
                        ":3: threshold must be between 0 and 1");
    expect_config_error("routes:\n  - source: x\n    stages: [{stage: model, threshold: -0.1}]\n",
                        ":3: threshold must be between 0 and 1");
    expect_config_error("routes:\n  - stages: [rules]\n", ":2: route needs a source");
    expect_config_error("routes:\n  - source: x\n    stages: [rules, teleport]\n", "unknown stage 'teleport'");
    expect_config_error("routes:\n  - source: x\n    stages: [{stage: rules, threshold: 1}]\n",
                        "stage rules has no setting 'threshold'");
    expect_config_error("routes:\n  - source: x\n    stages: [{stage: llm, labels: []}]\n",
                        "labels must be a non-empty list");
    expect_config_error("- just\n- a list\n", "must be a map");
    expect_config_error("routes: [\n", "");
    /* each message names the line of the offending value, in files whose
     * first lines are fine */
    expect_config_error("threshold: 0.5\nrules: ''\n", ":2: rules must be a path");
    expect_config_error("# model\nmodel: [a, b]\n", ":2: model must be a path");
    expect_config_error("threshold: 0.5\n\nroutes: {a: 1}\n", ":3: routes must be a list");
    expect_config_error("routes:\n  - source: x\n    stages: []\n",
                        ":2: route 'x' needs a stages list (one or more of rules, model, llm)");
    expect_config_error("routes:\n  - source: x\n    stages: rules\n", ":2: route 'x' needs a stages list");
    expect_config_error("routes:\n  - source: x\n    stages: [rules]\n    weight: 2\n",
                        ":4: route has no setting 'weight'");
    expect_config_error("routes:\n  - source: x\n    stages:\n      - rules\n      - model\n      - rules\n",
                        "route 'x' lists stage rules twice");
    expect_config_error("routes:\n  - source: x\n    stages:\n      - {stage: [1]}\n",
                        ":4: unknown stage '?' (known: rules, model, llm)");
    expect_config_error("routes:\n  - source: x\n    stages:\n      - stage: llm\n        labels: [A, '']\n",
                        ":5: each label must be a string");
    expect_config_error("routes:\n  - source: x\n    stages:\n      - stage: llm\n        labels: B\n",
                        ":5: labels must be a non-empty list");
    expect_config_error("routes:\n  - source: x\n    stages: [{stage: model, threshold: x}]\n",
                        "threshold must be a number");
    expect_config_error("routes:\n  - source: x\n    stages: [{stage: llm, threshold: 0.5}]\n",
                        ":3: stage llm has no setting 'threshold'");
    expect_config_error("threshold: 0.5\nthreshold: -1\n", ":2: threshold must be between 0 and 1");
    expect_config_error("llm: {}\nserver: {}\nrouting: []\n",
                        ":3: unknown setting 'routing' (known: rules, model, threshold, routes, llm, server, kafka)");
}

/* The YAML reader under every config file (src/core/ytree.c): what it
 * refuses, each with the name and line; numbers and booleans as settings
 * take them. */
static void expect_yaml_error(const char *text, const char *want) {
    lg_ynode *doc = NULL;
    lg_errmsg err = {{0}};
    lg_err e = lg_ytree_parse(text, strlen(text), "t.yaml", &doc, &err);
    if (e != LG_EPARSE || strcmp(err.msg, want) != 0)
        fail_msg("yaml '%s': got %d '%s', want '%s'", text, (int)e, err.msg, want);
    assert_null(doc);
}

static void test_yaml(void **state) {
    (void)state;
    expect_yaml_error("a: &x 1\nb: *x\n", "t.yaml:2: YAML aliases are not supported");
    expect_yaml_error("a: 1\n? [k]\n: 2\n", "t.yaml:2: map keys must be plain strings");
    expect_yaml_error("", "t.yaml: empty document");
    expect_yaml_error("a:\n  b: [1, 2\n", "t.yaml:3:1: did not find expected ',' or ']'");
    char deep[200];
    memset(deep, '[', 70);
    memset(deep + 70, ']', 70);
    deep[140] = '\0';
    expect_yaml_error(deep, "t.yaml:1: nesting too deep");
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    lg_ynode *doc = NULL;
    assert_int_equal(lg_ytree_parse(deep, strlen(deep), "t.yaml", &doc, NULL), LG_OK);
    lg_ytree_free(doc);

    const char *text = "n: 0.25\nbig: 1e999\nword: abc\nlist: [1]\nt: Yes\nf: OFF\nmaybe: sometimes\n";
    assert_int_equal(lg_ytree_parse(text, strlen(text), "t.yaml", &doc, NULL), LG_OK);
    double v = 0;
    lg_errmsg err;
    assert_int_equal(lg_ynumber(lg_ymap_get(doc, "n"), "n", &v, &err), LG_OK);
    assert_true(v == 0.25);
    assert_int_equal(lg_ynumber(lg_ymap_get(doc, "big"), "big", &v, &err), LG_EINVAL);
    assert_string_equal(err.msg, "line 2: big must be a number, got '1e999'");
    assert_int_equal(lg_ynumber(lg_ymap_get(doc, "word"), "word", &v, &err), LG_EINVAL);
    assert_string_equal(err.msg, "line 3: word must be a number, got 'abc'");
    assert_int_equal(lg_ynumber(lg_ymap_get(doc, "list"), "list", &v, &err), LG_EINVAL);
    assert_string_equal(err.msg, "line 4: list must be a number");
    assert_int_equal(lg_ynumber(lg_ymap_get(doc, "absent"), "absent", &v, &err), LG_EINVAL);
    assert_string_equal(err.msg, "line 0: absent must be a number");
    int b = -1;
    assert_int_equal(lg_ybool(lg_ymap_get(doc, "t"), "t", &b, &err), LG_OK);
    assert_int_equal(b, 1);
    assert_int_equal(lg_ybool(lg_ymap_get(doc, "f"), "f", &b, &err), LG_OK);
    assert_int_equal(b, 0);
    assert_int_equal(lg_ybool(lg_ymap_get(doc, "maybe"), "maybe", &b, &err), LG_EINVAL);
    assert_string_equal(err.msg, "line 7: maybe must be true or false");
    assert_int_equal(lg_ybool(lg_ymap_get(doc, "list"), "list", &b, &err), LG_EINVAL);
    assert_string_equal(err.msg, "line 4: list must be true or false");
    assert_null(lg_ymap_get(lg_ymap_get(doc, "n"), "x")); /* a scalar has no keys */
    assert_null(lg_yscalar(lg_ymap_get(doc, "list")));
    lg_ytree_free(doc);
}

static void test_missing_file(void **state) {
    (void)state;
    lg_config cfg;
    lg_errmsg err;
    assert_int_equal(lg_config_init(&cfg, NULL), LG_OK);
    assert_int_equal(lg_config_load("/nonexistent/logify.yaml", &cfg, &err), LG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/logify.yaml"));
    lg_config_free(&cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_is_the_prototype),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_star_listed_first),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_yaml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
