/* test_templates.c - the template miner (src/templates/): the
 * preprocessor's splitting and variable rules, mining and generalising,
 * stable ids, variable-length runs, one-word siblings, matching without
 * learning, parameters, the state file (round trip, damaged and foreign
 * files) and bad input (1 MB lines, binary bytes, empty lines, caps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/templates.h"
#include "tmpdir.h"

/* ---- Helpers ---------------------------------------------------------- */

/* "tok|VAR|..." : the tokens of line, variables in capitals as <tok>. */
static void check_tokens(const char *line, const char *want) {
    lg_tpl_tokens t = {0};
    assert_int_equal(lg_tpl_tokenize(line, strlen(line), 0, &t), LG_OK);
    lg_buf b;
    lg_buf_init(&b, 1 << 16);
    for (size_t i = 0; i < t.n; i++) {
        if (i) lg_buf_putc(&b, '|');
        if (t.tok[i].var) lg_buf_putc(&b, '<');
        lg_buf_append(&b, line + t.tok[i].off, t.tok[i].len);
        if (t.tok[i].var) lg_buf_putc(&b, '>');
    }
    if (strcmp(lg_buf_cstr(&b), want)) {
        print_error("line '%s'\n got  %s\n want %s\n", line, lg_buf_cstr(&b), want);
        fail();
    }
    lg_buf_free(&b);
    lg_tpl_tokens_free(&t);
}

static lg_tpl_miner *miner(void) {
    lg_tpl_miner *m = NULL;
    assert_int_equal(lg_tpl_miner_new(NULL, &m, NULL), LG_OK);
    return m;
}

static uint64_t add(lg_tpl_miner *m, const char *line) {
    lg_tpl_result r;
    assert_int_equal(lg_tpl_add(m, line, strlen(line), &r, NULL), LG_OK);
    return r.id;
}

static void check_text(const lg_tpl_miner *m, const char *line, const char *want) {
    lg_tpl_result r;
    assert_int_equal(lg_tpl_match(m, line, strlen(line), &r), LG_OK);
    lg_buf b;
    lg_buf_init(&b, 1 << 20);
    assert_int_equal(lg_tpl_text(m, r.index, &b), LG_OK);
    if (strcmp(lg_buf_cstr(&b), want)) {
        print_error("line '%s'\n got  %s\n want %s\n", line, lg_buf_cstr(&b), want);
        fail();
    }
    lg_buf_free(&b);
}

/* ---- The preprocessor ------------------------------------------------- */

static void test_tokens_split_fields_not_words(void **state) {
    (void)state;
    check_tokens("session opened for user=alice, uid=0 (took 12ms)",
                 "session|opened|for|user|alice|uid|<0>|took|<12ms>");
    check_tokens("Received block blk_-1608999687919862906 of size 91178 from /10.250.10.6",
                 "Received|block|<blk_-1608999687919862906>|of|size|<91178>|from|<10.250.10.6>");
    /* ':' after a key splits; inside a value it does not */
    check_tokens("port:22 at 10:20:30 via fe80::1", "port|<22>|at|<10:20:30>|via|<fe80::1>");
    check_tokens("GET http://example.com/a?b=1 -> C:\\Windows\\x.dll",
                 "GET|<http://example.com/a?b=1>|->|<C:\\Windows\\x.dll>");
    /* a single digit after a letter is a name; a run of digits is a value */
    check_tokens("jk2_init() ssh2 utf8 R02-M1 node-2 x86_64", "jk2_init|ssh2|utf8|<R02-M1>|<node-2>|<x86_64>");
    check_tokens("chrome.exe - www.google.com:443 java.io.IOException NameSystem.delete:",
                 "<chrome.exe>|-|<www.google.com>|<443>|java.io.IOException|NameSystem.delete");
    check_tokens("id 550e8400-e29b-41d4-a716-446655440000 hash deadbeefcafe mac 0x1F user a@b.org path /usr/lib",
                 "id|<550e8400-e29b-41d4-a716-446655440000>|hash|<deadbeefcafe>|mac|<0x1F>|user|<a@b.org>|path|</usr/lib>");
    check_tokens("[client 1.2.3.4] \"quoted words\"", "client|<1.2.3.4>|quoted|words");
    /* digits between the letters of a name that is not hex; a camelCase
     * method is not a file name; '#' separates fields */
    check_tokens("AirPort_Brcm43xx::syncPowerState IO80211AWDLPeerManager::setAwdlSuspendedMode() ab12cd",
                 "AirPort_Brcm43xx::syncPowerState|IO80211AWDLPeerManager::setAwdlSuspendedMode|<ab12cd>");
    check_tokens("workerEnv.init() ok app.log steps=1514038440000##6993##548365",
                 "workerEnv.init|ok|<app.log>|steps|<1514038440000>|<6993>|<548365>");
    check_tokens("", "");
    check_tokens("   \t  ", "");
}

static void test_tokens_capped(void **state) {
    (void)state;
    lg_buf b;
    lg_buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++) lg_buf_printf(&b, "w%c ", 'a' + i % 26);
    lg_tpl_tokens t = {0};
    assert_int_equal(lg_tpl_tokenize(b.data, b.len, 16, &t), LG_OK);
    assert_int_equal(t.n, 16);
    assert_true(t.tok[15].var); /* the rest of the line, one variable */
    assert_int_equal(t.tok[15].off + t.tok[15].len, b.len - 1);
    lg_tpl_tokens_free(&t);
    lg_buf_free(&b);
}

