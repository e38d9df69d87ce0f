/* cmd_serve.c - `logify serve`: load the pipeline set, serve it over HTTP
 * (docs/server.md) until SIGTERM/SIGINT, then drain and exit 0. SIGHUP
 * reloads the set from the same files and options (docs/reload.md).
 *
 * Signals reach the main thread through a self-pipe, not sigwait: threads
 * we do not start (OpenBLAS makes its pool when the library loads, before
 * main) do not block them, so a signal sent while the main thread is busy
 * (a reload, a drain) would go to one of those and kill the process by its
 * default action. A handler that writes the signal's number into a pipe
 * runs on whichever thread gets it; the main thread reads the pipe. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_signals.h"
#include "logify/cluster.h"
#include "logify/pipeline.h"
#include "logify/server.h"

static const char usage_text[] =
    "usage: logify serve [options]\n"
    "      --host ADDR        address to bind (default 127.0.0.1)\n"
    "      --port N           port (default 8000; 0 = any free port)\n"
    "      --config FILE      configuration file (routes, rules, model, llm)\n"
    "      --rules FILE       rules file (default: the built-in rules)\n"
    "      --model DIR        model bundle (default: models/default)\n"
    "      --route SRC=STAGES route rows of source SRC (or *) through STAGES\n"
    "      --threshold X      default model threshold (default 0.5)\n"
    "      --http-mode M      thread-per-connection (default), poll or epoll\n"
    "      --threads N        poll/epoll modes: threads, each with its own loop (default 2)\n"
    "      --quantize Q       int8 or none (default): a bundle's sbert encoder runs its\n"
    "                         projections in int8 (docs/bert.md, \"int8\")\n"
    "      --max-upload SIZE  request body cap, e.g. 100M (default 100M): 413 beyond\n"
    "      --hold SIZE        answers up to SIZE wait for the end of the request body;\n"
    "                         longer ones go out while it is read (default 4M)\n"
    "      --max-rows N       rows per request (default 1000000): 413 beyond\n"
    "      --max-inflight N   classify requests at once (default 64): 503 beyond\n"
    "      --max-connections N open connections (default 1024)\n"
    "      --timeout S        idle seconds before a connection is closed (default 30)\n"
    "      --head-timeout S   seconds for a request's complete head, however slowly it\n"
    "                         trickles in (default 10): the connection is shut after\n"
    "      --max-per-ip N     open connections per client address (default 64)\n"
    "      --grace S          on SIGTERM, seconds to let requests finish (default 30);\n"
    "                         requests still running then are cut off: exit status 3\n"
    "      --api-key KEY      require 'Authorization: Bearer KEY' (also LOGIFY_API_KEY);\n"
    "                         /healthz, the /docs page and the console (GET /: they ask\n"
    "                         for the key) stay open; unknown paths answer 401 too; an\n"
    "                         empty key is refused\n"
    "      --open-admin       without an API key, let POST /admin/reload answer anyway\n"
    "                         (by default it answers 403 when no key is set)\n"
    "      --docs-assets DIR  swagger-ui-dist directory for /docs (default: web/docs)\n"
    "      --quiet            no access log (errors are still logged)\n"
    "      --templates        CSV upload answers carry each line's template_id too\n"
    "                         (JSON answers always do; docs/templates.md)\n"
    "SIGHUP (or POST /admin/reload) reloads the rules, model, routes and LLM settings\n"
    "from the same files and options; a set that does not load is refused and the\n"
    "old one stays (docs/reload.md).\n";

/* The console's cluster job (POST /v1/jobs/cluster, docs/console.md):
 * `logify cluster`'s defaults on the posted rows, answered as JSON. */
static lg_err serve_cluster(void *user, const char *csv, size_t len, lg_server_progress_fn progress,
                            void *puser, lg_buf *out, lg_errmsg *err) {
    (void)user;
    lg_cluster_report_opts o;
    lg_cluster_report_opts_default(&o);
    return lg_cluster_report(csv, len, &o, progress, puser, out, err);
}

