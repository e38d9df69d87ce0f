/* fuzz_templates.c - libFuzzer harness for the template miner: any bytes,
 * cut into lines, are mined (the first byte picks the options); every line
 * must be taken, every template must render and give parameters, a line
 * must match the group it joined (or a later one that absorbed it), and a
 * save + load must give back the same templates and ids.
 * Build with `make fuzz` (clang -fsanitize=fuzzer); fuzz/replay.c runs the
 * corpus under the normal test suite. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logify/templates.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_miner(const lg_tpl_miner *a, const lg_tpl_miner *b) {
    if (lg_tpl_count(a) != lg_tpl_count(b)) abort();
    lg_buf ta, tb;
    lg_buf_init(&ta, 1 << 24);
    lg_buf_init(&tb, 1 << 24);
    for (size_t i = 0; i < lg_tpl_count(a); i++) {
        if (lg_tpl_id(a, i) != lg_tpl_id(b, i) || lg_tpl_lines(a, i) != lg_tpl_lines(b, i) ||
            lg_tpl_group(a, i) != lg_tpl_group(b, i))
            abort();
        lg_buf_reset(&ta);
        lg_buf_reset(&tb);
        if (lg_tpl_text(a, i, &ta) || lg_tpl_text(b, i, &tb)) abort();
        if (ta.len != tb.len || (ta.len && memcmp(ta.data, tb.data, ta.len))) abort();
    }
    lg_buf_free(&ta);
    lg_buf_free(&tb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lg_tpl_opts o = {0};
    if (size) {
        o.depth = data[0] & 3;
        o.word_variants = 1 + ((data[0] >> 2) & 3);
        o.max_tokens = (data[0] & 0x40) ? 8 : 0;
        data++, size--;
    }
    lg_tpl_miner *m;
    if (lg_tpl_miner_new(&o, &m, NULL)) abort();
    const char *p = (const char *)data, *end = p + size;
    lg_buf b;
    lg_buf_init(&b, 1 << 24);
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lg_tpl_result r;
        if (lg_tpl_add(m, p, len, &r, NULL)) abort();
        if (r.index >= lg_tpl_count(m) || lg_tpl_id(m, r.index) != r.id) abort();
        lg_buf_reset(&b);
        if (lg_tpl_text(m, r.index, &b) || lg_tpl_params_json(m, r.index, p, len, &b)) abort();
        if (!nl) break;
        p = nl + 1;
    }
    /* the end of a spooled run: split words turned <*> too early, then
     * every template still renders and the state round trip holds */
    lg_tpl_split_words(m);
    for (size_t i = 0; i < lg_tpl_count(m); i++) {
        lg_buf_reset(&b);
        if (lg_tpl_text(m, i, &b) || lg_tpl_resolve(m, i, 0) >= lg_tpl_count(m)) abort();
    }
    lg_buf_free(&b);
    char path[] = "/tmp/fuzz_templates.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) abort();
    close(fd);
    lg_errmsg err;
    lg_tpl_miner *back = NULL;
    if (lg_tpl_save(m, path, &err) || lg_tpl_load(path, &back, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    unlink(path);
    same_miner(m, back);
    lg_tpl_miner_free(back);
    lg_tpl_miner_free(m);
    return 0;
}
