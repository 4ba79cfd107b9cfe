// sluice-amqp-peer: a plain AMQP 0-9-1 client on librabbitmq for the RabbitMQ tests and
// benchmarks, independent of Sluice's own layer. Every command talks to 127.0.0.1.
//
//   publish --port P [--exchange E] [--routing-key K] [--count N] [--body TEXT] [--size BYTES]
//           [--content-type T] [--message-id ID] [--timestamp SECONDS] [--header NAME=VALUE]...
//           [--int-header NAME=NUMBER]...      (%d in --body and --message-id becomes the index)
//   declare --port P --queue Q [--exchange E] [--quorum] [--dead-letter-exchange X]
//   consume --port P --queue Q [--prefetch N] [--count N] [--seconds S]
//           acks every message without doing anything else; prints "consumed N in S s (R/s)"
// Common: [--vhost V] [--user U] [--password W]. Exits 0 on success, 1 with a message otherwise.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <amqp.h>
#include <amqp_tcp_socket.h>

#define MAX_HEADERS 32

static void die_reply(amqp_rpc_reply_t reply, const char *doing) {
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
        fprintf(stderr, "%s: %s\n", doing, amqp_error_string2(reply.library_error));
    } else if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD || reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_channel_close_t *close = (amqp_channel_close_t *)reply.reply.decoded;
        fprintf(stderr, "%s: server closed: %d %.*s\n", doing, close->reply_code, (int)close->reply_text.len, (char *)close->reply_text.bytes);
    } else {
        fprintf(stderr, "%s: failed\n", doing);
    }
    exit(1);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

// `text` with the first %d replaced by `index`.
static amqp_bytes_t expand(const char *text, long index, char *buffer, size_t size) {
    const char *mark = strstr(text, "%d");
    if (!mark) return amqp_cstring_bytes(text);
    snprintf(buffer, size, "%.*s%ld%s", (int)(mark - text), text, index, mark + 2);
    return amqp_cstring_bytes(buffer);
}

// What one message of `publish` is made of.
struct message {
    amqp_connection_state_t conn;
    const char *exchange, *routing_key, *content_type, *message_id;
    long timestamp;
    int headers;
    amqp_table_entry_t *entries;
    const char *sized, *body;
};

// Publisher confirms: which message each delivery tag carried, which tags and messages are
// settled.
struct confirms {
    long *index_of_tag;
    unsigned char *settled, *confirmed;
    long tags, next_tag, remaining;
    // Tags below it are all settled.
    long lowest;
};

static int publish_one(struct message *message, struct confirms *state, long index) {
    char body_buffer[4096], id_buffer[256];
    amqp_basic_properties_t properties;
    memset(&properties, 0, sizeof properties);
    properties._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    if (message->content_type) { properties._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG; properties.content_type = amqp_cstring_bytes(message->content_type); }
    if (message->message_id) { properties._flags |= AMQP_BASIC_MESSAGE_ID_FLAG; properties.message_id = expand(message->message_id, index, id_buffer, sizeof id_buffer); }
    if (message->timestamp >= 0) { properties._flags |= AMQP_BASIC_TIMESTAMP_FLAG; properties.timestamp = message->timestamp; }
    if (message->headers) { properties._flags |= AMQP_BASIC_HEADERS_FLAG; properties.headers.num_entries = message->headers; properties.headers.entries = message->entries; }
    amqp_bytes_t payload = message->sized ? amqp_cstring_bytes(message->sized) : expand(message->body, index, body_buffer, sizeof body_buffer);
    if (state->next_tag >= state->tags) {
        long grown = 2 * state->tags;
        state->index_of_tag = realloc(state->index_of_tag, grown * sizeof(long));
        state->settled = realloc(state->settled, grown);
        memset(state->settled + state->tags, 0, grown - state->tags);
        state->tags = grown;
    }
    state->index_of_tag[state->next_tag++] = index;
    int status = amqp_basic_publish(message->conn, 1, amqp_cstring_bytes(message->exchange), amqp_cstring_bytes(message->routing_key),
                                    0, 0, &properties, payload);
    if (status != AMQP_STATUS_OK) { fprintf(stderr, "basic.publish: %s\n", amqp_error_string2(status)); return 1; }
    return 0;
}

