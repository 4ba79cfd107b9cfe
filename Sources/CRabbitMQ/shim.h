// librabbitmq (Debian librabbitmq-dev, rabbitmq-c) as Swift sees it, plus the one call whose C
// form does not import: amqp_login is variadic (its SASL arguments), so logging in goes through
// the static inline below. Only the SluiceRabbitMQ module imports this.
#ifndef CRABBITMQ_SHIM_H
#define CRABBITMQ_SHIM_H

// 0.11 (Debian 12) ships <amqp.h>; 0.12 and later moved the headers to <rabbitmq-c/...>.
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

/// Logs in with SASL PLAIN on channel 0: `heartbeat` seconds (0 for none), the largest frame
/// RabbitMQ suggests (131072), as many channels as it allows.
static inline amqp_rpc_reply_t sluice_amqp_login_plain(amqp_connection_state_t state, const char *vhost,
                                                       int heartbeat, const char *user, const char *password) {
    return amqp_login(state, vhost, 0, 131072, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}

#endif
