/* cmd_model.c - `logify model tokenize|info|pull`: sentence-transformers
 * model directories (the engine is in src/sbert*.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "logify/sbert.h"

static const char usage_text[] =
    "usage: logify model tokenize DIR        stdin lines -> {\"ids\": [...]} per line\n"
    "       logify model info DIR            shape, pooling and tokenizer of a model\n"
    "       logify model pull NAME [--revision REV] [--dir DIR]\n"
    "  pull downloads owner/name from the Hugging Face hub ($HF_ENDPOINT overrides\n"
    "  https://huggingface.co; $HF_TOKEN is sent when set) into DIR (default: the\n"
    "  name's last part), resuming partial files, then validates the model.\n"
    "  A model directory holds config.json, vocab.txt (or tokenizer.json: WordPiece\n"
    "  only), model.safetensors, modules.json and its pooling config.\n";

static int model_tokenize(const char *dir) {
    lg_errmsg err = {{0}};
    lg_sbert *m = NULL;
    if (lg_sbert_load(dir, &m, &err)) return cli_error("%s", err.msg);
    lg_sbert_info info;
    lg_sbert_info_get(m, &info);
    size_t cap = (size_t)info.max_seq_length;
    int32_t *ids = malloc(cap * sizeof *ids);
    char *line = NULL;
    size_t lcap = 0;
    int rc = CLI_OK;
    if (!ids) {
        lg_sbert_free(m);
        return cli_error("model tokenize: out of memory");
    }
    ssize_t n;
    errno = 0;
    while ((n = getline(&line, &lcap, stdin)) >= 0) {
        size_t len = (size_t)n, k = 0;
        if (len && line[len - 1] == '\n') len--;
        if (lg_sbert_tokenize(m, line, len, ids, cap, &k, &err)) {
            rc = cli_error("%s", err.msg);
            break;
        }
        fputs("{\"ids\": [", stdout);
        for (size_t i = 0; i < k; i++)
            printf(i ? ", %d" : "%d", ids[i]);
        fputs("]}\n", stdout);
        errno = 0;
    }
    if (rc == CLI_OK && !feof(stdin)) /* getline's -1 without the end: a read error, or no memory */
        rc = cli_error("reading standard input: %s", strerror(errno ? errno : EIO));
    if (fflush(stdout) != 0 && rc == CLI_OK) rc = cli_error("writing stdout failed");
    free(line);
    free(ids);
    lg_sbert_free(m);
    return rc;
}

static int model_info(const char *dir) {
    lg_errmsg err = {{0}};
    lg_sbert *m = NULL;
    if (lg_sbert_load(dir, &m, &err)) return cli_error("%s", err.msg);
    lg_sbert_info i;
    lg_sbert_info_get(m, &i);
    printf("%s: BERT %d layers, hidden %d, %d heads, ffn %d, vocab %d, max_seq_length %d, "
           "weights %s, %s pooling%s, %s tokenizer from %s, projections on %s, kernels %s\n",
           dir, i.layers, i.hidden, i.heads, i.intermediate, i.vocab_size, i.max_seq_length,
           i.dtype, i.pooling == LG_SBERT_POOL_CLS ? "CLS" : "mean",
           i.normalize ? " + L2 normalisation" : "", i.do_lower_case ? "uncased" : "cased",
           i.tokenizer, i.gemm, i.isa);
    lg_sbert_free(m);
    return CLI_OK;
}

static int model_pull(int argc, char **argv) {
    static const struct option opts[] = {{"revision", required_argument, 0, 'r'},
                                         {"dir", required_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *rev = NULL, *dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': rev = optarg; break;
        case 'd': dir = optarg; break;
        case 'h': fputs(usage_text, stdout); return CLI_OK;
        default: return cli_usage_error(usage_text, "bad option");
        }
    }
    if (optind + 1 != argc) return cli_usage_error(usage_text, "pull needs exactly one NAME");
    const char *name = argv[optind];
    if (!dir) {
        const char *slash = strrchr(name, '/');
        dir = slash ? slash + 1 : name;
    }
    lg_sbert_pull_opts o = {getenv("HF_ENDPOINT"), getenv("HF_TOKEN"), rev, isatty(2), 4};
    lg_errmsg err = {{0}};
    if (lg_sbert_pull(name, dir, &o, &err)) return cli_error("model pull %s: %s", name, err.msg);
    fprintf(stderr, "logify: %s (revision %s) is in %s\n", name, rev ? rev : "main", dir);
    return CLI_OK;
}

int cmd_model(int argc, char **argv) {
    if (argc < 2) return cli_usage_error(usage_text, "model needs a subcommand");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        fputs(usage_text, stdout);
        return CLI_OK;
    }
    if (!strcmp(sub, "tokenize") || !strcmp(sub, "info")) {
        if (argc != 3) return cli_usage_error(usage_text, "%s needs exactly one DIR", sub);
        return !strcmp(sub, "tokenize") ? model_tokenize(argv[2]) : model_info(argv[2]);
    }
    if (!strcmp(sub, "pull")) return model_pull(argc - 1, argv + 1);
    return cli_usage_error(usage_text, "unknown subcommand '%s'", sub);
}
