/* test_encoder.c - the encoder interface and the hash encoder:
 * normalisation and masking, hashing invariants (norm, distinct indices,
 * range), determinism, batch = one by one, specs and their errors,
 * densifying, odd bytes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/encoder.h"

static char *norm(const char *msg) {
    lg_buf b;
    lg_buf_init(&b, 1 << 16);
    assert_int_equal(lg_encoder_hash_normalise(msg, strlen(msg), &b, NULL), LG_OK);
    char *s = lg_strdup(lg_buf_cstr(&b));
    lg_buf_free(&b);
    return s;
}

static void expect_norm(const char *msg, const char *want) {
    char *got = norm(msg);
    if (strcmp(got, want))
        fail_msg("normalise(\"%s\")\n  got  \"%s\"\n  want \"%s\"", msg, got, want);
    free(got);
}

static void test_normalise(void **state) {
    (void)state;
    expect_norm("User User123 logged in.", "user user0 logged in");
    expect_norm("Backup started at 2025-05-14 07:06:55.",
                "backup started at <num> <num> <num> <num> <num> <num>");
    expect_norm("login from 192.168.80.114 detected", "login from <ip> detected");
    expect_norm("peer 10.0.0.1:8080 reset", "peer <ip> reset");
    expect_norm("[req-b9718cd8-f65e-49cc-8349-6cf7122af137 113d3a99c3da401fbd62cc2caa5b96d2]",
                "req <uuid> <hex>");
    expect_norm("id 0xDEADBEEF and deadbeef", "id <hex> and deadbeef");
    expect_norm("\"GET /v2/54fadb412c4e40cd/servers/detail HTTP/1.1\" status: 200 len: 1893 time: "
                "0.2675118",
                "get <path> http <num> status <num> len <num> time <num>");
    expect_norm("open C:\\Temp\\x.log failed, see http://host/a/b",
                "open <path> failed see http <path>");
    expect_norm("user 'alice' and \"bob\" can't", "user <q> and <q> can t");
    expect_norm("Disk usage at 95% on server 3", "disk usage at <num> on server <num>");
    expect_norm("ÉCHEC données", "\xc3\x89"
                                 "chec donn\xc3\xa9"
                                 "es"); /* non-ASCII bytes kept as they are */
    expect_norm("", "");
    expect_norm("  ...  ", "");
}

typedef struct {
    lg_encoder *enc;
    lg_encoder_scratch *s;
    lg_embeddings e;
} fixture;

static void fx_open(fixture *f, const char *spec) {
    lg_errmsg err;
    if (lg_encoder_new(spec, &f->enc, &err)) fail_msg("%s", err.msg);
    assert_int_equal(lg_encoder_scratch_new(f->enc, &f->s, &err), LG_OK);
    lg_embeddings_init(&f->e);
}

static void fx_close(fixture *f) {
    lg_embeddings_free(&f->e);
    lg_encoder_scratch_free(f->s);
    lg_encoder_free(f->enc);
}

static void encode(fixture *f, const char *const *msgs, size_t n) {
    size_t lens[64];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(msgs[i]);
    lg_errmsg err;
    if (lg_encoder_encode_batch(f->enc, f->s, msgs, lens, n, &f->e, &err)) fail_msg("%s", err.msg);
    assert_int_equal(f->e.n_rows, n);
}

/* rows i and j hold exactly the same (index, value) pairs */
static int same_row(const lg_embeddings *e, size_t i, size_t j) {
    size_t a = e->indptr[i], na = e->indptr[i + 1] - a, b = e->indptr[j], nb = e->indptr[j + 1] - b;
    if (na != nb) return 0;
    for (size_t p = 0; p < na; p++) {
        size_t q = 0;
        while (q < nb && e->indices[b + q] != e->indices[a + p])
            q++;
        if (q == nb || e->values[b + q] != e->values[a + p]) return 0;
    }
    return 1;
}

