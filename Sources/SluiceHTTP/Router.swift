/// Handles one request. Runs on the event loop that owns the connection, so it must not block:
/// answer through `responder`, or take a `DeferredResponse` and answer later from anywhere.
public typealias HTTPHandler = @Sendable (borrowing HTTPRequest, inout HTTPResponder) -> Void

/// A route table of method plus path pattern. Patterns are "/"-separated segments, each a
/// literal or a parameter (":name", one non-empty segment). A request whose path matches no
/// pattern gets 404; one whose path matches but not for its method gets 405 with `Allow`.
public struct Router: Sendable {
    private enum Segment: Sendable {
        case literal([UInt8])
        case parameter
    }

    private struct Route: Sendable {
        let method: HTTPMethod?
        let segments: [Segment]
        let handler: HTTPHandler
    }

    private var routes: [Route] = []
    /// Answers requests whose path matches no route (default: 404).
    public var fallback: HTTPHandler?

    public init() {}

    /// Adds a route; `method` nil accepts every method (the handler decides).
    public mutating func add(_ method: HTTPMethod?, _ pattern: String, _ handler: @escaping HTTPHandler) {
        let segments = pattern.split(separator: "/", omittingEmptySubsequences: true).map { part -> Segment in
            part.hasPrefix(":") ? .parameter : .literal(Array(part.utf8))
        }
        routes.append(Route(method: method, segments: segments, handler: handler))
    }

    public mutating func get(_ pattern: String, _ handler: @escaping HTTPHandler) { add(.get, pattern, handler) }
    public mutating func post(_ pattern: String, _ handler: @escaping HTTPHandler) { add(.post, pattern, handler) }

    /// Result of looking a request up.
    enum Match {
        case handler(HTTPHandler, RouteParameters)
        case methodNotAllowed(allowed: [HTTPMethod])
        case notFound
    }

    /// Finds the route for `path` (offsets relative to `base`, for the parameter ranges).
    func match(method: HTTPMethod, path: UnsafeRawBufferPointer, pathOffset: Int) -> Match {
        var allowed: [HTTPMethod] = []
        for route in routes {
            var parameters = RouteParameters()
            guard matches(route.segments, path: path, pathOffset: pathOffset, parameters: &parameters) else { continue }
            // HEAD is GET without the body (RFC 9110 §9.3.2); the connection drops the body.
            if route.method == nil || route.method == method || (method == .head && route.method == .get) {
                return .handler(route.handler, parameters)
            }
            if let routeMethod = route.method { allowed.append(routeMethod) }
        }
        if !allowed.isEmpty { return .methodNotAllowed(allowed: allowed) }
        if let fallback { return .handler(fallback, RouteParameters()) }
        return .notFound
    }

    private func matches(_ segments: [Segment], path: UnsafeRawBufferPointer, pathOffset: Int, parameters: inout RouteParameters) -> Bool {
        let count = path.count
        guard count > 0, path[0] == 0x2F else { return false }
        var index = 1
        // One trailing slash is ignored ("/ns/broker/" is "/ns/broker").
        let end = count > 1 && path[count - 1] == 0x2F ? count - 1 : count
        for segment in segments {
            guard index <= end else { return false }
            var segmentEnd = index
            while segmentEnd < end && path[segmentEnd] != 0x2F { segmentEnd += 1 }
            switch segment {
            case .literal(let literal):
                guard segmentEnd - index == literal.count else { return false }
                for (offset, byte) in literal.enumerated() where path[index + offset] != byte { return false }
            case .parameter:
                guard segmentEnd > index,
                      parameters.append((pathOffset + index)..<(pathOffset + segmentEnd)) else { return false }
            }
            index = segmentEnd + 1
        }
        // Every path segment must have been consumed.
        return index >= end
    }
}