/* ---- Mining ----------------------------------------------------------- */

static void test_generalises_keeps_id(void **state) {
    (void)state;
    lg_tpl_miner *m = miner();
    uint64_t a = add(m, "Deleting block blk_1 file /data/a");
    check_text(m, "Deleting block blk_1 file /data/a", "Deleting block blk_<*> file <*>");
    uint64_t b = add(m, "Deleting block blk_2 file /data/b");
    assert_true(a == b);
    /* a word that differs on a young template becomes a variable; the id stays */
    uint64_t c = add(m, "Deleting block blk_3 path /data/c");
    assert_true(a == c);
    check_text(m, "Deleting block blk_9 file /x", "Deleting block blk_<*> <*> <*>");
    assert_int_equal(lg_tpl_count(m), 1);
    assert_int_equal(lg_tpl_lines(m, 0), 3);
    /* another miner fed the same first line gives the same id */
    lg_tpl_miner *m2 = miner();
    assert_true(add(m2, "Deleting block blk_77 file /data/z") == a);
    char hex[17];
    lg_tpl_format_id(a, hex);
    assert_int_equal(strlen(hex), 16);
    lg_tpl_miner_free(m2);
    lg_tpl_miner_free(m);
}

static void test_different_events_apart(void **state) {
    (void)state;
    lg_tpl_miner *m = miner();
    uint64_t acc = add(m, "Accepted password for root from 1.2.3.4 port 22 ssh2");
    uint64_t fail = add(m, "Failed password for root from 1.2.3.4 port 22 ssh2");
    uint64_t shorter = add(m, "Connection closed by 1.2.3.4");
    assert_true(acc != fail && acc != shorter && fail != shorter);
    assert_int_equal(lg_tpl_count(m), 3);
    lg_tpl_miner_free(m);
}

static void test_keys_skip_leading_variables(void **state) {
    (void)state;
    lg_tpl_miner *m = miner();
    /* a raw header (date, time, pid) before the words: the tree keys
     * INFO + Accepted / Failed, not the numbers */
    uint64_t a = add(m, "081109 203615 148 INFO Accepted password for root from 1.2.3.4 port 22 ssh2");
    uint64_t f = add(m, "081109 203616 149 INFO Failed password for root from 1.2.3.4 port 22 ssh2");
    uint64_t a2 = add(m, "081110 101010 150 INFO Accepted password for bob from 1.2.3.5 port 23 ssh2");
    assert_true(a != f && a == a2);
    check_text(m, "081111 101010 1 INFO Accepted password for x from 1.2.3.5 port 2 ssh2",
               "<*> <*> <*> INFO Accepted password for <*> from <*> port <*> ssh2");
    lg_tpl_miner_free(m);
}

static void test_variable_length_run(void **state) {
    (void)state;
    lg_tpl_miner *m = miner();
    const char *lines[] = {
        "Registered signal handlers for [TERM, HUP] ok", "Registered signal handlers for [INT, USR] ok",
        "Registered signal handlers for [TERM] ok",       "Registered signal handlers for [HUP] ok",
        "Registered signal handlers for [A, B, C] ok",    "Registered signal handlers for [D, E, F] ok",
    };
    uint64_t id = add(m, lines[0]);
    for (size_t i = 1; i < 6; i++) add(m, lines[i]);
    for (size_t i = 0; i < 6; i++) {
        lg_tpl_result r;
        assert_int_equal(lg_tpl_match(m, lines[i], strlen(lines[i]), &r), LG_OK);
        assert_true(r.id == id);
    }
    check_text(m, lines[4], "Registered signal handlers for [<*>] ok");
    /* a new length joins at once */
    lg_tpl_result r;
    const char *four = "Registered signal handlers for [W, X, Y, Z] ok";
    assert_int_equal(lg_tpl_add(m, four, strlen(four), &r, NULL), LG_OK);
    assert_true(r.id == id);
    assert_int_equal(r.is_new, 0);
    lg_tpl_miner_free(m);

    /* a list whose items hold a constant (`<ok>`): lines of 1, 2, 3 items
     * are one event, the list one <*> with its items' brackets */
    m = miner();
    const char *items[] = {
        "inconsistent nodesets node-31 0x1fffffffe <ok>",
        "inconsistent nodesets node-12 0x1fffffffe <ok> node-13 0x0fffffffe <ok>",
        "inconsistent nodesets node-40 0x1fffffffe <ok> node-41 0x0fffffffe <ok> node-7 0x1 <ok>",
        "inconsistent nodesets node-2 0x1ffffeffe <ok>",
        "inconsistent nodesets node-9 0x2fffffffe <ok> node-18 0x3fffffffe <ok>",
    };
    id = add(m, items[0]);
    for (size_t i = 1; i < 5; i++) assert_true(add(m, items[i]) == id);
    check_text(m, items[2], "inconsistent nodesets <*>");
    lg_tpl_miner_free(m);
    /* items of constants only are not a list of values */
    m = miner();
    id = add(m, "queue holds alpha ok beta and more");
    assert_true(add(m, "queue holds alpha ok alpha ok beta and more") != id);
    lg_tpl_miner_free(m);
}

