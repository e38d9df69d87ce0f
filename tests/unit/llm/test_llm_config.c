/* test_llm_config.c - the LLM client's settings (src/llm/llm.c, lg_llm_new):
 * the config file's `llm:` section, .env and the environment, in that
 * order of precedence; every numeric setting at both ends of its range and
 * one past, each refusal naming the file and line (or the variable); the
 * words constrain, json_mode, adaptive and allow_unclassified take; the
 * base URL's endpoint without credentials; an API key with control
 * characters refused and never echoed. No request is sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "llm/llm_int.h"
#include "logify/config.h"
#include "logify/llm.h"

static char dir[64];

static const char *const env_names[] = {
    "GROQ_API_KEY",          "LOGIFY_LLM_API_KEY",  "LOGIFY_LLM_BASE_URL", "LOGIFY_LLM_MODEL",
    "LOGIFY_LLM_BATCH",      "LOGIFY_LLM_CONCURRENCY", "LOGIFY_LLM_TIMEOUT", "LOGIFY_LLM_DEADLINE",
    "LOGIFY_LLM_RETRIES",    "LOGIFY_LLM_CACHE",    "LOGIFY_LLM_JSON_MODE", "LOGIFY_LLM_CONSTRAIN",
    "LOGIFY_LLM_ADAPTIVE"};

static void write_file(const char *name, const char *text) {
    FILE *f = fopen(name, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads the config text (file "c.yaml" in the test's directory) and makes
 * a client; msg gets the error with the file name as written. */
static lg_err make(const char *text, lg_llm **out, char *msg, size_t cap) {
    write_file("c.yaml", text);
    lg_config cfg;
    lg_errmsg err = {{0}};
    assert_int_equal(lg_config_init(&cfg, NULL), LG_OK);
    lg_err e = lg_config_load("c.yaml", &cfg, &err);
    if (e) fail_msg("config: %s", err.msg);
    *out = NULL;
    e = lg_llm_new(&cfg, out, &err);
    snprintf(msg, cap, "%s", e ? err.msg : "");
    lg_config_free(&cfg);
    return e;
}

static void expect_refused(const char *text, const char *want) {
    lg_llm *llm;
    char msg[512];
    lg_err e = make(text, &llm, msg, sizeof msg);
    if (e != LG_EINVAL || strcmp(msg, want) != 0)
        fail_msg("config\n%s\ngave %d '%s', want '%s'", text, (int)e, msg, want);
    assert_null(llm);
}

static int setup(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof env_names / sizeof *env_names; i++) unsetenv(env_names[i]);
    snprintf(dir, sizeof dir, "/tmp/logify_test_llm_config_XXXXXX");
    if (!mkdtemp(dir) || chdir(dir) != 0) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    unlink("c.yaml");
    unlink(".env");
    return chdir("/") == 0 && rmdir(dir) == 0 ? 0 : -1;
}

