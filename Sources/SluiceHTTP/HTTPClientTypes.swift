/// Pool sizes, limits and timeouts of the HTTP client.
public struct HTTPClientConfiguration: Sendable {
    /// Connections per origin per event loop: the in-flight window toward one subscriber.
    public var maxConnectionsPerOrigin = 64
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

    public init() {}
}

/// A request to send. The body is held by reference and written without copying when large.
public struct HTTPClientRequest: Sendable {
    public var method: HTTPMethod
    public var url: HTTPURL
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Deadline for the whole exchange; nil uses the client's `requestTimeout`.
    public var timeout: Duration?
    /// Whether the request may be sent again when a pooled connection turns out to have been
    /// closed by the server before it answered. Defaults to the method being idempotent;
    /// at-least-once delivery sets it for POSTs too.
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

/// A complete response.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first header named `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }
}

public typealias HTTPClientCompletion = @Sendable (Result<HTTPClientResponse, HTTPError>) -> Void