// Reads confirms for up to `seconds` (0: only those already there); publishes nacked messages
// again. Returns nonzero on an error or when none came in time.
static int take_confirms(struct message *message, struct confirms *state, int seconds) {
    for (;;) {
        amqp_frame_t frame;
        struct timeval timeout = {seconds, 0};
        amqp_maybe_release_buffers(message->conn);
        int status = amqp_simple_wait_frame_noblock(message->conn, &frame, &timeout);
        if (status == AMQP_STATUS_TIMEOUT) {
            if (seconds == 0) return 0;
            fprintf(stderr, "publishing: %ld messages not confirmed within %d s\n", state->remaining, seconds);
            return 1;
        }
        if (status != AMQP_STATUS_OK) { fprintf(stderr, "publishing: %s\n", amqp_error_string2(status)); return 1; }
        if (frame.frame_type != AMQP_FRAME_METHOD) continue;
        uint64_t tag;
        int multiple, rejected;
        if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *ack = frame.payload.method.decoded;
            tag = ack->delivery_tag; multiple = ack->multiple; rejected = 0;
        } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            amqp_basic_nack_t *nack = frame.payload.method.decoded;
            tag = nack->delivery_tag; multiple = nack->multiple; rejected = 1;
        } else if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD || frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
            fprintf(stderr, "publishing: the server closed the channel\n");
            return 1;
        } else {
            continue;
        }
        if (tag >= (uint64_t)state->next_tag) continue;
        for (uint64_t settling = multiple ? (uint64_t)state->lowest : tag; settling <= tag; settling++) {
            if (state->settled[settling]) continue;
            state->settled[settling] = 1;
            long index = state->index_of_tag[settling];
            if (rejected) {
                if (publish_one(message, state, index)) return 1;
            } else if (!state->confirmed[index]) {
                state->confirmed[index] = 1;
                state->remaining--;
            }
        }
        while (state->lowest < state->next_tag && state->settled[state->lowest]) state->lowest++;
        if (seconds > 0) return 0;
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: sluice-amqp-peer publish|declare|consume --port P ...\n");
        return 1;
    }
    const char *command = argv[1];
    int port = 5672, quorum = 0;
    long count = 1, size = -1, prefetch = 100, timestamp = -1;
    double seconds = 60;
    const char *vhost = "/", *user = "guest", *password = "guest", *exchange = "", *routing_key = "", *queue = NULL;
    const char *body = "hello", *content_type = NULL, *message_id = NULL, *dead_letter = NULL;
    const char *header_names[MAX_HEADERS], *header_values[MAX_HEADERS];
    int header_is_int[MAX_HEADERS], headers = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *key = argv[i], *value = argv[i + 1];
        if (!strcmp(key, "--port")) port = atoi(value);
        else if (!strcmp(key, "--vhost")) vhost = value;
        else if (!strcmp(key, "--user")) user = value;
        else if (!strcmp(key, "--password")) password = value;
        else if (!strcmp(key, "--exchange")) exchange = value;
        else if (!strcmp(key, "--routing-key")) routing_key = value;
        else if (!strcmp(key, "--queue")) queue = value;
        else if (!strcmp(key, "--count")) count = atol(value);
        else if (!strcmp(key, "--size")) size = atol(value);
        else if (!strcmp(key, "--body")) body = value;
        else if (!strcmp(key, "--content-type")) content_type = value;
        else if (!strcmp(key, "--message-id")) message_id = value;
        else if (!strcmp(key, "--timestamp")) timestamp = atol(value);
        else if (!strcmp(key, "--prefetch")) prefetch = atol(value);
        else if (!strcmp(key, "--seconds")) seconds = atof(value);
        else if (!strcmp(key, "--quorum")) { quorum = atoi(value); }
        else if (!strcmp(key, "--dead-letter-exchange")) dead_letter = value;
        else if ((!strcmp(key, "--header") || !strcmp(key, "--int-header")) && headers < MAX_HEADERS) {
            const char *equals = strchr(value, '=');
            if (!equals) { fprintf(stderr, "%s needs NAME=VALUE\n", key); return 1; }
            header_names[headers] = strndup(value, equals - value);
            header_values[headers] = equals + 1;
            header_is_int[headers] = !strcmp(key, "--int-header");
            headers++;
        } else { fprintf(stderr, "unknown option %s\n", key); return 1; }
    }

    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    if (amqp_socket_open(socket, "127.0.0.1", port) != AMQP_STATUS_OK) { fprintf(stderr, "cannot connect to 127.0.0.1:%d\n", port); return 1; }
    die_reply(amqp_login(conn, vhost, 0, 131072, 30, AMQP_SASL_METHOD_PLAIN, user, password), "login");
    amqp_channel_open(conn, 1);
    die_reply(amqp_get_rpc_reply(conn), "channel.open");

    if (!strcmp(command, "declare")) {
        if (!queue) { fprintf(stderr, "declare needs --queue\n"); return 1; }
        amqp_table_entry_t entries[2];
        int used = 0;
        if (quorum) {
            entries[used].key = amqp_cstring_bytes("x-queue-type");
            entries[used].value.kind = AMQP_FIELD_KIND_UTF8;
            entries[used++].value.value.bytes = amqp_cstring_bytes("quorum");
        }
        if (dead_letter) {
            entries[used].key = amqp_cstring_bytes("x-dead-letter-exchange");
            entries[used].value.kind = AMQP_FIELD_KIND_UTF8;
            entries[used++].value.value.bytes = amqp_cstring_bytes(dead_letter);
        }
        amqp_table_t arguments = {used, entries};
        amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, arguments);
        die_reply(amqp_get_rpc_reply(conn), "queue.declare");
        if (*exchange) {
            amqp_exchange_declare(conn, 1, amqp_cstring_bytes(exchange), amqp_cstring_bytes("fanout"), 0, 1, 0, 0, amqp_empty_table);
            die_reply(amqp_get_rpc_reply(conn), "exchange.declare");
            amqp_queue_bind(conn, 1, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange), amqp_cstring_bytes(""), amqp_empty_table);
            die_reply(amqp_get_rpc_reply(conn), "queue.bind");
        }
    } else if (!strcmp(command, "publish")) {
        amqp_table_entry_t entries[MAX_HEADERS];
        for (int i = 0; i < headers; i++) {
            entries[i].key = amqp_cstring_bytes(header_names[i]);
            if (header_is_int[i]) {
                entries[i].value.kind = AMQP_FIELD_KIND_I64;
                entries[i].value.value.i64 = atol(header_values[i]);
            } else {
                entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
                entries[i].value.value.bytes = amqp_cstring_bytes(header_values[i]);
            }
        }
        char *sized = NULL;
        if (size >= 0) {
            sized = malloc(size + 1);
            memset(sized, 'x', size);
            sized[size] = 0;
        }
        // Publisher confirms: the server acks a message once its queue holds it (a quorum
        // queue: once Raft committed it). Without them a loaded server may drop messages
        // silently; a nacked one is published again, and a missing ack is an error.
        amqp_confirm_select(conn, 1);
        die_reply(amqp_get_rpc_reply(conn), "confirm.select");
        struct confirms state = {0};
        state.tags = 2 * count + 16;
        state.index_of_tag = calloc(state.tags, sizeof(long));
        state.settled = calloc(state.tags, 1);
        state.confirmed = calloc(count > 0 ? count : 1, 1);
        state.remaining = count;
        state.next_tag = 1;
        state.lowest = 1;
        struct message message = {conn, exchange, routing_key, content_type, message_id, timestamp, headers, entries, sized, body};
        for (long index = 0; index < count; index++) {
            if (publish_one(&message, &state, index)) return 1;
            // Take the confirms that came meanwhile, so neither side's buffers fill up.
            if (index % 1000 == 999 && take_confirms(&message, &state, 0)) return 1;
        }
        while (state.remaining > 0) {
            if (take_confirms(&message, &state, 30)) return 1;
        }
    } else if (!strcmp(command, "consume")) {
        if (!queue) { fprintf(stderr, "consume needs --queue\n"); return 1; }
        amqp_basic_qos(conn, 1, 0, (uint16_t)prefetch, 0);
        die_reply(amqp_get_rpc_reply(conn), "basic.qos");
        amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
        die_reply(amqp_get_rpc_reply(conn), "basic.consume");
        long consumed = 0;
        double start = 0, deadline = now_seconds() + seconds;
        while (consumed < count && now_seconds() < deadline) {
            amqp_envelope_t envelope;
            struct timeval wait = {1, 0};
            amqp_maybe_release_buffers(conn);
            amqp_rpc_reply_t reply = amqp_consume_message(conn, &envelope, &wait, 0);
            if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) continue;
            die_reply(reply, "consuming");
            if (consumed == 0) start = now_seconds();
            consumed++;
            amqp_basic_ack(conn, 1, envelope.delivery_tag, 0);
            amqp_destroy_envelope(&envelope);
        }
        double elapsed = consumed ? now_seconds() - start : 0;
        printf("consumed %ld in %.3f s (%.0f/s)\n", consumed, elapsed, elapsed > 0 ? consumed / elapsed : 0);
        fflush(stdout);
    } else {
        fprintf(stderr, "unknown command %s\n", command);
        return 1;
    }
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    return 0;
}