int cmd_serve(int argc, char **argv) {
    enum { O_HOST = 256, O_PORT, O_THREADS, O_MODE,
           O_MAXUP, O_HOLD, O_MAXROWS, O_INFLIGHT, O_CONNS, O_TIMEOUT, O_GRACE, O_KEY, O_DOCS, O_QUIET,
           O_HEAD, O_PERIP, O_TEMPLATES, O_OPEN_ADMIN };
    static const struct option longopts[] = {
        {"host", required_argument, 0, O_HOST}, {"port", required_argument, 0, O_PORT},
        CLI_OPT_CONFIG, CLI_OPT_RULES,
        CLI_OPT_MODEL, CLI_OPT_ROUTE,
        CLI_OPT_THRESHOLD, {"threads", required_argument, 0, O_THREADS},
        {"http-mode", required_argument, 0, O_MODE}, {"max-upload", required_argument, 0, O_MAXUP},
        {"max-rows", required_argument, 0, O_MAXROWS}, {"hold", required_argument, 0, O_HOLD},
        {"max-inflight", required_argument, 0, O_INFLIGHT},
        {"max-connections", required_argument, 0, O_CONNS},
        {"timeout", required_argument, 0, O_TIMEOUT}, {"grace", required_argument, 0, O_GRACE},
        {"api-key", required_argument, 0, O_KEY}, {"docs-assets", required_argument, 0, O_DOCS},
        {"head-timeout", required_argument, 0, O_HEAD}, {"max-per-ip", required_argument, 0, O_PERIP},
        {"quiet", no_argument, 0, O_QUIET}, {"templates", no_argument, 0, O_TEMPLATES},
        {"open-admin", no_argument, 0, O_OPEN_ADMIN}, CLI_OPT_QUANTIZE,
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    cli_pipeline_opts po = {0};
    po.threshold = -1;
    lg_server_opts so = {0};
    so.port = 8000;
    so.access_log = 1;
    double grace = 30;
    int c;
    long v;
    unsigned given = 0; /* flags that win over the config file's server: section */
    enum { G_HOST = 1, G_PORT = 2, G_THREADS = 4, G_MODE = 8, G_MAXUP = 16, G_MAXROWS = 32,
           G_INFLIGHT = 64, G_CONNS = 128, G_TIMEOUT = 256, G_GRACE = 512, G_QUIET = 1024, G_HOLD = 2048,
           G_HEAD = 4096, G_PERIP = 8192 };
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_HOST: so.host = optarg; given |= G_HOST; break;
        case O_PORT:
            if (cli_parse_long(optarg, 0, 65535, &v)) return cli_usage_error(usage_text, "serve: --port must be 0..65535");
            so.port = (uint16_t)v;
            given |= G_PORT;
            break;
        CLI_PIPELINE_CASES:
            if (cli_pipeline_option(c, optarg, &po, "serve", usage_text)) return CLI_USAGE;
            break;
        case O_THREADS:
            if (cli_parse_long(optarg, 1, 256, &v)) return cli_usage_error(usage_text, "serve: --threads must be 1..256");
            so.threads = (unsigned)v;
            given |= G_THREADS;
            break;
        case O_MODE:
            if (!strcmp(optarg, "poll")) so.mode = LG_HTTP_POLL_POOL;
            else if (!strcmp(optarg, "epoll")) so.mode = LG_HTTP_EPOLL_POOL;
            else if (!strcmp(optarg, "thread-per-connection")) so.mode = LG_HTTP_THREAD_PER_CONN;
            else return cli_usage_error(usage_text, "serve: --http-mode must be poll, epoll or thread-per-connection");
            given |= G_MODE;
            break;
        case O_MAXUP:
            if (lg_parse_size(optarg, &so.max_upload))
                return cli_usage_error(usage_text, "serve: --max-upload must be a size such as 100M");
            given |= G_MAXUP;
            break;
        case O_HOLD:
            if (lg_parse_size(optarg, &so.hold))
                return cli_usage_error(usage_text, "serve: --hold must be a size such as 4M");
            given |= G_HOLD;
            break;
        case O_MAXROWS:
            if (cli_parse_long(optarg, 1, 1L << 40, &v)) return cli_usage_error(usage_text, "serve: --max-rows must be >= 1");
            so.max_rows = (uint64_t)v;
            given |= G_MAXROWS;
            break;
        case O_INFLIGHT:
            if (cli_parse_long(optarg, 1, 100000, &v)) return cli_usage_error(usage_text, "serve: --max-inflight must be >= 1");
            so.max_inflight = (unsigned)v;
            given |= G_INFLIGHT;
            break;
        case O_CONNS:
            if (cli_parse_long(optarg, 1, 1000000, &v)) return cli_usage_error(usage_text, "serve: --max-connections must be >= 1");
            so.max_connections = (unsigned)v;
            given |= G_CONNS;
            break;
        case O_TIMEOUT:
            if (cli_parse_long(optarg, 1, 86400, &v)) return cli_usage_error(usage_text, "serve: --timeout must be 1..86400");
            so.timeout_s = (unsigned)v;
            given |= G_TIMEOUT;
            break;
        case O_HEAD:
            if (cli_parse_long(optarg, 1, 86400, &v)) return cli_usage_error(usage_text, "serve: --head-timeout must be 1..86400");
            so.head_timeout_s = (unsigned)v;
            given |= G_HEAD;
            break;
        case O_PERIP:
            if (cli_parse_long(optarg, 1, 1000000, &v)) return cli_usage_error(usage_text, "serve: --max-per-ip must be >= 1");
            so.max_per_ip = (unsigned)v;
            given |= G_PERIP;
            break;
        case O_GRACE:
            if (cli_parse_double(optarg, &grace) || grace < 0 || grace > 86400)
                return cli_usage_error(usage_text, "serve: --grace must be 0..86400 seconds");
            given |= G_GRACE;
            break;
        case O_KEY: so.api_key = optarg; break;
        case O_DOCS: so.docs_assets = optarg; break;
        case O_QUIET: so.access_log = 0; given |= G_QUIET; break;
        case O_TEMPLATES: so.template_ids = 1; break;
        case O_OPEN_ADMIN: so.admin_open = 1; break;
        case CLI_O_QUANTIZE:
            if (cli_quantize_option(optarg, "serve", usage_text)) return CLI_USAGE;
            break;
        case 'h': fputs(usage_text, stdout); return CLI_OK;
        default: return cli_usage_error(usage_text, "serve: unknown option");
        }
    }
    if (optind != argc) return cli_usage_error(usage_text, "serve: unexpected argument '%s'", argv[optind]);
    if (!so.api_key) so.api_key = getenv("LOGIFY_API_KEY");
    if (so.api_key && !*so.api_key) /* "--api-key $KEY" with KEY unset: not "no auth" */
        return cli_usage_error(usage_text, "serve: the API key (--api-key or LOGIFY_API_KEY) is empty; "
                                           "give a key, or none at all to serve without authentication");

    lg_config cfg;
    if (cli_build_config(&po, &cfg) != CLI_OK) return CLI_FAIL;
    int rc = CLI_FAIL;
    lg_errmsg err = {{0}};
    /* the config file's server: section, under the flags given */
    lg_server_opts fc = so;
    double fgrace = grace;
    if (lg_server_opts_from_config(&cfg, &fc, &fgrace, &err)) {
        lg_config_free(&cfg);
        return cli_error("%s", err.msg);
    }