static void test_masks_make_rows_equal(void **state) {
    (void)state;
    fixture f;
    fx_open(&f, "hash:text=1");
    /* ids, addresses, paths and long numbers are the variable part of a
     * line: masked, the rows are equal; short numbers (codes), quoted
     * names and words with digits keep their own text beside the mask, so
     * lines that differ there stay apart */
    const char *m[] = {
        "User alice logged in from 10.0.0.1",
        "User alice logged in from 192.168.1.20:8080",
        "Deleted /var/log/a.txt now",
        "Deleted /etc/x now",
        "took 12345 ms, id 6cf7122af13799aa",
        "TOOK 99999.5 ms, ID 113d3a99c3da401f",
        "Disk failure on node 3",
        "Network failure on node 3",
        "exit code 13",
        "exit code 14",
        "Deleted file for 'alice'",
        "Deleted file for 'bob'",
        "User User123 logged in",
        "User User9 logged in",
    };
    encode(&f, m, 14);
    assert_true(same_row(&f.e, 0, 1));
    assert_true(same_row(&f.e, 2, 3));
    assert_true(same_row(&f.e, 4, 5));
    assert_false(same_row(&f.e, 6, 7));
    assert_false(same_row(&f.e, 8, 9));
    assert_false(same_row(&f.e, 10, 11));
    assert_false(same_row(&f.e, 12, 13));
    fx_close(&f);
    /* text=0 (plain "hash", what the clusterer uses): masked only */
    fx_open(&f, "hash");
    encode(&f, m, 14);
    assert_true(same_row(&f.e, 8, 9));
    assert_true(same_row(&f.e, 10, 11));
    assert_true(same_row(&f.e, 12, 13));
    fx_close(&f);
}

static void test_row_invariants(void **state) {
    (void)state;
    fixture f;
    fx_open(&f, "hash:dim=1024,seed=7");
    assert_int_equal(lg_encoder_dim(f.enc), 1024);
    assert_true(lg_encoder_is_sparse(f.enc));
    assert_string_equal(lg_encoder_name(f.enc), "hash");
    assert_string_equal(lg_encoder_spec(f.enc), "hash:dim=1024,seed=7");
    const char *m[] = {"Email service experiencing issues with sending", "", "a a a a a a a a",
                       "x"};
    encode(&f, m, 4);
    for (size_t i = 0; i < 4; i++) {
        double ss = 0;
        for (size_t q = f.e.indptr[i]; q < f.e.indptr[i + 1]; q++) {
            assert_true(f.e.indices[q] < 1024);
            assert_true(isfinite(f.e.values[q]) && f.e.values[q] > 0);
            for (size_t r = f.e.indptr[i]; r < q; r++)
                assert_int_not_equal(f.e.indices[r], f.e.indices[q]);
            ss += (double)f.e.values[q] * f.e.values[q];
        }
        if (i == 1)
            assert_int_equal(f.e.indptr[2] - f.e.indptr[1], 0); /* empty: zero row */
        else
            assert_true(fabs(ss - 1.0) < 1e-5);
    }
    /* sublinear tf: "a" repeated 8 times weighs 1 + ln 8 against its
     * bigram "a a" (7 times) 1 + ln 7, before the norm */
    fx_close(&f);
}

static void test_deterministic_and_batch_equals_single(void **state) {
    (void)state;
    fixture a, b;
    fx_open(&a, "hash");
    fx_open(&b, "hash");
    const char *m[] = {
        "nova.compute.claims [req-a07ac654-8e81-416d-bfbb-189116b07969] Total memory: 64172 MB",
        "Multiple bad login attempts detected on user 8538 account",
        "Shard 6 replication task ended in failure"};
    encode(&a, m, 3);
    for (size_t i = 0; i < 3; i++) {
        encode(&b, &m[i], 1);
        size_t n = a.e.indptr[i + 1] - a.e.indptr[i];
        assert_int_equal(b.e.indptr[1], n);
        assert_memory_equal(b.e.indices, a.e.indices + a.e.indptr[i], n * sizeof *b.e.indices);
        assert_memory_equal(b.e.values, a.e.values + a.e.indptr[i], n * sizeof *b.e.values);
    }
    assert_int_equal(lg_encoder_config_hash(a.enc), lg_encoder_config_hash(b.enc));
    fx_close(&a);
    fx_close(&b);
    /* another seed: another configuration */
    lg_encoder *c;
    assert_int_equal(lg_encoder_new("hash:seed=2", &c, NULL), LG_OK);
    lg_encoder *d;
    assert_int_equal(lg_encoder_new("hash", &d, NULL), LG_OK);
    assert_int_not_equal(lg_encoder_config_hash(c), lg_encoder_config_hash(d));
    assert_non_null(strstr(lg_encoder_config_json(d), "\"dim\": 32768"));
    lg_encoder_free(c);
    lg_encoder_free(d);
}

