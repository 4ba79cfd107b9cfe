// librdkafka (Debian librdkafka-dev) as Swift sees it, plus the few calls whose C form does not
// import: rd_kafka_producev and its RD_KAFKA_V_* macros are variadic, so producing goes through
// the static inline below. Only the SluiceKafka module imports this.
#ifndef CRDKAFKA_SHIM_H
#define CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/// Produces one record with copies of `key` and `value` (NULL and 0 for none), `headers`
/// (ownership passes to librdkafka on success, stays with the caller on failure) and `opaque`
/// (returned in the delivery report).
static inline rd_kafka_resp_err_t sluice_rdkafka_produce(rd_kafka_t *rk, rd_kafka_topic_t *topic,
                                                         const void *key, size_t key_len,
                                                         const void *value, size_t value_len,
                                                         rd_kafka_headers_t *headers, void *opaque) {
    return rd_kafka_producev(rk, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
                             RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_HEADERS(headers),
                             RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}

/// The per-message opaque given to `sluice_rdkafka_produce`, from a delivery report.
static inline void *sluice_rdkafka_message_opaque(const rd_kafka_message_t *message) {
    return message->_private;
}

#endif
