/* test_templates_state.c - the edges of the template miner's --state file
 * that a one-character change in templates_state.c would move (issue 22's
 * mutations tstate-*): a template's root must be a group's first template,
 * the header's max_tokens is checked and a template may have exactly
 * max_tokens tokens, a token keyed as a constant must not be <*>, a
 * variable-length run may end at the last token, and a saved state gets
 * the permissions of an ordinary new file (0666 less the umask), not
 * mkstemp's 0600. Each case also loads the valid neighbour, so a refusal
 * is the damaged field's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "logify/templates.h"
#include "tmpdir.h"

/* A state header: depth 2, max_tokens as given, n templates. */
static void header(char *dst, size_t cap, int max_tokens, int n) {
    snprintf(dst, cap,
             "{\"format\":\"logify-templates\",\"version\":1,\"depth\":2,\"max_children\":100,"
             "\"max_tokens\":%d,\"word_variants\":3,\"templates\":%d,\"sim\":0.5}\n",
             max_tokens, n);
}

/* Appends one template line: id (1..), text, its keys, wild_path, root,
 * span and tokens (a JSON array). */
static void tpl_line(char *dst, size_t cap, int id, const char *text, const char *keys, int wild_path,
                     int root, const char *span, const char *tokens) {
    size_t used = strlen(dst);
    snprintf(dst + used, cap - used,
             "{\"id\":\"%016x\",\"lines\":1,\"wild_path\":%d,\"keys\":%s,\"root\":%d,\"span\":%s,"
             "\"text\":\"%s\",\"tokens\":%s}\n",
             id, wild_path, keys, root, span, text, tokens);
}

/* A whole state of one template (id 1, root 0) under a header with max_tokens. */
static void one_template(char *dst, size_t cap, int max_tokens, const char *text, const char *keys,
                         int wild_path, const char *span, const char *tokens) {
    header(dst, cap, max_tokens, 1);
    tpl_line(dst, cap, 1, text, keys, wild_path, 0, span, tokens);
}

/* Writes text to st.jsonl and loads it: the error (LG_OK and *out set, or
 * the code with the message in msg, which must name the file). */
