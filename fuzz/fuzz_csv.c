/* fuzz_csv.c - libFuzzer harness for the CSV reader: any input, fed in
 * input-chosen pieces, must not crash, and the fast engine must give the
 * same rows (and the same malformed lines) as the libcsv engine.
 * Build with `make fuzz` (clang -fsanitize=fuzzer); fuzz/replay.c runs the
 * corpus under the normal test suite. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logify/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lg_err on_row(void *user, const lg_csv_row *row, lg_errmsg *err) {
    (void)err;
    lg_buf *out = user;
    for (size_t i = 0; i < row->nfields; i++) {
        lg_buf_printf(out, "%zu:", row->lens[i]);
        lg_buf_append(out, row->fields[i], row->lens[i]);
    }
    lg_buf_printf(out, "@%llu\n", (unsigned long long)row->line);
    return LG_OK;
}

static lg_err on_bad(void *user, uint64_t line, const char *msg, lg_errmsg *err) {
    (void)msg;
    (void)err;
    lg_buf_printf(user, "BAD@%llu\n", (unsigned long long)line);
    return LG_OK;
}

static void run(const uint8_t *data, size_t size, lg_csv_engine engine, size_t step, lg_buf *out) {
    lg_csv_limits lim = {64, 8, engine};
    lg_csv_reader *r;
    if (lg_csv_reader_new(&lim, on_row, on_bad, out, &r, NULL)) abort();
    lg_err e = LG_OK;
    for (size_t off = 0; off < size && !e; off += step)
        e = lg_csv_feed(r, data + off, size - off < step ? size - off : step, NULL);
    if (!e) e = lg_csv_finish(r, NULL);
    if (e) lg_buf_printf(out, "ERR %d\n", (int)e);
    lg_csv_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t step = size ? 1 + data[0] % 13 : 1;
    lg_buf a, b;
    lg_buf_init(&a, 1 << 24);
    lg_buf_init(&b, 1 << 24);
    run(data, size, LG_CSV_FAST, step, &a);
    run(data, size, LG_CSV_LIBCSV, size ? size : 1, &b);
    if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0)) abort();
    lg_buf_free(&a);
    lg_buf_free(&b);
    return 0;
}