static void test_every_setting(void **state) {
    (void)state;
    lg_llm *llm;
    char msg[512];
    assert_int_equal(make("llm:\n  base_url: http://user:pw@127.0.0.1:9/v1//\n  api_key: k1\n  model: m\n"
                          "  cache: off\n  constrain: GRAMMAR\n  adaptive: no\n  allow_unclassified: false\n"
                          "  batch: 64\n  concurrency: 1\n  timeout: 0.01\n  connect_timeout: 600\n"
                          "  deadline: 86400\n  retries: 0\n  backoff: 600\n  max_backoff: 0\n"
                          "  max_retry_after: 3600\n  breaker_failures: 100000\n  breaker_cooldown: 0.01\n"
                          "  breaker_wait: 0\n  max_tokens: 1000000\n  max_message: 16\n"
                          "  labels: [Error, Security]\n  dotenv: off\n",
                          &llm, msg, sizeof msg),
                     LG_OK);
    assert_string_equal(llm->url, "http://user:pw@127.0.0.1:9/v1/chat/completions");
    assert_string_equal(llm->endpoint, "http://127.0.0.1:9"); /* no credentials in messages */
    assert_string_equal(lg_llm_endpoint(llm), "http://127.0.0.1:9");
    assert_string_equal(lg_llm_model(llm), "m");
    assert_string_equal(llm->auth_header, "Authorization: Bearer k1");
    assert_null(llm->cache);
    assert_int_equal(llm->constrain, LLM_CONSTRAIN_GRAMMAR);
    assert_int_equal(llm->adaptive, 0);
    assert_int_equal(llm->allow_unclassified, 0);
    assert_int_equal(llm->batch, 64);
    assert_int_equal(llm->concurrency, 1);
    assert_true(llm->timeout == 0.01 && llm->connect_timeout == 600 && llm->deadline == 86400);
    assert_int_equal(llm->max_retries, 0);
    assert_true(llm->backoff == 600 && llm->max_backoff == 0 && llm->max_retry_after == 3600);
    assert_int_equal(llm->breaker_failures, 100000);
    assert_true(llm->breaker_cooldown == 0.01 && llm->breaker_wait == 0);
    assert_int_equal(llm->max_tokens, 1000000);
    assert_int_equal(llm->max_message, 16);
    assert_int_equal(llm->n_default_labels, 2);
    assert_string_equal(llm->default_labels[1], "Security");
    assert_true(llm->window == 1.0); /* not adaptive: the concurrency */
    lg_llm_free(llm);

    /* a base URL that already ends in /chat/completions is kept; json_mode's words */
    assert_int_equal(make("llm:\n  base_url: https://h.example/x/chat/completions\n  json_mode: on\n"
                          "  cache: none\n  dotenv: false\n",
                          &llm, msg, sizeof msg),
                     LG_OK);
    assert_string_equal(llm->url, "https://h.example/x/chat/completions");
    assert_string_equal(llm->endpoint, "https://h.example");
    assert_null(llm->api_key);
    assert_int_equal(llm->constrain, LLM_CONSTRAIN_JSON);
    assert_true(llm->window == 2.0); /* adaptive: starts at 2 */
    lg_llm_free(llm);
    assert_int_equal(make("llm:\n  base_url: http://h\n  json_mode: off\n  cache: off\n  dotenv: no\n", &llm,
                          msg, sizeof msg),
                     LG_OK);
    assert_int_equal(llm->constrain, LLM_CONSTRAIN_NONE);
    assert_string_equal(llm->url, "http://h/chat/completions");
    lg_llm_free(llm);

    /* neither a key nor a base URL: not configured (not an error in the file) */
    assert_int_equal(make("llm:\n  model: m\n  dotenv: off\n", &llm, msg, sizeof msg), LG_ENOTFOUND);
    assert_string_equal(msg, LG_LLM_NOT_CONFIGURED);
}

