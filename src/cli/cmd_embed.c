/* cmd_embed.c - `logify embed --model DIR [--batch N] [--threads N]`:
 * one message per line on stdin, one JSON array of floats per line on
 * stdout, same order. Lines are read in chunks so memory stays bounded;
 * within a chunk the engine sorts by length and batches. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "logify/sbert.h"

#define EMBED_CHUNK 4096          /* lines encoded together */
#define EMBED_LINE_MAX (1u << 20) /* longer lines are cut (the model truncates anyway) */

static const char usage_text[] =
    "usage: logify embed --model DIR [--batch N] [--threads N] [--quantize int8] [--stats]\n"
    "                    [--no-progress]\n"
    "  reads one message per line on stdin, writes one JSON array of floats per line\n"
    "  --model DIR    sentence-transformers model directory (config.json, vocab.txt or\n"
    "                 tokenizer.json, model.safetensors, modules.json, 1_Pooling/, ...)\n"
    "  --batch N      texts per forward pass (default 32)\n"
    "  --threads N    threads across batches (default: online CPUs, at most 8)\n"
    "  --quantize Q   int8 or none (default): projections in int8 (docs/bert.md, \"int8\")\n"
    "  --stats        print texts, tokens, seconds, tokens/s and GFLOPS on stderr, and the\n"
    "                 thread CPU seconds spent in each part of the forward pass\n"
    "  --no-progress  no progress line (drawn on stderr only when it is a terminal\n"
    "                 and stdout is not)\n";

typedef struct {
    char **lines;
    size_t *lens;
    size_t n;
} chunk;

/* CPU time of the whole process (all threads), seconds */
static double process_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int flush_chunk(const lg_sbert *m, lg_sbert_scratch *s, chunk *c, float *out, int stats,
                       double *secs, double *cpu, double *tokens, double *flops) {
    lg_errmsg err = {{0}};
    int dim = lg_sbert_dim(m);
    if (stats) {
        int32_t ids[4096];
        for (size_t i = 0; i < c->n; i++) {
            size_t k = 0;
            if (lg_sbert_tokenize(m, c->lines[i], c->lens[i], ids, 4096, &k, &err) == LG_OK) {
                *tokens += (double)k;
                *flops += lg_sbert_flops(m, k);
            }
        }
    }
    double t0 = lg_now(), c0 = process_cpu();
    if (lg_sbert_encode(m, s, (const char *const *)c->lines, c->lens, c->n, out, &err))
        return cli_error("%s", err.msg);
    *secs += lg_now() - t0;
    *cpu += process_cpu() - c0;
    for (size_t i = 0; i < c->n * (size_t)dim; i++)
        if (!isfinite(out[i]))
            return cli_error("the model produced a non-finite value (NaN/inf in its weights?)");
    for (size_t i = 0; i < c->n; i++) {
        const float *v = out + i * (size_t)dim;
        putchar('[');
        for (int d = 0; d < dim; d++)
            printf(d ? ",%.8g" : "%.8g", (double)v[d]);
        fputs("]\n", stdout);
        free(c->lines[i]);
    }
    c->n = 0;
    if (ferror(stdout)) return cli_error("writing stdout failed");
    return CLI_OK;
}