/* A program name of several capitalised words where others have one
 * (`Google Chrome Helper[12]: ...` beside `sharingd[412]: ...`) is the
 * same event; words in lower case in place of a value are not. */
static void test_name_of_words(void **state) {
    (void)state;
    lg_tpl_miner *m = miner();
    const char *names[] = {"sharingd", "locationd", "bluetoothd", "cloudd"};
    uint64_t id = 0;
    for (int k = 0; k < 8; k++) {
        char line[160];
        snprintf(line, sizeof line, "%s[%d]: Failed to connect to 10.0.0.%d:443: Connection refused", names[k % 4],
                 400 + k, k);
        id = add(m, line);
    }
    assert_true(add(m, "Google Chrome Helper[991]: Failed to connect to 10.0.0.9:443: Connection refused") == id);
    /* up to 4 words (NAME_WORDS); 5 are another event */
    assert_true(add(m, "Google Chrome Helper Renderer[993]: Failed to connect to 10.0.0.9:443: Connection refused") == id);
    assert_true(add(m, "Google Chrome Helper Renderer Process[994]: Failed to connect to 10.0.0.9:443: Connection refused") != id);
    check_text(m, "Google Chrome Helper[2]: Failed to connect to 10.0.0.1:80: Connection refused",
               "<*>[<*>]: Failed to connect to <*>: Connection refused");
    lg_tpl_miner_free(m);
    /* a name in capitals (not a plain word) seen before the plain names
     * made that place a <*>: it joins their group then */
    m = miner();
    uint64_t qq = add(m, "QQ[77]: Failed to connect to 10.0.0.1:443: Connection refused");
    for (int k = 0; k < 8; k++) {
        char line[160];
        snprintf(line, sizeof line, "%s[%d]: Failed to connect to 10.0.0.%d:443: Connection refused", names[k % 4],
                 400 + k, k);
        id = add(m, line);
    }
    assert_true(qq == id); /* one group, the id of its oldest template */
    lg_tpl_result rq;
    assert_int_equal(lg_tpl_match(m, "QQ[78]: Failed to connect to 10.0.0.2:443: Connection refused", 61, &rq), LG_OK);
    assert_true(rq.id == id);
    check_text(m, "QQ[78]: Failed to connect to 10.0.0.2:443: Connection refused",
               "<*>[<*>]: Failed to connect to <*>: Connection refused");
    lg_tpl_miner_free(m);
    m = miner();
    for (int k = 0; k < 6; k++) {
        char line[160];
        snprintf(line, sizeof line, "Failed password for %s from 10.0.0.%d port %d ssh2", names[k % 4], k, 4000 + k);
        id = add(m, line);
    }
    assert_true(add(m, "Failed password for invalid user bob from 10.0.0.9 port 22 ssh2") != id);
    lg_tpl_miner_free(m);
}

static void test_one_word_siblings(void **state) {
    (void)state;
    lg_tpl_miner *m = miner();
    uint64_t t = 0, i = 0;
    for (int k = 0; k < 5; k++) {
        char line[128];
        snprintf(line, sizeof line, "PacketResponder %d for block blk_%d terminating", k, 100 + k);
        t = add(m, line);
    }
    for (int k = 0; k < 5; k++) {
        char line[128];
        snprintf(line, sizeof line, "PacketResponder %d for block blk_%d interrupted", k, 200 + k);
        i = add(m, line);
    }
    assert_true(t != i); /* a settled word that changes: another event */
    /* a word with many values is a variable: the siblings become one */
    const char *w[] = {"alpha", "bravo", "charlie", "delta", "echo"};
    uint64_t ids[5];
    lg_tpl_miner *v = miner();
    for (int k = 0; k < 4; k++) add(v, "session opened for user root now");
    for (int k = 0; k < 5; k++) {
        char line[128];
        snprintf(line, sizeof line, "session opened for user %s now", w[k]);
        ids[k] = add(v, line);
    }
    lg_tpl_result r;
    assert_int_equal(lg_tpl_match(v, "session opened for user root now", 32, &r), LG_OK);
    for (int k = 0; k < 5; k++) {
        char line[128];
        snprintf(line, sizeof line, "session opened for user %s now", w[k]);
        lg_tpl_result rk;
        assert_int_equal(lg_tpl_match(v, line, strlen(line), &rk), LG_OK);
        assert_true(rk.id == r.id);
    }
    assert_true(ids[4] == r.id);
    check_text(v, "session opened for user zulu now", "session opened for user <*> now");
    lg_tpl_miner_free(v);
    lg_tpl_miner_free(m);
}

/* A one-word event whose word came before the first had settled
 * (lg_tpl_split_words, docs/templates.md rule 7): the template turned the
 * word into <*>; at the end it is split per word, each line to its word's
 * template, when each word had 3+ lines and there are at most
 * word_variants words. */
static size_t text_of(const lg_tpl_miner *m, size_t index, lg_buf *b) {
    lg_buf_reset(b);
    assert_int_equal(lg_tpl_text(m, index, b), LG_OK);
    return index;
}