static lg_err load_text(const char *text, lg_tpl_miner **out, char *msg, size_t cap) {
    FILE *f = fopen("st.jsonl", "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    lg_errmsg err;
    err.msg[0] = '\0';
    lg_err e = lg_tpl_load("st.jsonl", out, &err);
    snprintf(msg, cap, "%s", err.msg);
    if (e) {
        assert_null(*out);
        assert_non_null(strstr(msg, "st.jsonl"));
    }
    return e;
}

static void expect_refused(const char *text, const char *why) {
    lg_tpl_miner *m = NULL;
    char msg[512];
    lg_err e = load_text(text, &m, msg, sizeof msg);
    if (e != LG_EPARSE || !strstr(msg, why)) {
        print_error("want a refusal naming '%s', got %d '%s' for:\n%s", why, (int)e, msg, text);
        lg_tpl_miner_free(m);
        fail();
    }
}

static lg_tpl_miner *expect_loaded(const char *text) {
    lg_tpl_miner *m = NULL;
    char msg[512];
    if (load_text(text, &m, msg, sizeof msg) != LG_OK) {
        print_error("want the state loaded, got '%s' for:\n%s", msg, text);
        fail();
    }
    return m;
}

/* ---- Cases ------------------------------------------------------------ */

static void test_root_is_a_group_first(void **state) {
    (void)state;
    char buf[2048];
    /* 2 joins 1's group (root 0); 3 names 2, which is not a group's first */
    header(buf, sizeof buf, 256, 3);
    tpl_line(buf, sizeof buf, 1, "a b", "[0,1]", 0, 0, "[0,0]", "[[0,1,0],[2,1,0]]");
    tpl_line(buf, sizeof buf, 2, "c d", "[0,1]", 0, 0, "[0,0]", "[[0,1,0],[2,1,0]]");
    char good[2048];
    memcpy(good, buf, sizeof good);
    tpl_line(buf, sizeof buf, 3, "e f", "[0,1]", 0, 1, "[0,0]", "[[0,1,0],[2,1,0]]");
    expect_refused(buf, "root is not a group's first template");
    tpl_line(good, sizeof good, 3, "e f", "[0,1]", 0, 0, "[0,0]", "[[0,1,0],[2,1,0]]");
    lg_tpl_miner *m = expect_loaded(good);
    assert_int_equal(lg_tpl_count(m), 3);
    assert_int_equal(lg_tpl_group(m, 2), lg_tpl_group(m, 0));
    lg_tpl_miner_free(m);
}

static void test_token_cap(void **state) {
    (void)state;
    char buf[2048];
    /* max_tokens 0 is not "the default": a header the saver never writes */
    header(buf, sizeof buf, 0, 0);
    expect_refused(buf, "damaged template state header");
    /* exactly max_tokens tokens load; one more is refused */
    one_template(buf, sizeof buf, 2, "a b", "[0,1]", 0, "[0,0]", "[[0,1,0],[2,1,0]]");
    lg_tpl_miner_free(expect_loaded(buf));
    one_template(buf, sizeof buf, 2, "a b c", "[0,1]", 0, "[0,0]", "[[0,1,0],[2,1,0],[4,1,0]]");
    expect_refused(buf, "too many tokens");
}

static void test_keyed_tokens(void **state) {
    (void)state;
    char buf[2048];
    /* token 0 is <*>: keyed as <*> (wild_path bit 0) it loads, keyed as a
     * constant it is refused */
    for (int wp = 1; wp >= 0; wp--) {
        one_template(buf, sizeof buf, 256, "a b", "[0,1]", wp, "[0,0]", "[[0,1,1],[2,1,0]]");
        if (wp) lg_tpl_miner_free(expect_loaded(buf));
        else expect_refused(buf, "keys or wild_path do not fit");
    }
}

static void test_span_to_the_end(void **state) {
    (void)state;
    char buf[2048];
    /* a variable-length run over the last two tokens: one <*> */
    one_template(buf, sizeof buf, 256, "a b c", "[0]", 0, "[1,3]", "[[0,1,0],[2,1,1],[4,1,1]]");
    lg_tpl_miner *m = expect_loaded(buf);
    lg_buf b;
    lg_buf_init(&b, 1 << 16);
    assert_int_equal(lg_tpl_text(m, 0, &b), LG_OK);
    assert_string_equal(lg_buf_cstr(&b), "a <*>");
    lg_buf_free(&b);
    lg_tpl_miner_free(m);
    /* one past the last token */
    one_template(buf, sizeof buf, 256, "a b c", "[0]", 0, "[1,4]", "[[0,1,0],[2,1,1],[4,1,1]]");
    expect_refused(buf, "bad span");
}

static void test_saved_mode(void **state) {
    (void)state;
    lg_tpl_miner *m = NULL;
    assert_int_equal(lg_tpl_miner_new(NULL, &m, NULL), LG_OK);
    lg_tpl_result r;
    assert_int_equal(lg_tpl_add(m, "disk full on sda", 16, &r, NULL), LG_OK);
    static const mode_t masks[] = {022, 077, 002};
    for (size_t i = 0; i < sizeof masks / sizeof *masks; i++) {
        mode_t old = umask(masks[i]);
        lg_errmsg err;
        lg_err e = lg_tpl_save(m, "saved.jsonl", &err);
        umask(old);
        assert_int_equal(e, LG_OK);
        struct stat st;
        assert_int_equal(stat("saved.jsonl", &st), 0);
        if ((st.st_mode & 0777) != (0666 & ~masks[i])) {
            print_error("umask %03o: the state file has mode %03o, want %03o\n", (unsigned)masks[i],
                        (unsigned)(st.st_mode & 0777), (unsigned)(0666 & ~masks[i]));
            fail();
        }
    }
    lg_tpl_miner_free(m);
}

static int setup(void **state) {
    (void)state;
    return tmpdir_enter("test_templates_state");
}

static int teardown(void **state) {
    (void)state;
    return tmpdir_leave();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_is_a_group_first),
        cmocka_unit_test(test_token_cap),
        cmocka_unit_test(test_keyed_tokens),
        cmocka_unit_test(test_span_to_the_end),
        cmocka_unit_test(test_saved_mode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
