import SluiceIO

/// Pool sizes, limits and timeouts of the HTTP client.
public struct HTTPClientConfiguration: Sendable {
    /// Connections per origin per event loop: the in-flight window toward one subscriber.
    /// Above the default delivery window (100) so one trigger's deliveries never queue for a
    /// connection.
    public var maxConnectionsPerOrigin = 128
    /// Requests that may wait for a free connection to one origin on one loop.
    public var maxWaitingPerOrigin = 16_384
    public var connectTimeout: Duration = .seconds(5)
    /// Applies when a request sets no timeout of its own; covers connect, send and response.
    public var requestTimeout: Duration = .seconds(30)
    /// A pooled connection unused this long is closed.
    public var idleTimeout: Duration = .seconds(60)
    public var maxResponseBodyBytes = 16 * 1024 * 1024
    public var head = HeadLimits(maxHeadBytes: 64 * 1024, maxRequestLineBytes: 8 * 1024, maxHeaderCount: 200)
    /// How long a resolved host name is reused.
    public var dnsCacheTTL: Duration = .seconds(30)
    /// Wraps each connected socket in the transport its connection reads and writes through
    /// (plain TCP by default; TLS for https origins).
    public var makeTransport: @Sendable (_ socket: Int32, _ origin: Origin) -> any StreamTransport = { socket, _ in
        SocketTransport(descriptor: socket)
    }

    public init() {}
}

/// Writes header lines into an output buffer (see `HTTPClientRequest.headerWriter`).
public protocol HTTPHeaderWriter: Sendable {
    func writeHeaders(into buffer: ByteBuffer)
}

/// A request to send. The body is held by reference and written without copying when large.
public struct HTTPClientRequest: Sendable {
    public var method: HTTPMethod
    public var url: HTTPURL
    public var headers: [(name: String, value: String)]
    /// Writes further header lines ("Name: value\r\n" each) straight into the connection's
    /// output buffer, after `headers`: for callers that hold many headers as bytes (a
    /// CloudEvent's attributes) and should not make a String per header or an intermediate
    /// block. It must write well-formed lines.
    public var headerWriter: (any HTTPHeaderWriter)?
    public var body: [UInt8]
    /// Deadline for the whole exchange; nil uses the client's `requestTimeout`.
    public var timeout: Duration?
    /// Whether the request may be sent again when a pooled connection turns out to have been
    /// closed by the server after the request reached it and before any answer. Defaults to
    /// the method being idempotent. (A request none of which reached the socket is always
    /// sent again once.)
    public var resendOnStaleConnection: Bool

    public init(method: HTTPMethod = .get, url: HTTPURL, headers: [(name: String, value: String)] = [],
                body: [UInt8] = [], timeout: Duration? = nil, resendOnStaleConnection: Bool? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.resendOnStaleConnection = resendOnStaleConnection ?? method.isIdempotent
    }
}

extension HTTPClientRequest {
    /// Why a header cannot be sent (a CR, LF or NUL would split or end the request), or nil.
    var headerProblem: String? {
        for (name, value) in headers {
            if name.isEmpty || name.utf8.contains(where: { $0 <= 0x20 || $0 == 0x3A || $0 >= 0x7F }) {
                return "invalid header name \"\(name)\""
            }
            if value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) {
                return "control character in the value of \(name)"
            }
        }
        return nil
    }
}

/// A complete response. The head is kept as the raw bytes received with the offsets of each
/// field (one allocation), and header values become Strings only when asked for.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    /// The response head as received, through the blank line.
    public let head: [UInt8]
    /// Where each header field sits in `head`.
    public let fields: [HeaderField]
    public var body: [UInt8]

    public init(status: Int, head: [UInt8], fields: [HeaderField], body: [UInt8]) {
        self.status = status
        self.head = head
        self.fields = fields
        self.body = body
    }

    /// Builds a response from name/value pairs (tests and synthetic answers).
    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        var head: [UInt8] = Array("HTTP/1.1 \(status) \r\n".utf8)
        var fields: [HeaderField] = []
        for (name, value) in headers {
            let nameStart = head.count
            head.append(contentsOf: name.utf8)
            let nameEnd = head.count
            head.append(contentsOf: ": ".utf8)
            let valueStart = head.count
            head.append(contentsOf: value.utf8)
            fields.append(HeaderField(nameStart: Int32(nameStart), nameEnd: Int32(nameEnd),
                                      valueStart: Int32(valueStart), valueEnd: Int32(head.count)))
            head.append(contentsOf: "\r\n".utf8)
        }
        head.append(contentsOf: "\r\n".utf8)
        self.init(status: status, head: head, fields: fields, body: body)
    }

    /// All headers as Strings, in order.
    public var headers: [(name: String, value: String)] {
        fields.map { (String(decoding: head[Int($0.nameStart)..<Int($0.nameEnd)], as: UTF8.self),
                      String(decoding: head[Int($0.valueStart)..<Int($0.valueEnd)], as: UTF8.self)) }
    }

    /// The first header named `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        var name = name
        return name.withUTF8 { wanted in
            head.withUnsafeBytes { bytes in
                for field in fields {
                    let fieldName = UnsafeRawBufferPointer(rebasing: bytes[Int(field.nameStart)..<Int(field.nameEnd)])
                    if asciiCaseInsensitiveEquals(fieldName, UnsafeRawBufferPointer(wanted)) {
                        return String(decoding: bytes[Int(field.valueStart)..<Int(field.valueEnd)], as: UTF8.self)
                    }
                }
                return nil
            }
        }
    }
}

public typealias HTTPClientCompletion = @Sendable (Result<HTTPClientResponse, HTTPError>) -> Void
