import SluiceIO

/// A response a handler builds. The server adds `Date`, `Content-Length` and, when the
/// connection is about to close, `Connection: close`.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: HTTPStatus, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: HTTPStatus, headers: [(name: String, value: String)] = [], text: String) {
        self.init(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")] + headers, body: Array(text.utf8))
    }
}

/// A response serialised once and written many times: the bytes of the status line, the
/// fixed headers and `Content-Length`, and the body. Constant answers (`202 Accepted`, health
/// checks) cost a few copies per request and no allocation.
public final class PreparedResponse: Sendable {
    public let status: HTTPStatus
    let head: [UInt8]
    let body: [UInt8]

    public init(_ response: HTTPResponse) {
        status = response.status
        var text = "HTTP/1.1 \(response.status.code) \(response.status.reason)\r\n"
        for (name, value) in response.headers {
            text += "\(name): \(value)\r\n"
        }
        text += "Content-Length: \(response.body.count)\r\n"
        head = Array(text.utf8)
        body = response.body
    }

    public convenience init(status: HTTPStatus, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.init(HTTPResponse(status: status, headers: headers, body: body))
    }
}

/// Writes response heads into an output buffer: the shared serialisation of server answers.
enum ResponseWriter {
    static func writeHead(_ response: HTTPResponse, into buffer: ByteBuffer, date: DateHeader, connection: ConnectionDirective) {
        buffer.append("HTTP/1.1 ")
        buffer.appendDecimal(response.status.code)
        buffer.append(byte: 0x20)
        buffer.append(string: response.status.reason)
        buffer.append("\r\n")
        for (name, value) in response.headers {
            buffer.append(string: name)
            buffer.append(": ")
            buffer.append(string: value)
            buffer.append("\r\n")
        }
        buffer.append("Content-Length: ")
        buffer.appendDecimal(response.body.count)
        buffer.append("\r\n")
        finishHead(into: buffer, date: date, connection: connection)
    }

    static func writeHead(_ prepared: PreparedResponse, into buffer: ByteBuffer, date: DateHeader, connection: ConnectionDirective) {
        buffer.append(prepared.head)
        finishHead(into: buffer, date: date, connection: connection)
    }

    @inline(__always)
    private static func finishHead(into buffer: ByteBuffer, date: DateHeader, connection: ConnectionDirective) {
        date.append(to: buffer)
        switch connection {
        case .none: break
        case .close: buffer.append("Connection: close\r\n")
        case .keepAlive: buffer.append("Connection: keep-alive\r\n")
        }
        buffer.append("\r\n")
    }
}

/// What the response says about the connection: nothing (the version's default), or explicitly.
enum ConnectionDirective {
    case none, close, keepAlive
}
