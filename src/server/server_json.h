/* server_json.h - reader of POST /v1/classify bodies (server_json.c). */
#ifndef LOGIFY_SERVER_JSON_H
#define LOGIFY_SERVER_JSON_H

#include <stdint.h>

#include "logify/common.h"

typedef struct {
    size_t source_off, source_len;   /* into the arena; NUL-terminated */
    size_t message_off, message_len;
    int has_source, has_message;
} srv_json_log;

typedef struct {
    lg_buf arena;        /* decoded strings */
    srv_json_log *logs;  /* (cap) */
    size_t n, cap;
    uint64_t max_logs;   /* beyond it: parse fails with too_many = 1 */
    int has_logs;        /* the root had "logs" */
    int too_many;
    int no_memory;       /* parse failed for want of memory, not bad JSON */
    /* The document is JSON but not the expected shape (pydantic's 422):
     * the first problem. index = -1 when it is not about one log. */
    int invalid;
    char type[32];
    char msg[64];
    long index;
    char field[16];
} srv_json_logs;

void srv_json_logs_init(srv_json_logs *o, size_t max_bytes, uint64_t max_logs);
void srv_json_logs_free(srv_json_logs *o);
/* 0 when text is JSON (check o->invalid for the shape); -1 with
 * "line L, column C: what" in err when it is not (or o->too_many). */
int srv_json_parse(const char *text, size_t len, srv_json_logs *o, char *err, size_t err_cap);

#endif
