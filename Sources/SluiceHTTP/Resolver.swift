import Dispatch
import Glibc
import SluiceIO
import Synchronization

/// Host name resolution off the event loops. getaddrinfo blocks, so it runs on a Dispatch
/// worker and answers back on the asking loop; answers are cached for a short while so a
/// subscriber's name is looked up once per TTL, not per request.
final class Resolver: Sendable {
    private struct Entry {
        let addresses: [SocketAddress]
        let expires: UInt64
    }

    private let cache = Locked<[String: Entry]>([:])
    private let ttl: UInt64
    private let queue = DispatchQueue(label: "sluice.dns", attributes: .concurrent)

    init(ttl: Duration) {
        self.ttl = ttl.nanoseconds
    }

    /// Resolves `host`; `completion` runs on `loop`. Numeric hosts answer synchronously.
    func resolve(_ origin: Origin, on loop: EventLoop, _ completion: @escaping @Sendable (Result<[SocketAddress], HTTPError>) -> Void) {
        if let numeric = SocketAddress(numericHost: origin.host, port: origin.port) {
            completion(.success([numeric]))
            return
        }
        let key = "\(origin.host):\(origin.port)"
        let now = Monotonic.now()
        if let entry = cache.withLock({ $0[key] }), entry.expires > now {
            completion(.success(entry.addresses))
            return
        }
        queue.async { [self] in
            let result = Resolver.lookup(origin)
            if case .success(let addresses) = result {
                cache.withLock { $0[key] = Entry(addresses: addresses, expires: Monotonic.now() &+ ttl) }
            }
            loop.execute { completion(result) }
        }
    }

    static func lookup(_ origin: Origin) -> Result<[SocketAddress], HTTPError> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(origin.host, String(origin.port), &hints, &list)
        guard rc == 0, let first = list else {
            return .failure(.dnsFailure(host: origin.host, reason: String(cString: gai_strerror(rc))))
        }
        defer { freeaddrinfo(first) }
        // IPv4 first: loopback-only hosts and containers often have no IPv6 route.
        var v4: [SocketAddress] = []
        var v6: [SocketAddress] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let current = node {
            if let raw = current.pointee.ai_addr, let address = SocketAddress(raw, length: current.pointee.ai_addrlen) {
                if address.family == AF_INET {
                    if !v4.contains(address) { v4.append(address) }
                } else if !v6.contains(address) {
                    v6.append(address)
                }
            }
            node = current.pointee.ai_next
        }
        let addresses = v4 + v6
        if addresses.isEmpty { return .failure(.dnsFailure(host: origin.host, reason: "no addresses")) }
        return .success(addresses)
    }
}
