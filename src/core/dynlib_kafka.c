/*
 * dynlib_kafka.c - librdkafka.so.1 on first use: the table of logify/dynlib_kafka.h.
 */
#include "logify/dynlib_kafka.h"

#include "logify/dynlib.h"

static lg_kafka_api api; /* written once, under lib.lock, before lib.loaded */

static lg_err resolve(const lg_dynlib *lib, void *handle, lg_errmsg *err) {
    lg_err e = LG_OK;
#define LG_KAFKA_RESOLVE(f) \
    if (e == LG_OK) e = lg_dynlib_sym(lib, handle, "rd_kafka_" #f, &api.f, err);
    LG_KAFKA_FUNCTIONS(LG_KAFKA_RESOLVE)
#undef LG_KAFKA_RESOLVE
    return e;
}

static lg_dynlib lib =
    LG_DYNLIB_INIT("librdkafka.so.1", "librdkafka1",
                   "logify kafka", resolve);

lg_err lg_kafka_load(lg_errmsg *err) { return lg_dynlib_load(&lib, err); }

const lg_kafka_api *lg_kafka(void) { return &api; }
