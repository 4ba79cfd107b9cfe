/// An absolute `http://` or `https://` URL split the way a client needs it: origin (host,
/// port, TLS or not) and the request target. Parsed once (when a destination is configured), not per request.
public struct HTTPURL: Sendable, Hashable, CustomStringConvertible {
    /// The parts, in one shared object: requests copy URLs around, and one reference count
    /// is cheaper than one per string.
    private final class Parts: Sendable {
        let scheme: String
        let host: String
        let port: Int
        let target: String
        let hostHeader: String
        let origin: Origin
        let audience: String?

        init(scheme: String, host: String, port: Int, target: String, trust: Int = 0, audience: String? = nil) {
            self.audience = audience
            self.scheme = scheme
            self.host = host
            self.port = port
            self.target = target
            let secure = scheme == "https"
            hostHeader = port == (secure ? 443 : 80) ? host : "\(host):\(port)"
            origin = Origin(host: host, port: port, secure: secure, trust: secure ? trust : 0)
        }
    }

    private let parts: Parts

    public var scheme: String { parts.scheme }
    public var host: String { parts.host }
    public var port: Int { parts.port }
    /// Path and query, starting with "/".
    public var target: String { parts.target }
    /// The `Host` header value.
    var hostHeader: String { parts.hostHeader }
    public var origin: Origin { parts.origin }

    public static func == (a: HTTPURL, b: HTTPURL) -> Bool {
        a.parts === b.parts || (a.scheme == b.scheme && a.origin == b.origin && a.target == b.target)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(host)
        hasher.combine(port)
        hasher.combine(target)
    }

    /// Parses `http[s]://host[:port][/path][?query]`; `#fragment` is dropped. Other schemes
    /// and malformed authorities give nil.
    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") else { return nil }
        let scheme = text[..<colon].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        var rest = text[text.index(colon, offsetBy: 3)...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        if authority.contains("@") { return nil }  // credentials in URLs are not supported
        var port = scheme == "https" ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let afterBracket = authority[authority.index(after: close)...]
            if afterBracket.hasPrefix(":") {
                guard let parsed = Int(afterBracket.dropFirst()), (1...65535).contains(parsed) else { return nil }
                port = parsed
            } else if !afterBracket.isEmpty {
                return nil
            }
            authority = authority[...close]
        } else if let colon = authority.lastIndex(of: ":") {
            guard let parsed = Int(authority[authority.index(after: colon)...]), (1...65535).contains(parsed) else { return nil }
            port = parsed
            authority = authority[..<colon]
        }
        guard !authority.isEmpty, authority.allSatisfy({ !$0.isWhitespace && $0 != "/" }) else { return nil }
        guard target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        parts = Parts(scheme: scheme, host: authority.lowercased(), port: port, target: target)
    }

    /// The same URL whose TLS connections also trust the authorities registered as `trust`
    /// (`TrustedAuthorities`); its connections are pooled apart from the plain URL's.
    public func trusting(_ trust: Int) -> HTTPURL {
        HTTPURL(parts: Parts(scheme: scheme, host: host, port: port, target: target, trust: trust, audience: audience))
    }

    /// The OIDC audience requests to this URL carry a bearer token for (a Knative
    /// destination's `audience`), or nil.
    public var audience: String? { parts.audience }

    /// The same URL, its requests carrying a token for `audience`.
    public func requesting(audience: String) -> HTTPURL {
        HTTPURL(parts: Parts(scheme: scheme, host: host, port: port, target: target, trust: origin.trust, audience: audience))
    }

    private init(parts: Parts) {
        self.parts = parts
    }

    public var description: String {
        port == (origin.secure ? 443 : 80) ? "\(scheme)://\(host)\(target)" : "\(scheme)://\(host):\(port)\(target)"
    }

}

/// Where connections go: one pool per origin per event loop.
public struct Origin: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int
    /// Reached over TLS (`https`).
    public let secure: Bool
    /// Extra authorities its TLS trusts (`TrustedAuthorities`), 0 for none.
    public let trust: Int

    public init(host: String, port: Int, secure: Bool = false, trust: Int = 0) {
        self.host = host
        self.port = port
        self.secure = secure
        self.trust = trust
    }

    public var description: String { secure ? "https://\(host):\(port)" : "\(host):\(port)" }
}