static void test_specs(void **state) {
    (void)state;
    lg_encoder *e = (lg_encoder *)1;
    lg_errmsg err;
    assert_int_equal(lg_encoder_new("nope", &e, &err), LG_EINVAL);
    assert_null(e);
    assert_non_null(strstr(err.msg, "unknown encoder spec 'nope'"));
    assert_int_equal(lg_encoder_new("hash:dim=1000", &e, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "power of two"));
    assert_int_equal(lg_encoder_new("hash:dim=", &e, &err), LG_EINVAL);
    assert_int_equal(lg_encoder_new("hash:colour=red", &e, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "colour"));
    assert_int_equal(lg_encoder_new("hash:seed=99999999999", &e, &err), LG_EINVAL);
    assert_int_equal(lg_encoder_new("sbert:", &e, &err), LG_EINVAL);
    lg_err r = lg_encoder_new("sbert:/nonexistent/model", &e, &err);
    assert_int_not_equal(r, LG_OK); /* unavailable, or the directory is missing */
    assert_null(e);
    assert_int_equal(lg_encoder_new(NULL, &e, &err), LG_OK); /* NULL = hash */
    assert_string_equal(lg_encoder_spec(e), "hash:dim=32768,seed=1");
    lg_encoder_free(e);
    lg_encoder_free(NULL);
    lg_encoder_scratch_free(NULL);
}

/* hdr=1: the header a logging framework writes before the message is
 * recognised by its shape (a date or time first, then ": ", "] ", " - ",
 * "|" or a level word) and hashed apart from the message */
static void expect_header(const char *line, const char *want_msg) {
    size_t h = lg_encoder_hash_header_len(line, strlen(line));
    const char *got = line + h;
    while (*got == ' ')
        got++;
    if (strcmp(got, want_msg))
        fail_msg("header of \"%s\"\n  message got  \"%s\"\n  message want \"%s\"", line, got,
                 want_msg);
}

static void expect_spec_error(const char *spec, const char *word) {
    lg_encoder *e;
    lg_errmsg err;
    assert_int_equal(lg_encoder_new(spec, &e, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, word));
}

static int row_has(const lg_embeddings *e, size_t i, uint32_t f) {
    for (size_t q = e->indptr[i]; q < e->indptr[i + 1]; q++)
        if (e->indices[q] == f) return 1;
    return 0;
}