static void test_early_word_split(void **state) {
    (void)state;
    lg_tpl_miner *m = miner();
    lg_tpl_result r[10];
    for (int k = 0; k < 10; k++) {
        char line[128];
        snprintf(line, sizeof line, "PacketResponder %d for block blk_%d %s", k, 100 + k,
                 k % 2 ? "Interrupted." : "terminating");
        assert_int_equal(lg_tpl_add(m, line, strlen(line), &r[k], NULL), LG_OK);
        assert_true(r[k].id == r[0].id); /* while mining: one template, as Drain */
    }
    assert_int_equal(r[0].variant, -1); /* taken before the word changed */
    assert_int_equal(r[1].variant, 1);
    assert_int_equal(r[2].variant, 0);
    size_t n0 = lg_tpl_count(m);
    uint64_t id0 = r[0].id;
    assert_int_equal(lg_tpl_split_words(m), 1);
    assert_int_equal(lg_tpl_count(m), n0 + 1);
    lg_buf b;
    lg_buf_init(&b, 1 << 16);
    for (int k = 0; k < 10; k++) {
        size_t ix = lg_tpl_resolve(m, r[k].index, r[k].variant);
        text_of(m, ix, &b);
        assert_string_equal(lg_buf_cstr(&b), k % 2 ? "PacketResponder <*> for block blk_<*> Interrupted."
                                                   : "PacketResponder <*> for block blk_<*> terminating");
        assert_int_equal(lg_tpl_lines(m, ix), 5);
        if (k % 2 == 0) assert_true(lg_tpl_id(m, ix) == id0); /* the first word keeps the id */
        else assert_true(lg_tpl_id(m, ix) != id0);
    }
    /* later lines (a state file's next piece) go to their word's template */
    check_text(m, "PacketResponder 7 for block blk_9 Interrupted.", "PacketResponder <*> for block blk_<*> Interrupted.");
    check_text(m, "PacketResponder 7 for block blk_9 terminating", "PacketResponder <*> for block blk_<*> terminating");
    assert_int_equal(lg_tpl_split_words(m), 0); /* once */
    lg_tpl_miner_free(m);

    /* exactly 3 lines (WORD_EVIDENCE) of each word: split */
    m = miner();
    for (int k = 0; k < 6; k++) {
        char line[128];
        snprintf(line, sizeof line, "PacketResponder %d for block blk_%d %s", k, 100 + k,
                 k % 2 ? "Interrupted." : "terminating");
        add(m, line);
    }
    assert_int_equal(lg_tpl_split_words(m), 1);
    lg_tpl_miner_free(m);

    /* the same in a template of a group (a variable-length run joined
     * it): the group's text and id stand for all, no split */
    m = miner();
    uint64_t gid = 0;
    for (int k = 0; k < 6; k++) {
        char line[128];
        snprintf(line, sizeof line, "job %d done state %s", k, k % 2 ? "Interrupted" : "terminating");
        gid = add(m, line);
    }
    add(m, "job 7 8 done state terminating");
    assert_true(add(m, "job 9 10 done state Interrupted") == gid);
    assert_int_equal(lg_tpl_split_words(m), 0);
    check_text(m, "job 9 done state Interrupted", "job <*> done state <*>");
    lg_tpl_miner_free(m);

    /* two words on fewer than 3 lines each (sda/sdb): a variable, not split */
    m = miner();
    add(m, "disk full on sda at 91%");
    add(m, "disk full on sdb at 12%");
    add(m, "disk full on sda at 50%");
    add(m, "disk full on sdb at 7%");
    add(m, "disk full on sda at 3%");
    assert_int_equal(lg_tpl_split_words(m), 0);
    check_text(m, "disk full on sdc at 1%", "disk full on <*> at <*>");
    lg_tpl_miner_free(m);

    /* more words than word_variants (3), or a value that is not a plain
     * word there: a variable, not split */
    const char *many[] = {"alpha", "bravo", "charlie", "delta"};
    const char *mixed[] = {"alpha", "bravo", "x42", "alpha"};
    for (int c = 0; c < 2; c++) {
        m = miner();
        for (int k = 0; k < 16; k++) {
            char line[128];
            snprintf(line, sizeof line, "job queue moved to %s now", (c ? mixed : many)[k % 4]);
            add(m, line);
        }
        assert_int_equal(lg_tpl_split_words(m), 0);
        check_text(m, "job queue moved to alpha now", "job queue moved to <*> now");
        lg_tpl_miner_free(m);
    }
    lg_buf_free(&b);
}

/* A value whose numbers sit among words is shown with them (blk_<*>,
 * <*>ms, node-<*>, <*>_<*>) while every line has that shape there;
 * addresses, hex ids, UUIDs, paths and plain numbers are <*>. */
