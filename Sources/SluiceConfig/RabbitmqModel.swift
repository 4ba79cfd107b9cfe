/// `sources.knative.dev/v1alpha1` RabbitmqSource.
public struct RabbitmqSourceManifest: Sendable {
    public var meta: ObjectMeta
    /// `rabbitmqClusterReference.connectionSecret.name`, in `secretNamespace`.
    public var connectionSecret: String
    /// `rabbitmqClusterReference.namespace`, the source's own when empty.
    public var secretNamespace: String
    public var secretLocation: SourceLocation
    /// `rabbitmqResourcesConfig.vhost`: overrides the Secret's when set.
    public var virtualHost: String?
    public var exchangeName: String
    public var queueName: String
    /// Messages prefetched and delivered at once (1–1000): 1 keeps the queue's order.
    public var parallelism: Int
    /// True: the exchange, queue and binding exist already; false: the source declares them.
    public var predeclared: Bool
    public var sink: Destination
    public var delivery: DeliverySpec?

    /// Where the source connects: the Secret's settings, the vhost override applied.
    public func connection(in manifests: ManifestSet) -> RabbitmqConnection? {
        guard let secret = manifests.secret(namespace: secretNamespace, name: connectionSecret),
              case .success(var connection) = RabbitmqConnection.parse(secret.data) else { return nil }
        if let virtualHost, !virtualHost.isEmpty { connection.virtualHost = virtualHost }
        return connection
    }
}

/// Where a RabbitMQ server is and how to log in, from a connection Secret in either form:
///
/// - `uri: amqp://user:password@host:port/vhost` (the RabbitMQ URI scheme: port 5672 and
///   vhost `/` by default, `%2f` for a `/` in the vhost);
/// - Knative's: `uri` (the management address, `http://host:15672`: only its host is used),
///   `username`, `password` and `port` (5672 by default).
public struct RabbitmqConnection: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var virtualHost: String

    public init(host: String, port: Int, user: String, password: String, virtualHost: String) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
    }

    public static func parse(_ data: [String: [UInt8]]) -> Result<RabbitmqConnection, SecretProblem> {
        let text = { (key: String) in data[key].map { String(decoding: $0, as: UTF8.self).trimmingWhitespace } }
        guard let uri = text("uri") else { return .failure(SecretProblem("has no key \"uri\"")) }
        if data["username"] != nil || data["password"] != nil {
            guard let user = text("username") else { return .failure(SecretProblem("has \"password\" but no key \"username\"")) }
            guard let password = text("password") else { return .failure(SecretProblem("has \"username\" but no key \"password\"")) }
            var port = 5672
            if let portText = text("port") {
                guard let number = Int(portText), (1...65535).contains(number) else {
                    return .failure(SecretProblem("port \"\(portText)\" is not a port number"))
                }
                port = number
            }
            var rest = Substring(uri)
            if rest.lowercased().hasPrefix("https://") || rest.lowercased().hasPrefix("amqps://") {
                return .failure(SecretProblem("uri \"\(uri)\" asks for TLS (amqps), which Sluice does not speak to RabbitMQ yet"))
            }
            if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
            let host = hostPart(rest.prefix { $0 != "/" && $0 != "?" })
            guard !host.isEmpty else { return .failure(SecretProblem("uri \"\(uri)\" names no host")) }
            return .success(RabbitmqConnection(host: host, port: port, user: user, password: password, virtualHost: "/"))
        }
        return parseURI(uri)
    }

    /// `amqp://[user[:password]@]host[:port][/vhost]`.
    static func parseURI(_ uri: String) -> Result<RabbitmqConnection, SecretProblem> {
        let lowered = uri.lowercased()
        if lowered.hasPrefix("amqps://") {
            return .failure(SecretProblem("uri asks for TLS (amqps), which Sluice does not speak to RabbitMQ yet"))
        }
        guard lowered.hasPrefix("amqp://") else {
            return .failure(SecretProblem("uri must be amqp://user:password@host:port/vhost (or add username and password keys for Knative's form)"))
        }
        let rest = uri.dropFirst("amqp://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        let path = rest.dropFirst(authority.count).prefix { $0 != "?" }
        var user = "guest"
        var password = "guest"
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let credentials = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            let colon = credentials.firstIndex(of: ":")
            guard let decodedUser = percentDecoded(credentials[..<(colon ?? credentials.endIndex)]),
                  let decodedPassword = colon.map({ percentDecoded(credentials[credentials.index(after: $0)...]) }) ?? "guest" else {
                return .failure(SecretProblem("uri has a bad %-escape in its user or password"))
            }
            user = decodedUser
            password = decodedPassword
        }
        var port = 5672
        var hostText = hostPort
        if let colon = hostPort.lastIndex(of: ":"), !hostPort[colon...].contains("]") {
            let portText = hostPort[hostPort.index(after: colon)...]
            guard let number = Int(portText), (1...65535).contains(number) else {
                return .failure(SecretProblem("uri port \"\(portText)\" is not a port number"))
            }
            port = number
            hostText = hostPort[..<colon]
        }
        let host = hostPart(hostText)
        guard !host.isEmpty else { return .failure(SecretProblem("uri names no host")) }
        var virtualHost = "/"
        if path.count > 1 {
            guard let decoded = percentDecoded(path.dropFirst()) else { return .failure(SecretProblem("uri has a bad %-escape in its vhost")) }
            virtualHost = decoded
        }
        return .success(RabbitmqConnection(host: host, port: port, user: user, password: password, virtualHost: virtualHost))
    }

    /// The host of `host[:port]`, without the brackets of an IPv6 literal.
    private static func hostPart(_ text: Substring) -> String {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") { return String(text[text.index(after: text.startIndex)..<close]) }
        return String(text.prefix { $0 != ":" })
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// What is wrong with a connection Secret, phrased to follow `Secret "<name>" `.
public struct SecretProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

extension String {
    var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