static void test_refusals(void **state) {
    (void)state;
    static const struct {
        const char *name, *lo, *hi, *past;
    } nums[] = {{"batch", "1", "64", "65"},
                {"concurrency", "1", "64", "0"},
                {"timeout", "0.01", "3600", "3601"},
                {"connect_timeout", "0.01", "600", "0"},
                {"deadline", "0.05", "86400", "0.04"},
                {"retries", "0", "20", "21"},
                {"backoff", "0", "600", "-1"},
                {"max_backoff", "0", "3600", "3601"},
                {"max_retry_after", "0", "3600", "1e9"},
                {"breaker_failures", "1", "100000", "0"},
                {"breaker_cooldown", "0.01", "86400", "86401"},
                {"breaker_wait", "0", "86400", "x"},
                {"max_tokens", "0", "1e+06", "1000001"},
                {"max_message", "16", "1.04858e+06", "15"},
                {"cache_size", "0", "1e+08", "12 items"}};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        char text[200], want[300];
        snprintf(text, sizeof text, "threshold: 0.5\nllm:\n  base_url: http://h\n  %s: '%s'\n", nums[i].name,
                 nums[i].past);
        snprintf(want, sizeof want, "c.yaml:4: llm %s must be a number from %s to %s, not '%s'", nums[i].name,
                 nums[i].lo, nums[i].hi, nums[i].past);
        expect_refused(text, want);
    }
    expect_refused("llm:\n  constrain: on\n",
                   "c.yaml:2: llm constrain must be auto, schema, grammar, json or none");
    expect_refused("llm:\n  json_mode: schema\n", "c.yaml:2: llm json_mode must be auto, on or off");
    expect_refused("llm:\n  adaptive: sometimes\n", "c.yaml:2: llm adaptive must be on or off");
    expect_refused("llm:\n  allow_unclassified: 1\n", "c.yaml:2: llm allow_unclassified must be on or off");
    expect_refused("llm:\n  labels: []\n", "c.yaml:2: llm labels must be a non-empty list");
    expect_refused("llm:\n  labels: Error\n", "c.yaml:2: llm labels must be a non-empty list");
    expect_refused("llm:\n  labels: [Error, '']\n", "c.yaml:2: each llm label must be a string");
    expect_refused("llm:\n  model: [a, b]\n", "c.yaml:2: llm model must be a single value");
    expect_refused("llm:\n  dotenv: perhaps\n", "line 2: llm dotenv must be true or false");
    expect_refused("llm:\n  temperature: 0\n", "c.yaml:2: llm has no setting 'temperature' (see docs/llm.md)");
    expect_refused("llm: [base_url]\n", "c.yaml:1: llm must be a map of settings");
    expect_refused("llm:\n  base_url: ftp://h\n  dotenv: off\n", "llm base_url must start with http:// or https://");
    /* the key is refused without being echoed */
    expect_refused("llm:\n  api_key: \"sk-\\tsecret\"\n  dotenv: off\n", "llm api key holds control characters");
}

/* .env (python-dotenv's way: export, quotes, comments) under the real
 * environment, both over the config file; dotenv: off skips the file. */
static void test_env_and_dotenv(void **state) {
    (void)state;
    write_file(".env", "# settings\n  export LOGIFY_LLM_BATCH = \"7\"\nLOGIFY_LLM_MODEL=m1 # the model\n"
                       "LOGIFY_LLM_BASE_URL='http://dot.example'\nOTHER=1\nnot a setting\n");
    lg_llm *llm;
    char msg[512];
    const char *cfg = "llm:\n  base_url: http://file.example\n  batch: 3\n  model: m0\n  cache: off\n";
    assert_int_equal(make(cfg, &llm, msg, sizeof msg), LG_OK);
    assert_int_equal(llm->batch, 7);
    assert_string_equal(llm->model, "m1");
    assert_string_equal(llm->endpoint, "http://dot.example");
    lg_llm_free(llm);
    setenv("LOGIFY_LLM_BATCH", "9", 1);
    setenv("LOGIFY_LLM_ADAPTIVE", "off", 1);
    assert_int_equal(make(cfg, &llm, msg, sizeof msg), LG_OK);
    assert_int_equal(llm->batch, 9);
    assert_int_equal(llm->adaptive, 0);
    lg_llm_free(llm);
    unsetenv("LOGIFY_LLM_ADAPTIVE");
    setenv("LOGIFY_LLM_BATCH", "99", 1);
    expect_refused(cfg, "LOGIFY_LLM_BATCH: llm batch must be a number from 1 to 64, not '99'");
    unsetenv("LOGIFY_LLM_BATCH");
    write_file(".env", "LOGIFY_LLM_CONCURRENCY=0\n");
    expect_refused(cfg, ".env LOGIFY_LLM_CONCURRENCY: llm concurrency must be a number from 1 to 64, not '0'");
    assert_int_equal(make("llm:\n  base_url: http://file.example\n  cache: off\n  dotenv: off\n", &llm, msg,
                          sizeof msg),
                     LG_OK);
    assert_int_equal(llm->concurrency, 4); /* the default: .env not read */
    lg_llm_free(llm);
    setenv("LOGIFY_LLM_MODEL", "\xff\xfe", 1);
    expect_refused("llm:\n  base_url: http://h\n  cache: off\n  dotenv: off\n", "llm model must be UTF-8 text");
    unsetenv("LOGIFY_LLM_MODEL");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_setting),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_env_and_dotenv),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