static void test_header_apart(void **state) {
    (void)state;
    /* syslog, log4j, Hadoop (thread and class), Zookeeper, Android, Apache,
     * BGL and Windows (level word, no terminator), HealthApp, Proxifier,
     * OpenStack (a bracket holding " - ") */
    expect_header("Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root",
                  "Failed password for root");
    expect_header("081109 203615 148 INFO dfs.DataNode$PacketResponder: Received block b",
                  "Received block b");
    expect_header("2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: "
                  "Created MRAppMaster",
                  "Created MRAppMaster");
    expect_header("2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:"
                  "Learner@868] - Notification: 1 (n.leader)",
                  "- Notification: 1 (n.leader)");
    expect_header("03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs",
                  "printFreezingDisplayLogs");
    expect_header("[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
                  "mod_jk child workerEnv in error state 6");
    expect_header("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 "
                  "R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
                  "instruction cache parity error corrected");
    expect_header("2016-09-28 04:30:30, Info CBS Loaded Servicing Stack v6.1.7601.23505",
                  "CBS Loaded Servicing Stack v6.1.7601.23505");
    expect_header("20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
                  "onStandStepChanged 3579");
    expect_header("[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy",
                  "proxy.cse.cuhk.edu.hk:5070 open through proxy");
    expect_header("nova-api.log.1.2017-05-16_13:55:31 2017-05-16 00:00:00.008 25746 INFO "
                  "nova.osapi_compute.wsgi.server [req-38101a0b-2096-447d-96ea-a692162415ae - - - - -] "
                  "10.11.10.1 \"GET /v2/servers/detail HTTP/1.1\" status: 200",
                  "10.11.10.1 \"GET /v2/servers/detail HTTP/1.1\" status: 200");
    /* message bodies: no date or time in front, or one inside a path */
    expect_header("error: Received disconnect from 10.0.0.1: 13: Bye", "error: Received disconnect from 10.0.0.1: 13: Bye");
    expect_header("10.1.2.3 \"GET /openstack/2013-10-17/meta_data.json HTTP/1.1\" status: 200",
                  "10.1.2.3 \"GET /openstack/2013-10-17/meta_data.json HTTP/1.1\" status: 200");
    expect_header("334199 gige5 action 1135545366 error configured out",
                  "334199 gige5 action 1135545366 error configured out");
    expect_header("12:00:01", "12:00:01"); /* all header: none */
    expect_header("", "");

    /* a line with a header encodes as its message (positions counted from
     * the message's first word, no bigram across) plus the header's own
     * unigrams; a word of the header and the same word in the message do
     * not share a feature */
    fixture f;
    fx_open(&f, "hash:text=1,pos=3,hdr=1");
    assert_string_equal(lg_encoder_spec(f.enc), "hash:dim=32768,seed=1,text=1,pos=3,hdr=1");
    assert_non_null(strstr(lg_encoder_config_json(f.enc), "\"header_apart\": 0.30"));
    const char *m[] = {
        "Dec 10 06:55:46 an12 ntpd[4242]: link up on 10.0.0.1 for bob",
        "link up on 10.0.0.1 for bob",
        "Jan  2 11:00:01 an99 kernel: link up on 10.0.0.7 for bob",
        "ntpd",
    };
    encode(&f, m, 4);
    for (size_t q = f.e.indptr[1]; q < f.e.indptr[2]; q++) {
        assert_true(row_has(&f.e, 0, f.e.indices[q])); /* every message feature */
        assert_true(row_has(&f.e, 2, f.e.indices[q]));
    }
    assert_true(f.e.indptr[1] - f.e.indptr[0] > f.e.indptr[2] - f.e.indptr[1]); /* + header */
    size_t ntpd_in_msg = 0;                           /* "ntpd" as a message word */
    for (size_t q = f.e.indptr[3]; q < f.e.indptr[4]; q++)
        ntpd_in_msg += row_has(&f.e, 0, f.e.indices[q]);
    assert_int_equal(ntpd_in_msg, 0);
    /* odd lines: headers cut short, brackets never closed, all header */
    const char *odd[] = {"12:00:00 [[[[ x: y", "2015-01-01 INFO", "2015-01-01 INFO [a] |",
                         "Dec 1 00:00:00 ]]]] - - -", "01/02/03 a|b|c|d", "081109 203615"};
    encode(&f, odd, 6);
    for (size_t i = 0; i < 6; i++) {
        double ss = 0;
        for (size_t q = f.e.indptr[i]; q < f.e.indptr[i + 1]; q++)
            ss += (double)f.e.values[q] * f.e.values[q];
        assert_true(fabs(ss - 1.0) < 1e-5);
    }
    fx_close(&f);
    /* without hdr=1 the header's words are words like any other */
    fx_open(&f, "hash:text=1,pos=3");
    encode(&f, m, 4);
    size_t shared = 0;
    for (size_t q = f.e.indptr[1]; q < f.e.indptr[2]; q++)
        shared += row_has(&f.e, 0, f.e.indices[q]);
    assert_true(shared < f.e.indptr[2] - f.e.indptr[1]);
    ntpd_in_msg = 0;
    for (size_t q = f.e.indptr[3]; q < f.e.indptr[4]; q++)
        ntpd_in_msg += row_has(&f.e, 0, f.e.indices[q]);
    assert_true(ntpd_in_msg > 0);
    fx_close(&f);
    expect_spec_error("hash:hdr=2", "hdr");
}

/* hdr=1 at each edge of the header's shape: where a date may stand, which
 * level words count and how far after one a terminator may come, how
 * far into the line the header is looked for, a header word's weight */
