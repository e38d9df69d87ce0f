/* replay.c - runs every file of a fuzz corpus directory through a harness
 * (linked in), so the corpus is a regression suite of the normal test run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 1;
    }
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
        char *buf;
        size_t len;
        lg_errmsg err;
        if (lg_read_file(path, 1 << 24, &buf, &len, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            closedir(d);
            return 1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    printf("replayed %d corpus files\n", n);
    return n > 0 ? 0 : 1;
}
