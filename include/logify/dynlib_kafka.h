/*
 * dynlib_kafka.h - librdkafka (the Kafka client of logify kafka), loaded on
 * first use (logify/dynlib.h says why). Call lg_kafka_load() first, then
 * lg_kafka()->f(...) for rd_kafka_f(...). A new function goes into
 * LG_KAFKA_FUNCTIONS.
 */
#ifndef LOGIFY_DYNLIB_KAFKA_H
#define LOGIFY_DYNLIB_KAFKA_H

#include <librdkafka/rdkafka.h>
#include "logify/dynlib.h"

/* the functions Logify calls, without their prefix "rd_kafka_" */
#define LG_KAFKA_FUNCTIONS(X) \
    X(abort_transaction) X(assign) X(assignment) X(begin_transaction) \
    X(commit) X(commit_transaction) X(conf_destroy) X(conf_get) X(conf_new) \
    X(conf_set) X(conf_set_default_topic_conf) X(conf_set_dr_msg_cb) \
    X(conf_set_error_cb) X(conf_set_log_cb) X(conf_set_offset_commit_cb) \
    X(conf_set_opaque) X(conf_set_rebalance_cb) X(consumer_close) \
    X(consumer_group_metadata) X(consumer_group_metadata_destroy) \
    X(consumer_poll) X(destroy) X(err2name) X(err2str) X(error_code) \
    X(error_destroy) X(error_is_fatal) X(error_is_retriable) \
    X(error_string) X(error_txn_requires_abort) X(fatal_error) X(flush) \
    X(get_watermark_offsets) X(header_add) X(headers_copy) \
    X(headers_destroy) X(headers_new) X(init_transactions) X(last_error) \
    X(message_destroy) X(message_detach_headers) X(message_errstr) X(message_headers) \
    X(message_set_headers) X(metadata) \
    X(metadata_destroy) X(new) X(opaque) X(poll) X(poll_set_consumer) \
    X(position) X(producev) X(purge) X(seek_partitions) \
    X(send_offsets_to_transaction) X(subscribe) X(topic_conf_destroy) \
    X(topic_conf_new) X(topic_conf_set_partitioner_cb) X(topic_destroy) \
    X(topic_name) X(topic_new) X(topic_partition_list_add) \
    X(topic_partition_list_destroy) X(topic_partition_list_find) \
    X(topic_partition_list_new)

/* their addresses, typed as the library's header declares them */
typedef struct lg_kafka_api {
#define LG_KAFKA_MEMBER(f) __typeof__(&rd_kafka_##f) f;
    LG_KAFKA_FUNCTIONS(LG_KAFKA_MEMBER)
#undef LG_KAFKA_MEMBER
} lg_kafka_api;

/* The table; its pointers are NULL until lg_kafka_load (logify/dynlib.h)
 * succeeded. */
const lg_kafka_api *lg_kafka(void);

#endif