static void test_header_boundaries(void **state) {
    (void)state;
    /* the date or time within the first 4 blank-separated fields */
    expect_header("a b c 12:00:00 host: disk gone", "disk gone");
    expect_header("a b d e 12:00:00 host: disk gone", "a b d e 12:00:00 host: disk gone");
    /* a date's two separators are the same */
    expect_header("2015-10-18 host: disk gone", "disk gone");
    expect_header("2015.10.18 host: disk gone", "disk gone");
    expect_header("2015-10.18 host: disk gone", "2015-10.18 host: disk gone");
    /* level words: 3 to 8 letters, upper case or capitalised */
    expect_header("2015-01-01 00:00:00 CRITICAL disk gone", "disk gone");
    expect_header("2015-01-01 00:00:00 Critical disk gone", "disk gone");
    expect_header("2015-01-01 00:00:00 info disk gone", "2015-01-01 00:00:00 info disk gone");
    /* after a level word the terminator comes within the next 2 fields */
    expect_header("2015-01-01 00:00:00 INFO a b: disk gone", "disk gone");
    expect_header("2015-01-01 00:00:00 INFO a b c: disk gone", "a b c: disk gone");
    /* only the first 192 bytes are looked at */
    char line[400], want[400];
    for (size_t at = 180; at <= 200; at += 20) { /* the ": " ends before byte 192, or after it */
        size_t n = (size_t)snprintf(line, sizeof line, "2015-01-01 00:00:00 ");
        while (n + 2 < at) line[n++] = 'a';
        snprintf(line + n, sizeof line - n, ": disk gone");
        snprintf(want, sizeof want, "%s", at < 192 ? "disk gone" : line);
        expect_header(line, want);
    }
    /* a header word weighs HDR_WEIGHT (0.3) of a message word of the same
     * count: the least of the header's features (a word once) is 0.3 of
     * the least of the message's in the same row */
    fixture f;
    fx_open(&f, "hash:text=1,pos=3,hdr=1");
    const char *m[] = {"Dec 10 06:55:46 an12 ntpd[4242]: link up on eth0 for bob", "link up on eth0 for bob"};
    encode(&f, m, 2);
    float hdr_min = 1e9f, msg_min = 1e9f;
    size_t n_hdr = 0;
    for (size_t q = f.e.indptr[0]; q < f.e.indptr[1]; q++) {
        float v = f.e.values[q];
        if (row_has(&f.e, 1, f.e.indices[q])) {
            if (v < msg_min) msg_min = v;
        } else {
            n_hdr++;
            if (v < hdr_min) hdr_min = v;
        }
    }
    assert_true(n_hdr >= 4);
    if (fabsf(hdr_min / msg_min - 0.3f) > 0.01f)
        fail_msg("least header feature %g against a message feature %g", hdr_min, msg_min);
    fx_close(&f);
}

/* hdr=1 on headers of real logs that test_header_apart's shapes miss:
 * HPC's date-less "LogId Node Component State Time Flag", Windows CBS.log's
 * padded level and component columns, a console appender's "[LEVEL]
 * [component]", HealthApp's unpadded hours; and the bodies next to them
 * that must keep no header */