static void test_number_shapes(void **state) {
    (void)state;
    lg_tpl_miner *m = miner();
    add(m, "Expiring session 0x14ed93111f20014, timeout of 10000ms exceeded");
    add(m, "Expiring session 0x14ed93111f2002b, timeout of 4000ms exceeded");
    check_text(m, "Expiring session 0x1, timeout of 1ms exceeded", "Expiring session <*>, timeout of <*>ms exceeded");
    add(m, "Receiving block blk_-1608999687919862906 src: /10.250.10.6:50010 at node-31 in 123_456");
    check_text(m, "Receiving block blk_1 src: /10.0.0.1:1 at node-2 in 1_2",
               "Receiving block blk_<*> src: /<*> at node-<*> in <*>_<*>");
    add(m, "job 550e8400-e29b-41d4-a716-446655440000 wrote /var/log/x1 v6.1.7601 core.1234 took 12ms");
    check_text(m, "job 550e8400-e29b-41d4-a716-446655440000 wrote /var/log/x1 v6.1.7601 core.1234 took 12ms",
               "job <*> wrote <*> v<*> core.<*> took <*>ms");
    /* another unit at that place: <*> from then on, the id kept */
    uint64_t id = add(m, "job 550e8400-e29b-41d4-a716-446655440001 wrote /var/log/x2 v6.2 core.1 took 3s");
    check_text(m, "job 550e8400-e29b-41d4-a716-446655440000 wrote /var/log/x1 v6.1.7601 core.1234 took 12ms",
               "job <*> wrote <*> v<*> core.<*> took <*>");
    lg_errmsg err;
    assert_int_equal(lg_tpl_save(m, "shapes.jsonl", &err), LG_OK);
    lg_tpl_miner *b = NULL;
    assert_int_equal(lg_tpl_load("shapes.jsonl", &b, &err), LG_OK);
    check_text(b, "Receiving block blk_7 src: /10.0.0.2:2 at node-5 in 3_4",
               "Receiving block blk_<*> src: /<*> at node-<*> in <*>_<*>");
    assert_true(add(b, "job 1 wrote /x/y v1.1 core.2 took 5ms") == id);
    lg_tpl_miner_free(b);
    lg_tpl_miner_free(m);
}

/* A sibling started for one word joins the group when a later line turns
 * that word into <*> in the older template (the word was a variable). */
static void test_sibling_absorbed(void **state) {
    (void)state;
    lg_tpl_miner *m = miner();
    uint64_t t = 0;
    for (int k = 0; k < 3; k++) t = add(m, "worker pool task alpha finished red");
    uint64_t s = add(m, "worker pool task bravo finished red");
    assert_true(s != t); /* a settled word that changes: maybe another event */
    add(m, "worker pool task charlie finished blue");
    /* the sibling's line (template 1) now carries the older group's id */
    assert_int_equal(lg_tpl_count(m), 2);
    assert_true(lg_tpl_id(m, 1) == t);
    check_text(m, "worker pool task bravo finished red", "worker pool task <*> finished <*>");
    lg_tpl_miner_free(m);
}

/* A name in front is a tree key: every value has its own leaf. Three
 * templates equal but for one keyed word are one group; later names join
 * it, also after a state file; capitals (GET/POST/DELETE) and true/false
 * stay events of their own. */
static void test_keyed_siblings(void **state) {
    (void)state;
    const char *who[] = {"alice", "bob", "carol", "dave", "erin"};
    lg_tpl_miner *m = miner();
    uint64_t ids[5];
    char line[128];
    for (int k = 0; k < 3; k++) {
        snprintf(line, sizeof line, "(%s) CMD (run-parts /etc/cron.hourly)", who[k]);
        ids[k] = add(m, line);
    }
    lg_errmsg err;
    assert_int_equal(lg_tpl_save(m, "keyed.jsonl", &err), LG_OK);
    lg_tpl_miner *b = NULL;
    assert_int_equal(lg_tpl_load("keyed.jsonl", &b, &err), LG_OK);
    for (int k = 3; k < 5; k++) {
        snprintf(line, sizeof line, "(%s) CMD (run-parts /etc/cron.daily)", who[k]);
        ids[k] = add(m, line);
        assert_true(add(b, line) == ids[k]); /* the same after a state file */
    }
    for (int k = 0; k < 5; k++) { /* the first three as known now, the others when added */
        snprintf(line, sizeof line, "(%s) CMD (run-parts /etc/cron.hourly)", who[k]);
        lg_tpl_result r;
        assert_int_equal(lg_tpl_match(m, line, strlen(line), &r), LG_OK);
        assert_true(r.id == ids[0] && ids[k] == (k == 1 || k == 2 ? ids[k] : ids[0]));
    }
    check_text(m, "(dave) CMD (run-parts /x)", "(<*>) CMD (run-parts <*>)");
    assert_true(add(m, "(alice) CMD (run-parts /etc/cron.weekly)") == ids[0]);
    lg_tpl_miner_free(b);
    lg_tpl_miner_free(m);
    /* a template born under other keys (com.apple.cts is a variable, so
     * deny is keyed) that takes the older ones' lines: they join it */
    lg_tpl_miner *x = miner();
    add(x, "Sandbox: corecaptured(4116) deny(4) mach-lookup com.apple.nsurlsessiond");
    add(x, "Sandbox: QQ(4622) deny(7) mach-lookup com.apple.nsurlsessiond");
    add(x, "Sandbox: com.apple.cts(31770) deny(1) mach-lookup com.apple.nsurlsessiond");
    assert_int_equal(lg_tpl_count(x), 3);
    assert_true(lg_tpl_id(x, 1) == lg_tpl_id(x, 0) && lg_tpl_id(x, 2) == lg_tpl_id(x, 0));
    check_text(x, "Sandbox: corecaptured(1) deny(2) mach-lookup com.apple.nsurlsessiond",
               "Sandbox: <*>(<*>) deny(<*>) mach-lookup com.apple.nsurlsessiond");
    lg_tpl_miner_free(x);
    lg_tpl_miner *h = miner();
    uint64_t g = add(h, "10.0.0.1 \"GET /v2/servers HTTP/1.1\" status: 200 len: 1893 time: 0.24");
    uint64_t p = add(h, "10.0.0.2 \"POST /v2/servers HTTP/1.1\" status: 202 len: 733 time: 0.31");
    uint64_t d = add(h, "10.0.0.3 \"DELETE /v2/servers HTTP/1.1\" status: 204 len: 0 time: 0.12");
    assert_true(g != p && p != d && g != d);
    lg_tpl_miner_free(h);
    lg_tpl_miner *t = miner();
    for (int k = 0; k < 4; k++) g = add(t, "setGoalNotifiShow isShow = true");
    assert_true(add(t, "setGoalNotifiShow isShow = false") != g);
    lg_tpl_miner_free(t);
}