#define FROM_FILE(bit, field) if (!(given & (bit))) so.field = fc.field
    FROM_FILE(G_HOST, host);
    FROM_FILE(G_PORT, port);
    FROM_FILE(G_THREADS, threads);
    FROM_FILE(G_MODE, mode);
    FROM_FILE(G_MAXUP, max_upload);
    FROM_FILE(G_HOLD, hold);
    FROM_FILE(G_MAXROWS, max_rows);
    FROM_FILE(G_INFLIGHT, max_inflight);
    FROM_FILE(G_CONNS, max_connections);
    FROM_FILE(G_TIMEOUT, timeout_s);
    FROM_FILE(G_HEAD, head_timeout_s);
    FROM_FILE(G_PERIP, max_per_ip);
    FROM_FILE(G_QUIET, access_log);
#undef FROM_FILE
    if (!(given & G_GRACE)) grace = fgrace;
    if (so.access_log) lg_log_set_level(LG_LOG_INFO);
    lg_live *live = NULL;
    lg_server *srv = NULL;
    /* from here a signal waits in the pipe (one during the first load is
     * acted on once the server runs) */
    if (cli_signals_open()) {
        lg_config_free(&cfg);
        return cli_error("pipe: %s", strerror(errno));
    }
    lg_pset_source src = cli_pset_source(&po); /* the first set and every reload */
    if (lg_live_new(&src, &live, &err)) {
        cli_signals_close();
        lg_config_free(&cfg);
        return cli_error("%s", err.msg);
    }
    /* the server's threads start with the signals blocked (no handler
     * interrupts them); this thread unblocks them once they run */
    sigset_t sigs, old_mask;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, &old_mask);
    signal(SIGPIPE, SIG_IGN);
    so.cluster_fn = serve_cluster; /* the console's clusters view */
    int started = !lg_server_new(&so, live, &srv, &err) && !lg_server_start(srv, &err);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (!started) {
        cli_error("%s", err.msg);
        goto done;
    }
    lg_buf routes;
    lg_buf_init(&routes, 4096);
    lg_routes_describe(&cfg.routes, &routes);
    /* an IPv6 address goes in brackets in a URL (RFC 3986): http://[::1]:8000 */
    const char *host = so.host ? so.host : "127.0.0.1";
    int v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "logify: listening on http://%s%s%s:%u (routes: %s%s)\n", v6 ? "[" : "", host,
            v6 ? "]" : "", (unsigned)lg_server_port(srv), lg_buf_cstr(&routes),
            so.api_key && *so.api_key ? "; API key required" : "");
    fflush(stderr);
    lg_buf_free(&routes);
    int sig = 0;
    while ((sig = cli_signals_next()) == SIGHUP) {
        /* lg_live_reload logs the outcome (a refusal as an ERROR line, so
         * even with --quiet); the generation in use is printed either way */
        fprintf(stderr, "logify: SIGHUP: reloading\n");
        fflush(stderr);
        lg_err e = lg_live_reload(live, NULL, NULL);
        fprintf(stderr, "logify: SIGHUP: %s; generation %llu in use\n", e ? "reload refused" : "reloaded",
                (unsigned long long)lg_live_generation(live));
        fflush(stderr);
    }
    fprintf(stderr, "logify: %s: draining (up to %.0f s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM", grace);
    unsigned left = lg_server_stop(srv, grace);
    unsigned cut = lg_server_cut(srv);
    if (left || cut) {
        fprintf(stderr, "logify: stopped after the %.0f s grace with %u request%s cut off unfinished\n",
                grace, cut > left ? cut : left, (cut > left ? cut : left) == 1 ? "" : "s");
        rc = CLI_CUT; /* a supervisor can tell: answers were lost */
        goto done;
    }
    fprintf(stderr, "logify: stopped\n");
    rc = CLI_OK;
done:
    lg_server_free(srv);
    cli_signals_close();
    lg_live_free(live);
    lg_config_free(&cfg);
    return rc;
}
