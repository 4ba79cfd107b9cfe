import Glibc
internal import CRabbitMQ

/// One AMQP 0-9-1 connection with one channel, for a consumer: connect and log in, declare
/// what is needed, `basic.qos`, `basic.consume`, then read deliveries and ack or nack them.
///
/// librabbitmq is not thread-safe per connection and services heartbeats only inside its own
/// calls, so a connection belongs to one thread, which must call `nextDelivery` at least every
/// half heartbeat. The owner waits for input itself (`socketDescriptor` with `poll`, together
/// with its own wake-up fd) and then reads what arrived without blocking; that is how it also
/// hears from other threads between messages. Not `Sendable` on purpose.
public final class AMQPConnection {
    /// Where and how to connect.
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public var virtualHost: String
        public var user: String
        public var password: String
        /// Seconds between heartbeats (0: none). Ten seconds notices a dead peer quickly.
        public var heartbeat: Int

        public init(host: String, port: Int = 5672, virtualHost: String = "/", user: String = "guest", password: String = "guest",
                    heartbeat: Int = 10) {
            self.host = host
            self.port = port
            self.virtualHost = virtualHost
            self.user = user
            self.password = password
            self.heartbeat = heartbeat
        }

        /// `amqp://user@host:port/vhost`, without the password (for logs).
        public var description: String { "amqp://\(user)@\(host):\(port)/\(virtualHost == "/" ? "" : virtualHost)" }
    }

    private let state: amqp_connection_state_t
    private let channel: amqp_channel_t = 1
    private var open = false
    public let endpoint: Endpoint

    /// Connects, logs in and opens the channel, waiting at most `timeout` for each step.
    public init(_ endpoint: Endpoint, timeout: Duration = .seconds(10)) throws(AMQPError) {
        self.endpoint = endpoint
        guard let state = amqp_new_connection() else { throw AMQPError(.library(status: AMQP_STATUS_NO_MEMORY.rawValue), "connect: out of memory") }
        self.state = state
        guard let socket = amqp_tcp_socket_new(state) else { throw AMQPError.library(AMQP_STATUS_NO_MEMORY.rawValue, "connect") }
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        // Every RPC (login, declares, consume) and the handshake give up after `timeout`: a
        // server that accepted the socket and then hangs must not hang the source.
        amqp_set_handshake_timeout(state, &limit)
        amqp_set_rpc_timeout(state, &limit)
        let status = amqp_socket_open_noblock(socket, endpoint.host, Int32(clamping: endpoint.port), &limit)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError.library(status, "connect to \(endpoint.host):\(endpoint.port)")
        }
        if let error = AMQPError.check(sluice_amqp_login_plain(state, endpoint.virtualHost, Int32(clamping: endpoint.heartbeat),
                                                               endpoint.user, endpoint.password), "login to \(endpoint)") {
            throw error
        }
        open = true
        amqp_channel_open(state, channel)
        try check("channel.open")
    }

    deinit {
        amqp_destroy_connection(state)
    }

    /// Closes the channel and the connection politely (each waits for its answer at most the
    /// RPC timeout). After a failure there is nothing to close: dropping the value is enough.
    public func close() {
        guard open else { return }
        open = false
        _ = amqp_channel_close(state, channel, Int32(AMQP_REPLY_SUCCESS))
        _ = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
    }

    // MARK: Declaring and consuming

    /// `exchange.declare`: a durable, not auto-deleted exchange of `type` (direct, fanout, topic,
    /// headers).
    public func declareExchange(_ name: String, type: String) throws(AMQPError) {
        withBytes(name, type) { name, type in
            _ = amqp_exchange_declare(state, channel, name, type, 0, 1, 0, 0, amqp_empty_table)
        }
        try check("exchange.declare \(name)")
    }

    /// `queue.declare` of a durable queue with string `arguments` (`x-queue-type: quorum`).
    public func declareQueue(_ name: String, arguments: [(String, String)] = []) throws(AMQPError) {
        AMQPTable.with(arguments) { table in
            withBytes(name, "") { queue, _ in _ = amqp_queue_declare(state, channel, queue, 0, 1, 0, 0, table) }
        }
        try check("queue.declare \(name)")
    }

    /// `queue.declare` passive: whether the queue exists (the server closes the channel with 404
    /// if not), and how many messages are ready in it.
    @discardableResult
    public func checkQueue(_ name: String) throws(AMQPError) -> Int {
        let ok = withBytes(name, "") { queue, _ in amqp_queue_declare(state, channel, queue, 1, 0, 0, 0, amqp_empty_table) }
        try check("queue.declare (passive) \(name)")
        return Int(ok?.pointee.message_count ?? 0)
    }

    /// `queue.bind` with string `arguments` (`x-match: all` for a headers exchange).
    public func bind(queue: String, exchange: String, routingKey: String = "", arguments: [(String, String)] = []) throws(AMQPError) {
        AMQPTable.with(arguments) { table in
            withBytes(queue, exchange) { queueBytes, exchangeBytes in
                withBytes(routingKey, "") { key, _ in _ = amqp_queue_bind(state, channel, queueBytes, exchangeBytes, key, table) }
            }
        }
        try check("queue.bind \(queue) to \(exchange)")
    }

    /// `basic.qos`: at most `prefetch` unacknowledged messages on the channel.
    public func setPrefetch(_ prefetch: Int) throws(AMQPError) {
        amqp_basic_qos(state, channel, 0, UInt16(clamping: prefetch), 0)
        try check("basic.qos \(prefetch)")
    }

    /// `basic.consume` with manual acknowledgement.
    public func consume(queue: String) throws(AMQPError) {
        withBytes(queue, "") { queueBytes, tag in
            _ = amqp_basic_consume(state, channel, queueBytes, tag, 0, 0, 0, amqp_empty_table)
        }
        try check("basic.consume \(queue)")
    }

    // MARK: Deliveries

    /// The socket to wait on for input (`POLLIN`).
    public var socketDescriptor: Int32 { amqp_get_sockfd(state) }

    /// Reads the next delivery if a whole one can be had without waiting for the network, and
    /// hands it to `body`, valid only during the call. Returns false when none is ready. Also
    /// sends a heartbeat when one is due. Throws when the connection failed, the server closed
    /// the channel or the connection, or cancelled the consumer.
    public func nextDelivery(_ body: (AMQPDelivery) -> Void) throws(AMQPError) -> Bool {
        var envelope = amqp_envelope_t()
        var immediately = timeval(tv_sec: 0, tv_usec: 0)
        amqp_maybe_release_buffers(state)
        let reply = amqp_consume_message(state, &envelope, &immediately, 0)
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            defer { amqp_destroy_envelope(&envelope) }
            body(AMQPDelivery(envelope: &envelope))
            return true
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_TIMEOUT.rawValue:
            return false
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue:
            // Another method than basic.deliver arrived: the frame waits to be read.
            try readOtherFrame()
            return true
        default:
            open = false
            throw AMQPError.check(reply, "consuming") ?? AMQPError.library(AMQP_STATUS_UNEXPECTED_STATE.rawValue, "consuming")
        }
    }

    /// What the server sent instead of a delivery: a close of the channel or connection (which
    /// is answered and thrown), a consumer cancel (thrown), or something harmless (skipped).
    private func readOtherFrame() throws(AMQPError) {
        var frame = amqp_frame_t()
        let status = amqp_simple_wait_frame(state, &frame)
        guard status == AMQP_STATUS_OK.rawValue else {
            open = false
            throw AMQPError.library(status, "reading a frame")
        }
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return }
        let method = frame.payload.method
        switch method.id {
        case AMQP_CHANNEL_CLOSE_METHOD:
            var closeOK = amqp_channel_close_ok_t()
            amqp_send_method(state, frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &closeOK)
            throw AMQPError.server(method, "consuming")
        case AMQP_CONNECTION_CLOSE_METHOD:
            var closeOK = amqp_connection_close_ok_t()
            amqp_send_method(state, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &closeOK)
            open = false
            throw AMQPError.server(method, "consuming")
        case AMQP_BASIC_CANCEL_METHOD:
            throw AMQPError(.cancelled, "consuming: the server cancelled the consumer (was the queue deleted?)")
        default:
            return
        }
    }

    /// `basic.ack` of `tag` (and, with `multiple`, of every earlier unacknowledged tag).
    public func ack(_ tag: UInt64, multiple: Bool = false) throws(AMQPError) {
        let status = amqp_basic_ack(state, channel, tag, multiple ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else { throw AMQPError.library(status, "basic.ack") }
    }

    /// `basic.nack` of `tag` alone; without `requeue` the queue's dead-letter exchange gets it.
    public func nack(_ tag: UInt64, requeue: Bool) throws(AMQPError) {
        let status = amqp_basic_nack(state, channel, tag, 0, requeue ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else { throw AMQPError.library(status, "basic.nack") }
    }

    // MARK: Helpers

    private func check(_ doing: String) throws(AMQPError) {
        if let error = AMQPError.check(amqp_get_rpc_reply(state), doing) {
            open = false
            throw error
        }
    }

    private func withBytes<Result>(_ first: String, _ second: String, _ body: (amqp_bytes_t, amqp_bytes_t) -> Result) -> Result {
        var first = first
        var second = second
        return first.withUTF8 { one in
            second.withUTF8 { two in
                body(amqp_bytes_t(len: one.count, bytes: UnsafeMutableRawPointer(mutating: one.baseAddress)),
                     amqp_bytes_t(len: two.count, bytes: UnsafeMutableRawPointer(mutating: two.baseAddress)))
            }
        }
    }
}