static void test_match_and_params(void **state) {
    (void)state;
    lg_tpl_miner *m = miner();
    add(m, "Received block blk_1 of size 10 from /1.2.3.4");
    add(m, "Received block blk_2 of size 20 from /1.2.3.5");
    lg_tpl_result r;
    const char *q = "Received block blk_3 of size 30 from /1.2.3.6";
    assert_int_equal(lg_tpl_match(m, q, strlen(q), &r), LG_OK);
    assert_int_equal(lg_tpl_lines(m, r.index), 2); /* matching does not learn */
    assert_int_equal(lg_tpl_match(m, "nothing like it", 15, &r), LG_ENOTFOUND);
    lg_buf b;
    lg_buf_init(&b, 1 << 16);
    assert_int_equal(lg_tpl_params_json(m, 0, q, strlen(q), &b), LG_OK);
    assert_string_equal(lg_buf_cstr(&b), "[\"blk_3\",\"30\",\"1.2.3.6\"]");
    lg_buf_free(&b);
    lg_tpl_miner_free(m);
}

static void test_bad_input(void **state) {
    (void)state;
    lg_tpl_miner *m = miner();
    size_t big = 1000 * 1000;
    char *line = malloc(big);
    assert_non_null(line);
    for (size_t i = 0; i < big; i++) line[i] = (char)("ab 1\t\xff\x00="[i % 9]);
    lg_tpl_result r;
    assert_int_equal(lg_tpl_add(m, line, big, &r, NULL), LG_OK);
    assert_int_equal(lg_tpl_add(m, line, big, &r, NULL), LG_OK);
    assert_int_equal(lg_tpl_lines(m, r.index), 2);
    assert_int_equal(lg_tpl_add(m, "", 0, &r, NULL), LG_OK);
    assert_int_equal(lg_tpl_add(m, NULL, 5, &r, NULL), LG_OK);
    assert_int_equal(lg_tpl_lines(m, r.index), 2); /* empty lines share one template */
    free(line);
    lg_tpl_miner_free(m);
    /* the template cap */
    lg_tpl_opts o = {0};
    o.max_templates = 2;
    lg_errmsg err;
    assert_int_equal(lg_tpl_miner_new(&o, &m, NULL), LG_OK);
    add(m, "one");
    add(m, "two words");
    assert_int_equal(lg_tpl_add(m, "three words here", 16, &r, &err), LG_ELIMIT);
    assert_non_null(strstr(err.msg, "max_templates"));
    lg_tpl_miner_free(m);
    o.max_templates = 0;
    o.sim = 2;
    assert_int_equal(lg_tpl_miner_new(&o, &m, NULL), LG_EINVAL);
}

/* The miner's boundaries: similarity exactly at the threshold matches;
 * on a tie the older template wins; a node's last child slot goes to <*>;
 * a run of exactly eight hex letters is an id. */
static lg_tpl_miner *miner_with(int depth, size_t max_children) {
    lg_tpl_opts o = {0};
    o.depth = depth;
    o.sim = 0.5;
    o.max_children = max_children;
    o.word_variants = 1;
    lg_tpl_miner *m = NULL;
    assert_int_equal(lg_tpl_miner_new(&o, &m, NULL), LG_OK);
    return m;
}

static long match_index(const lg_tpl_miner *m, const char *line) {
    lg_tpl_result r;
    lg_err e = lg_tpl_match(m, line, strlen(line), &r);
    return e == LG_ENOTFOUND ? -1 : (assert_int_equal(e, LG_OK), (long)r.index);
}

static void test_miner_boundaries(void **state) {
    (void)state;
    /* depth 0: every 4-token line meets every template of 4 tokens */
    lg_tpl_miner *m = miner_with(0, 100);
    add(m, "disk array degraded overnight");
    assert_int_equal(match_index(m, "disk array rebuilt today"), 0);     /* 2 of 4 = 0.5 */
    assert_int_equal(match_index(m, "disk cache rebuilt today"), -1);    /* 1 of 4 */
    add(m, "queue backlog cleared quickly");
    assert_int_equal(lg_tpl_count(m), 2);
    /* 2 of 4 like each: the older template */
    assert_int_equal(match_index(m, "disk array cleared quickly"), 0);
    lg_tpl_miner_free(m);

    /* depth 1, max_children 3: the third first word takes the last slot,
     * which is the <*> child, so a fourth one finds that template */
    m = miner_with(1, 3);
    add(m, "alpha started");
    add(m, "bravo started");
    assert_int_equal(match_index(m, "delta started"), -1);
    add(m, "charlie started");
    assert_int_equal(match_index(m, "delta started"), 2);
    lg_tpl_miner_free(m);

    check_tokens("id deadbeef ok", "id|<deadbeef>|ok");
    check_tokens("id deadbee ok", "id|deadbee|ok");
    check_tokens("id deadbeefcafe ok", "id|<deadbeefcafe>|ok");
    check_tokens("id deadbeeg ok", "id|deadbeeg|ok");
    /* the same inside a field (split at '=': the other path) */
    check_tokens("id=deadbeef", "id|<deadbeef>");
    check_tokens("id=deadbee", "id|deadbee");
}

