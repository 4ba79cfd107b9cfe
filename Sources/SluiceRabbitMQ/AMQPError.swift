internal import CRabbitMQ

/// An error from librabbitmq or from the RabbitMQ server: what was being done, and why it
/// failed. The one error type of the RabbitMQ layer. Every one of them ends the connection for
/// its owner, which reconnects: librabbitmq leaves a connection unusable after most failures,
/// and reopening is the one recovery that always works.
public struct AMQPError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// librabbitmq's own status (`amqp_status_enum`): the socket, a timeout, bad data.
        case library(status: Int32)
        /// The server closed the channel or the connection with this reply code (404 no such
        /// queue, 406 precondition failed, 403 access refused, 320 connection forced, ...).
        case server(code: UInt16)
        /// The server cancelled the consumer (its queue was deleted).
        case cancelled
    }

    public let kind: Kind
    /// What was being done ("login", "queue.declare"), then the reason.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// The server said no to what was asked (a missing queue, a declare that conflicts, a
    /// refused login), rather than the network failing: retrying soon will not help.
    public var isRefusal: Bool {
        if case .server(let code) = kind { return code != 320 && code != 541 }  // connection-forced, internal-error
        return false
    }

    static func library(_ status: Int32, _ doing: String) -> AMQPError {
        AMQPError(.library(status: status), "\(doing): \(String(cString: amqp_error_string2(status)))")
    }

    /// The error an RPC reply carries, or nil when it succeeded.
    static func check(_ reply: amqp_rpc_reply_t, _ doing: String) -> AMQPError? {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return nil
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            return library(reply.library_error, doing)
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            return server(reply.reply, doing)
        default:
            return AMQPError(.library(status: 0), "\(doing): no reply")
        }
    }

    /// A `channel.close` or `connection.close` method from the server, with its reply text.
    static func server(_ method: amqp_method_t, _ doing: String) -> AMQPError {
        switch method.id {
        case AMQP_CONNECTION_CLOSE_METHOD:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            return AMQPError(.server(code: close.reply_code), "\(doing): the server closed the connection: \(close.reply_code) \(text(close.reply_text))")
        case AMQP_CHANNEL_CLOSE_METHOD:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            return AMQPError(.server(code: close.reply_code), "\(doing): the server closed the channel: \(close.reply_code) \(text(close.reply_text))")
        default:
            return AMQPError(.library(status: AMQP_STATUS_UNEXPECTED_STATE.rawValue), "\(doing): unexpected method \(method.id) from the server")
        }
    }
}

/// The bytes of an `amqp_bytes_t` as text (for messages and names).
func text(_ bytes: amqp_bytes_t) -> String {
    guard let pointer = bytes.bytes, bytes.len > 0 else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: bytes.len), as: UTF8.self)
}