static void test_header_dateless(void **state) {
    (void)state;
    expect_header("334199 gige5 action start 1074119817 1 clusterAddMember (command 1902)",
                  "clusterAddMember (command 1902)");
    expect_header("2 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: "
                  "Component \"alt0\" is in the unavailable state (HWID=1686)",
                  "Component State Change: Component \"alt0\" is in the unavailable state (HWID=1686)");
    expect_header("2016-09-28 04:30:30, Info                  CBS    SQM: Initializing online with "
                  "Windows opt-in: False",
                  "SQM: Initializing online with Windows opt-in: False");
    expect_header("2016-09-28 04:30:31, Info                  CSI    00000001@2016/9/27:20:30:31.455 "
                  "WcpInitialize (wcp.dll version 0.0.0.6) called",
                  "00000001@2016/9/27:20:30:31.455 WcpInitialize (wcp.dll version 0.0.0.6) called");
    expect_header("2016-09-28 04:30:31, Error                 CBS    Session: 30546174_3232063548 "
                  "initialized by client WindowsUpdateAgent.",
                  "Session: 30546174_3232063548 initialized by client WindowsUpdateAgent.");
    expect_header("[INFO] [executor.Executor] Running task 1.0 in stage 0.0",
                  "Running task 1.0 in stage 0.0");
    expect_header("[warn] disk almost full: 95%", "disk almost full: 95%");
    expect_header("20171224-0:5:3:606|Step_LSC|30002312|onStandStepChanged 3579",
                  "onStandStepChanged 3579");
    expect_header("20171223-22:5:3:606|Step_LSC|30002312|onStandStepChanged 3579",
                  "onStandStepChanged 3579"); /* a two-digit hour, minutes and seconds unpadded */
    /* the epoch time as the 3rd and as the 6th field (the first and last
     * it may be); a level padded to a column followed by a bracketed group:
     * the group ends the header, not its first word */
    expect_header("a b 1074119817 1 clusterAddMember", "clusterAddMember");
    expect_header("a b c d e 1074119817 1 clusterAddMember", "clusterAddMember");
    expect_header("a b c d e f 1074119817 1 clusterAddMember", "a b c d e f 1074119817 1 clusterAddMember");
    expect_header("2016-09-28 04:30:31, Info      [main thread] Starting x", "Starting x");
    /* bodies: an epoch time too early, without a flag after it or with a
     * long one; a level padded by 2 blanks (log4j's %-5p) is followed by
     * the message; a bracket that is no level word; a level alone */
    expect_header("x 1074119817 1 clusterAddMember", "x 1074119817 1 clusterAddMember");
    expect_header("334199 gige5 action 1135545366 error configured out",
                  "334199 gige5 action 1135545366 error configured out");
    expect_header("a b c 1074119817 100 done", "a b c 1074119817 100 done");
    expect_header("a b c 2074119817 1 done", "a b c 2074119817 1 done");
    expect_header("2015-01-01 00:00:00 INFO  Starting server on port 80",
                  "Starting server on port 80");
    expect_header("[main] Starting server", "[main] Starting server");
    expect_header("[INFO]", "[INFO]");
    /* cut short: a flag or a padded column that ends the line */
    expect_header("a b 1074119817 1", "a b 1074119817 1");
    expect_header("2015-01-01 00:00:00 Info      CBS", "CBS");
    expect_header("12345678-1 rows", "12345678-1 rows");
    expect_header("[instance: 28690085-5526-7a57-48c9-00fc98065696] vcpu limit: 298.9 GB",
                  "[instance: 28690085-5526-7a57-48c9-00fc98065696] vcpu limit: 298.9 GB");
}

/* path=1: a masked path adds one feature, its shape (digit runs folded,
 * long parts with digits as one '#'): two templates whose only difference
 * is a constant path stay apart, a path's ids and numbers do not count */
static void test_path_shape(void **state) {
    (void)state;
    const char *m[] = {
        "10.0.0.1 \"GET /openstack/2013-10-17/meta_data.json HTTP/1.1\" status: 200",
        "10.0.0.2 \"GET /v2/6047db41ac994e79/servers/detail HTTP/1.1\" status: 200",
        "10.0.0.3 \"GET /v2/113d3a99c3da401f/servers/detail HTTP/1.1\" status: 200",
        "10.0.0.4 \"GET /openstack/2017-01-02/meta_data.json HTTP/1.1\" status: 200",
        "wrote /data/part-00012",
        "wrote /data/part-00999",
        "wrote /DATA/Part-7",
        "GET /v2/6047db41/servers",  /* a part of exactly 8 bytes, hex and a digit: an id */
        "GET /v2/113d3a99/servers",
        "GET /v2/deadbeef/servers",  /* hex letters only: a word */
        "GET /v2/cafebabe/servers",
    };
    fixture f;
    fx_open(&f, "hash:text=1,pos=3,hdr=1,path=1");
    assert_string_equal(lg_encoder_spec(f.enc), "hash:dim=32768,seed=1,text=1,pos=3,hdr=1,path=1");
    assert_non_null(strstr(lg_encoder_config_json(f.enc), "\"path_shape\": true"));
    encode(&f, m, 11);
    assert_false(same_row(&f.e, 0, 1)); /* two constant paths */
    assert_true(same_row(&f.e, 1, 2));  /* the same path, another id */
    assert_true(same_row(&f.e, 0, 3));  /* another date */
    assert_true(same_row(&f.e, 4, 5));
    assert_true(same_row(&f.e, 4, 6)); /* case and digit runs fold */
    assert_true(same_row(&f.e, 7, 8));
    assert_false(same_row(&f.e, 9, 10));
    fx_close(&f);
    fx_open(&f, "hash:text=1,pos=3,hdr=1"); /* without it: masked only */
    encode(&f, m, 7);
    assert_true(same_row(&f.e, 0, 1));
    fx_close(&f);
    expect_spec_error("hash:path=3", "path");
}