int cmd_embed(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {"stats", no_argument, 0, 's'},
        {"no-progress", no_argument, 0, 'P'},   {"help", no_argument, 0, 'h'},
        {"quantize", required_argument, 0, 'q'},
        {0, 0, 0, 0}};
    const char *dir = NULL;
    long batch = 32, threads = sysconf(_SC_NPROCESSORS_ONLN);
    int stats = 0, no_progress = 0, c;
    if (threads < 1) threads = 1;
    if (threads > 8) threads = 8;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:b:t:sh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': dir = optarg; break;
        case 'b':
            if (cli_parse_long(optarg, 1, 4096, &batch))
                return cli_usage_error(usage_text, "--batch must be in 1..4096");
            break;
        case 't':
            if (cli_parse_long(optarg, 1, 64, &threads))
                return cli_usage_error(usage_text, "--threads must be in 1..64");
            break;
        case 's': stats = 1; break;
        case 'P': no_progress = 1; break;
        case 'q':
            if (cli_quantize_option(optarg, "embed", usage_text)) return CLI_USAGE;
            break;
        case 'h': fputs(usage_text, stdout); return CLI_OK;
        default: return cli_usage_error(usage_text, "bad option");
        }
    }
    if (!dir) return cli_usage_error(usage_text, "--model DIR is required");
    if (optind < argc) return cli_usage_error(usage_text, "unexpected argument '%s'", argv[optind]);

    lg_errmsg err = {{0}};
    lg_sbert *m = NULL;
    lg_sbert_scratch *s = NULL;
    if (lg_sbert_load(dir, &m, &err)) return cli_error("%s", err.msg);
    int rc = CLI_FAIL;
    lg_progress *prog = NULL;
    chunk ch = {malloc(EMBED_CHUNK * sizeof(char *)), malloc(EMBED_CHUNK * sizeof(size_t)), 0};
    float *out = malloc((size_t)EMBED_CHUNK * (size_t)lg_sbert_dim(m) * sizeof(float));
    char *line = NULL;
    size_t cap = 0;
    double secs = 0, cpu = 0, tokens = 0, flops = 0, texts = 0;
    if (!ch.lines || !ch.lens || !out) {
        cli_error("embed: buffers: out of memory");
        goto done;
    }
    if (lg_sbert_scratch_new(m, &s, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    lg_sbert_scratch_set(s, (int)batch, (int)threads);
    /* rows: the lines embedded; the percentage: the bytes read of a file */
    prog = cli_progress_start("embed", no_progress, 1);
    lg_progress_phase(prog, NULL, "rows", 0, cli_file_size(stdin));
    uint64_t bytes = 0;
    ssize_t n;
    errno = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        bytes += (uint64_t)n;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n') len--;
        if (len > EMBED_LINE_MAX) len = EMBED_LINE_MAX;
        ch.lines[ch.n] = lg_strndup(line, len);
        if (!ch.lines[ch.n]) {
            cli_error("embed: lines: out of memory");
            goto done;
        }
        ch.lens[ch.n++] = len;
        texts++;
        if (ch.n == EMBED_CHUNK) { /* the line counts once its vector is out */
            if (flush_chunk(m, s, &ch, out, stats, &secs, &cpu, &tokens, &flops) != CLI_OK)
                goto done;
            lg_progress_set(prog, (uint64_t)texts, bytes);
        }
        errno = 0;
    }
    if (!feof(stdin)) { /* getline's -1 without the end: a read error, or its buffer's malloc failed */
        cli_error("reading standard input (after line %.0f): %s", texts, strerror(errno ? errno : EIO));
        goto done;
    }
    if (ch.n && flush_chunk(m, s, &ch, out, stats, &secs, &cpu, &tokens, &flops) != CLI_OK)
        goto done;
    lg_progress_set(prog, (uint64_t)texts, bytes);
    cli_progress_end(prog);
    prog = NULL;
    if (fflush(stdout) != 0) {
        cli_error("writing stdout failed");
        goto done;
    }
    if (stats) {
        /* where the time went: thread CPU seconds per part, their share,
         * and how busy the threads were (sum of parts / (wall x threads):
         * below 100% when a thread waited for work or, on a loaded
         * machine, for a core) */
        double part[LG_SBERT_PARTS], busy = 0;
        lg_sbert_scratch_stats(s, part);
        for (int p = 0; p < LG_SBERT_PARTS; p++)
            busy += part[p];
        lg_sbert_info info;
        lg_sbert_info_get(m, &info);
        fprintf(stderr, "embed parts (thread CPU seconds, %s, kernels %s):", info.gemm, info.isa);
        for (int p = 0; p < LG_SBERT_PARTS; p++)
            fprintf(stderr, " %s=%.3f(%.1f%%)", lg_sbert_part_name(p), part[p],
                    busy > 0 ? 100 * part[p] / busy : 0);
        fprintf(stderr, " busy=%.0f%%\n",
                secs > 0 ? 100 * busy / (secs * (double)threads) : 0);
        fprintf(stderr,
                "embed threads=%ld batch=%ld texts=%.0f tokens=%.0f secs=%.3f tok_per_s=%.0f "
                "GFLOPS=%.1f cpu_secs=%.3f tok_per_cpu_s=%.0f\n",
                threads, batch, texts, tokens, secs, secs > 0 ? tokens / secs : 0,
                secs > 0 ? flops / secs / 1e9 : 0, cpu, cpu > 0 ? tokens / cpu : 0);
    }
    rc = CLI_OK;
done:
    cli_progress_end(prog);
    if (ch.lines)
        for (size_t i = 0; i < ch.n; i++)
            free(ch.lines[i]);
    free(ch.lines);
    free(ch.lens);
    free(out);
    free(line);
    lg_sbert_scratch_free(s);
    lg_sbert_free(m);
    return rc;
}