/* ---- State ------------------------------------------------------------ */

static const char *state_lines[] = {
    "Received block blk_1 of size 10 from /1.2.3.4", "Fail to set alpha for app",
    "Fail to set alpha bravo for app",                "Fail to set charlie for app",
    "Fail to set delta echo for app",                 "binary \xff\xfe bytes 12",
    "Received block blk_2 of size 20 from /1.2.3.5",  "",
};

static void test_state_round_trip(void **state) {
    (void)state;
    lg_tpl_miner *a = miner(), *whole = miner();
    size_t n = sizeof state_lines / sizeof *state_lines, half = n / 2;
    uint64_t ids[16];
    for (size_t i = 0; i < n; i++) ids[i] = add(whole, state_lines[i]);
    for (size_t i = 0; i < half; i++) assert_true(add(a, state_lines[i]) == ids[i]);
    lg_errmsg err;
    assert_int_equal(lg_tpl_save(a, "st.jsonl", &err), LG_OK);
    lg_tpl_miner *b = NULL;
    assert_int_equal(lg_tpl_load("st.jsonl", &b, &err), LG_OK);
    assert_int_equal(lg_tpl_count(b), lg_tpl_count(a));
    for (size_t i = 0; i < lg_tpl_count(a); i++) {
        assert_true(lg_tpl_id(a, i) == lg_tpl_id(b, i));
        assert_true(lg_tpl_lines(a, i) == lg_tpl_lines(b, i));
    }
    /* going on from the saved state is the same as one run */
    for (size_t i = half; i < n; i++) assert_true(add(b, state_lines[i]) == ids[i]);
    lg_tpl_miner *none = (lg_tpl_miner *)1;
    assert_int_equal(lg_tpl_load("absent.jsonl", &none, &err), LG_ENOTFOUND);
    assert_null(none);
    lg_tpl_miner_free(a);
    lg_tpl_miner_free(b);
    lg_tpl_miner_free(whole);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void check_bad_state(const char *text, const char *want) {
    write_file("bad.jsonl", text);
    lg_tpl_miner *m = (lg_tpl_miner *)1;
    lg_errmsg err;
    assert_int_equal(lg_tpl_load("bad.jsonl", &m, &err), LG_EPARSE);
    assert_null(m);
    if (!strstr(err.msg, "bad.jsonl") || !strstr(err.msg, want)) {
        print_error("message '%s' lacks the file or '%s'\n", err.msg, want);
        fail();
    }
}

static void test_state_damaged(void **state) {
    (void)state;
    check_bad_state("", "empty file");
    check_bad_state("id,template\n1,x\n", "not a Logify template state");
    check_bad_state("{\"format\":\"drain3\"}\n", "not a Logify template state");
    check_bad_state("{\"format\":\"logify-templates\",\"version\":9}\n", "version 9");
    const char *head = "{\"format\":\"logify-templates\",\"version\":1,\"depth\":2,\"max_children\":100,"
                       "\"max_tokens\":256,\"word_variants\":3,\"templates\":1,\"sim\":0.5}\n";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", head);
    check_bad_state(buf, "the header says 1");
    snprintf(buf, sizeof buf,
             "%s{\"id\":\"00000000000000ab\",\"lines\":1,\"wild_path\":0,\"keys\":[0,1],\"root\":0,\"span\":[0,0],"
             "\"text\":\"a b\",\"tokens\":[[0,1,0],[2,9,0]]}\n",
             head);
    check_bad_state(buf, "outside the text");
    snprintf(buf, sizeof buf,
             "%s{\"id\":\"00000000000000ab\",\"lines\":1,\"wild_path\":0,\"keys\":[0,1],\"root\":0,\"span\":[0,0],"
             "\"text\":\"a b\",\"tokens\":[[0,1,0],[2,1,0]],\"template\":\"a c\"}\n",
             head);
    check_bad_state(buf, "does not match");
    snprintf(buf, sizeof buf, "%s{\"id\":\"00000000000000ab\",\"lines\":1,\"wild_path\":0,\"keys\":[0,1],\"root\":0,\"span\":[0,0],"
             "\"text\":\"a b\",\"tokens\":[[0,1,0],[2,1,0]]}\n{\"id\":", head);
    check_bad_state(buf, ":3:");

    /* each field of a template line damaged in turn (the rest valid) */
    static const struct {
        const char *from, *to, *want;
    } dmg[] = {
        {"\"00000000000000ab\"", "\"zz000000000000ab\"", "bad id"},
        {"\"00000000000000ab\"", "\"0000000000000000\"", "bad id"},
        {"\"00000000000000ab\"", "\"ab\"", "missing or has the wrong type"},
        {"\"lines\":1", "\"lines\":-1", "missing or has the wrong type"},
        {"\"wild_path\":0", "\"wild_path\":70000", "missing or has the wrong type"},
        {"\"root\":0", "\"root\":5", "missing or has the wrong type"},
        {"\"span\":[0,0]", "\"span\":[0]", "missing or has the wrong type"},
        {"\"text\":\"a b\"", "\"text_hex\":\"612\"", "bad text_hex"},
        {"\"text\":\"a b\"", "\"text_hex\":\"61zz62\"", "bad text_hex"},
        {"[[0,1,0],[2,1,0]]", "[[0,1],[2,1,0]]", "not [offset, length, wild]"},
        {"[[0,1,0],[2,1,0]]", "[[0,1,3],[2,1,0]]", "outside the text"},
        {"[[0,1,0],[2,1,0]]", "[[2,1,0],[0,1,0]]", "outside the text"},
        {"\"keys\":[0,1]", "\"keys\":[1,0]", "keys or wild_path do not fit"},
        {"\"keys\":[0,1]", "\"keys\":[0,1,1]", "keys or wild_path do not fit"},
        {"\"wild_path\":0", "\"wild_path\":4", "keys or wild_path do not fit"},
        {"\"span\":[0,0]", "\"span\":[0,1]", "span over constant tokens only"},
        {"\"span\":[0,0]", "\"span\":[1,5]", "bad span"},
    };
    const char *rec = "{\"id\":\"00000000000000ab\",\"lines\":1,\"wild_path\":0,\"keys\":[0,1],\"root\":0,"
                      "\"span\":[0,0],\"text\":\"a b\",\"tokens\":[[0,1,0],[2,1,0]]}";
    for (size_t i = 0; i < sizeof dmg / sizeof *dmg; i++) {
        const char *at = strstr(rec, dmg[i].from);
        assert_non_null(at);
        snprintf(buf, sizeof buf, "%s%.*s%s%s\n", head, (int)(at - rec), rec, dmg[i].to,
                 at + strlen(dmg[i].from));
        check_bad_state(buf, dmg[i].want);
    }
    /* the undamaged line loads (so each failure above is its field's) */
    snprintf(buf, sizeof buf, "%s%s\n", head, rec);
    write_file("good.jsonl", buf);
    lg_tpl_miner *m = NULL;
    lg_errmsg err;
    assert_int_equal(lg_tpl_load("good.jsonl", &m, &err), LG_OK);
    lg_tpl_miner_free(m);
    /* the same id twice */
    const char *head2 = "{\"format\":\"logify-templates\",\"version\":1,\"depth\":2,\"max_children\":100,"
                        "\"max_tokens\":256,\"word_variants\":3,\"templates\":2,\"sim\":0.5}\n";
    snprintf(buf, sizeof buf, "%s%s\n%s\n", head2, rec, rec);
    check_bad_state(buf, "an id appears twice");
    /* header fields out of range */
    static const char *const heads[] = {
        "{\"format\":\"logify-templates\",\"version\":1,\"depth\":2,\"max_children\":1,"
        "\"max_tokens\":256,\"word_variants\":3,\"templates\":0,\"sim\":0.5}\n",
        "{\"format\":\"logify-templates\",\"version\":1,\"depth\":2,\"max_children\":100,"
        "\"max_tokens\":256,\"word_variants\":0,\"templates\":0,\"sim\":0.5}\n",
        "{\"format\":\"logify-templates\",\"version\":1,\"depth\":2,\"max_children\":100,"
        "\"max_tokens\":256,\"word_variants\":3,\"templates\":-1,\"sim\":0.5}\n",
        "{\"format\":\"logify-templates\",\"version\":1,\"depth\":2,\"max_children\":100,"
        "\"max_tokens\":256,\"word_variants\":3,\"templates\":0,\"sim\":0}\n",
    };
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) check_bad_state(heads[i], "damaged template state header");
    check_bad_state("{\"format\":\"logify-templates\",\"version\":1,\"depth\":9,\"max_children\":100,"
                    "\"max_tokens\":256,\"word_variants\":3,\"templates\":0,\"sim\":0.5}\n",
                    "depth");
    check_bad_state("[1,2]\n", "not a JSON object");
}

static int setup(void **state) {
    (void)state;
    return tmpdir_enter("test_templates");
}

static int teardown(void **state) {
    (void)state;
    return tmpdir_leave();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_split_fields_not_words),
        cmocka_unit_test(test_tokens_capped),
        cmocka_unit_test(test_generalises_keeps_id),
        cmocka_unit_test(test_miner_boundaries),
        cmocka_unit_test(test_different_events_apart),
        cmocka_unit_test(test_keys_skip_leading_variables),
        cmocka_unit_test(test_variable_length_run),
        cmocka_unit_test(test_one_word_siblings),
        cmocka_unit_test(test_early_word_split),
        cmocka_unit_test(test_name_of_words),
        cmocka_unit_test(test_keyed_siblings),
        cmocka_unit_test(test_sibling_absorbed),
        cmocka_unit_test(test_number_shapes),
        cmocka_unit_test(test_match_and_params),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_state_damaged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
