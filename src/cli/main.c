/* main.c - `logify`: dispatches to the subcommands (cmd_<name>.c); the
 * helpers they share are in cli.c. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef LOGIFY_VERSION
#define LOGIFY_VERSION "0.0.0"
#endif

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"classify", cmd_classify, "label each row of a CSV (source, log_message)"},
    {"rules", cmd_rules, "check or test a rules file"},
    {"cluster", cmd_cluster, "embed, cluster and map the messages; suggest rules"},
    {"train", cmd_train, "train a model bundle from a labeled CSV"},
    {"eval", cmd_eval, "run the cascade on a labeled CSV and report accuracy"},
    {"serve", cmd_serve, "HTTP service: /classify/, /v1/classify, metrics (docs/server.md)"},
    {"embed", cmd_embed, "embed stdin lines with a Sentence-BERT model (JSON arrays)"},
    {"model", cmd_model, "tokenize with or pull a sentence-transformers model"},
    {"templates", cmd_templates, "mine log templates: template_id and template per row"},
    {"kafka", cmd_kafka, "consumer-group worker: classify a Kafka topic into another (docs/kafka.md)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: logify <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'logify <command> --help' shows a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("logify %s\n", LOGIFY_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "logify: unknown command '%s'\n", cmd);
    usage(stderr);
    return CLI_USAGE;
}