static void test_odd_bytes_and_long_messages(void **state) {
    (void)state;
    fixture f;
    fx_open(&f, "hash");
    size_t big = 100000;
    char *longmsg = malloc(big);
    for (size_t i = 0; i < big; i++)
        longmsg[i] = (char)("ab 1/'\"x.:\\\xff\x80"[i % 14]);
    const char bin[] = {'o', 'k', '\0', '\xff', '\xfe', 'z', '\'', '/'};
    const char *m[] = {longmsg, bin, "'", "/", "\"unterminated", "0x", "1.2.3.4.5", "C:"};
    size_t lens[] = {big, sizeof bin, 1, 1, 13, 2, 9, 2};
    lg_errmsg err;
    if (lg_encoder_encode_batch(f.enc, f.s, m, lens, 8, &f.e, &err)) fail_msg("%s", err.msg);
    assert_int_equal(f.e.n_rows, 8);
    assert_true(f.e.indptr[1] > 0);
    free(longmsg);
    /* n == 0 */
    assert_int_equal(lg_encoder_encode_batch(f.enc, f.s, NULL, NULL, 0, &f.e, &err), LG_OK);
    assert_int_equal(f.e.n_rows, 0);
    fx_close(&f);
}

static void test_densify(void **state) {
    (void)state;
    fixture f;
    fx_open(&f, "hash:dim=256");
    const char *m[] = {"Server 4 restarted without warning",
                       "Email server encountered a sending fault"};
    encode(&f, m, 2);
    float *dense = calloc(2 * 256, sizeof *dense);
    lg_embeddings_to_dense(&f.e, dense);
    for (size_t i = 0; i < 2; i++) {
        double ss = 0;
        for (size_t j = 0; j < 256; j++)
            ss += (double)dense[i * 256 + j] * dense[i * 256 + j];
        assert_true(fabs(ss - 1.0) < 1e-5);
        for (size_t q = f.e.indptr[i]; q < f.e.indptr[i + 1]; q++)
            assert_true(dense[i * 256 + f.e.indices[q]] == f.e.values[q]);
    }
    float *dense2 = calloc(2 * 256, sizeof *dense2);
    size_t lens[] = {strlen(m[0]), strlen(m[1])};
    assert_int_equal(lg_encoder_encode_dense(f.enc, f.s, m, lens, 2, dense2, NULL), LG_OK);
    assert_memory_equal(dense, dense2, 2 * 256 * sizeof *dense);
    free(dense);
    free(dense2);
    fx_close(&f);
}

static void test_embeddings_cap(void **state) {
    (void)state;
    lg_embeddings e;
    lg_embeddings_init(&e);
    lg_errmsg err;
    assert_int_equal(lg_embeddings_reserve_dense(&e, (size_t)1 << 40, 384, &err), LG_ELIMIT);
    assert_int_equal(lg_embeddings_reserve_sparse(&e, 4, 16, (size_t)1 << 40, &err), LG_ELIMIT);
    assert_int_equal(lg_embeddings_reserve_dense(&e, 3, 4, &err), LG_OK);
    assert_int_equal(lg_embeddings_nnz(&e), 12);
    lg_embeddings_free(&e);
    lg_embeddings_free(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalise),
        cmocka_unit_test(test_masks_make_rows_equal),
        cmocka_unit_test(test_row_invariants),
        cmocka_unit_test(test_deterministic_and_batch_equals_single),
        cmocka_unit_test(test_specs),
        cmocka_unit_test(test_header_apart),
        cmocka_unit_test(test_header_boundaries),
        cmocka_unit_test(test_header_dateless),
        cmocka_unit_test(test_path_shape),
        cmocka_unit_test(test_odd_bytes_and_long_messages),
        cmocka_unit_test(test_densify),
        cmocka_unit_test(test_embeddings_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
