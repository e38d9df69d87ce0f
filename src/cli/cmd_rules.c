/* cmd_rules.c - `logify rules check|test|default`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "logify/pipeline.h"
#include "logify/rules.h"

static const char usage_text[] =
    "usage: logify rules check FILE\n"
    "       logify rules test FILE MESSAGE [--source S]\n"
    "       logify rules default          print the built-in rules file\n"
    "FILE may be 'default' for the built-in rules.\n";

/* Loads FILE, or the built-in rules for "default". */
static lg_err load(const char *file, lg_buf *diag, lg_rules **out, lg_errmsg *err) {
    if (!strcmp(file, "default")) {
        size_t len;
        const char *text = lg_default_rules_text(&len);
        return lg_rules_parse(text, len, "built-in rules/default.yaml", diag, out, err);
    }
    return lg_rules_load(file, diag, out, err);
}

static int rules_check(const char *file) {
    lg_buf diag;
    lg_buf_init(&diag, 1 << 20);
    lg_rules *r = NULL;
    lg_errmsg err = {{0}};
    lg_err e = load(file, &diag, &r, &err);
    if (e) {
        fputs(lg_buf_cstr(&diag), stderr);
        fprintf(stderr, "logify: %s: rules do not compile\n", file);
        lg_buf_free(&diag);
        return CLI_FAIL;
    }
    size_t n = lg_rules_count(r), nf = lg_rules_fallback_count(r);
    printf("%s: %zu rules OK: %zu in one Vectorscan database, %zu on the PCRE2 fallback\n", file, n,
           n - nf, nf);
    for (size_t i = 0; i < n; i++) {
        const lg_rule *rule = lg_rules_get(r, i);
        if (rule->engine == LG_ENGINE_PCRE2)
            printf("  line %u: rule '%s' uses PCRE2: %s\n", rule->line, rule->id,
                   rule->fallback_reason ? rule->fallback_reason : "");
    }
    lg_rules_free(r);
    lg_buf_free(&diag);
    return CLI_OK;
}

static int rules_test(const char *file, const char *message, const char *source) {
    lg_rules *r = NULL;
    lg_errmsg err = {{0}};
    if (load(file, NULL, &r, &err)) return cli_error("%s", err.msg);
    lg_rules_scratch *s = NULL;
    size_t n = lg_rules_count(r);
    lg_rule_outcome *out = calloc(n ? n : 1, sizeof *out);
    int rc = CLI_FAIL;
    if (!out || lg_rules_scratch_new(r, &s, &err)) {
        cli_error("%s", out ? err.msg : "rules test: out of memory");
        goto done;
    }
    if (lg_rules_explain(r, s, source, message, strlen(message), out, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    long winner = lg_rules_match(r, s, source, message, strlen(message));
    if (winner >= 0) {
        const lg_rule *w = lg_rules_get(r, (size_t)winner);
        printf("match: rule '%s' (line %u) -> %s\n", w->id, w->line, w->label);
    } else {
        printf("no match: no rule decides this message; it goes on to the next stage\n");
    }
    for (size_t i = 0; i < n; i++) {
        const lg_rule *rule = lg_rules_get(r, i);
        const char *why;
        switch (out[i]) {
        case LG_RULE_MATCHED:
            why = (long)i == winner ? "MATCH (wins: first in file order)"
                                    : "matches too, but an earlier rule wins";
            break;
        case LG_RULE_OTHER_SOURCE: why = "skipped: the rule is for other sources"; break;
        case LG_RULE_BAD_UTF8: why = "skipped: the message is not valid UTF-8"; break;
        default: why = "pattern does not match"; break;
        }
        printf("  %-28s line %-4u %-10s %s\n", rule->id, rule->line,
               rule->engine == LG_ENGINE_PCRE2 ? "[pcre2]" : "", why);
    }
    rc = winner >= 0 ? CLI_OK : CLI_FAIL;
done:
    free(out);
    lg_rules_scratch_free(s);
    lg_rules_free(r);
    return rc;
}

int cmd_rules(int argc, char **argv) {
    if (argc < 2) return cli_usage_error(usage_text, "rules: expected check, test or default");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        fputs(usage_text, stdout);
        return CLI_OK;
    }
    if (!strcmp(sub, "default")) {
        size_t len;
        const char *text = lg_default_rules_text(&len);
        fwrite(text, 1, len, stdout);
        return CLI_OK;
    }
    if (!strcmp(sub, "check")) {
        if (argc != 3) return cli_usage_error(usage_text, "rules check: expected one FILE");
        return rules_check(argv[2]);
    }
    if (!strcmp(sub, "test")) {
        static const struct option longopts[] = {{"source", required_argument, 0, 's'}, {0, 0, 0, 0}};
        const char *source = NULL;
        int c;
        optind = 2;
        while ((c = getopt_long(argc, argv, "s:", longopts, NULL)) != -1) {
            if (c == 's') source = optarg;
            else return cli_usage_error(usage_text, "rules test: unknown option");
        }
        if (argc - optind != 2) return cli_usage_error(usage_text, "rules test: expected FILE MESSAGE");
        return rules_test(argv[optind], argv[optind + 1], source);
    }
    return cli_usage_error(usage_text, "rules: unknown subcommand '%s'", sub);
}
