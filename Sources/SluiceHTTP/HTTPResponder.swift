import SluiceIO

/// How a handler answers the request it was given. Exactly one answer per request: respond now,
/// or `deferResponse()` and complete the returned token later (from any thread). A handler that
/// does neither gets a 500 sent for it, so a client never waits on a forgotten request.
public struct HTTPResponder: ~Copyable {
    let connection: HTTPServerConnection
    let sequence: UInt64
    var state: State = .open

    enum State {
        case open, answered, deferred
    }

    init(connection: HTTPServerConnection, sequence: UInt64) {
        self.connection = connection
        self.sequence = sequence
    }

    /// The event loop serving this request: handlers keep per-loop state by its index.
    public var loop: EventLoop { connection.loop }

    public mutating func respond(_ response: HTTPResponse) {
        guard state == .open else { return }
        state = .answered
        connection.writeResponse(.built(response), sequence: sequence)
    }

    public mutating func respond(_ prepared: PreparedResponse) {
        guard state == .open else { return }
        state = .answered
        connection.writeResponse(.prepared(prepared), sequence: sequence)
    }

    public mutating func respond(status: HTTPStatus, headers: [(name: String, value: String)] = [], text: String) {
        respond(HTTPResponse(status: status, headers: headers, text: text))
    }

    /// Hands the answer to later code: the connection holds further pipelined requests until
    /// the token is completed, which keeps responses in request order.
    public mutating func deferResponse() -> DeferredResponse {
        state = .deferred
        return DeferredResponse(connection: connection, sequence: sequence)
    }
}

/// A promise to answer one request later. Completing it from a foreign thread hops to the
/// connection's loop; completing it twice, or after the client went away, does nothing.
public struct DeferredResponse: Sendable {
    let connection: HTTPServerConnection
    let sequence: UInt64

    public func complete(_ response: HTTPResponse) {
        deliver(.built(response))
    }

    public func complete(_ prepared: PreparedResponse) {
        deliver(.prepared(prepared))
    }

    private func deliver(_ answer: Answer) {
        let connection = self.connection
        let sequence = self.sequence
        if connection.loop.inEventLoop {
            connection.completeDeferred(answer, sequence: sequence)
        } else {
            connection.loop.execute { connection.completeDeferred(answer, sequence: sequence) }
        }
    }
}

/// A response in either of its two forms.
enum Answer: Sendable {
    case built(HTTPResponse)
    case prepared(PreparedResponse)

    var status: HTTPStatus {
        switch self {
        case .built(let response): return response.status
        case .prepared(let prepared): return prepared.status
        }
    }
}
