import CSluice
import Glibc

/// An IPv4 or IPv6 socket address, stored inline (no allocation).
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    enum Storage: Sendable, Hashable {
        case v4(host: UInt32, port: UInt16)  // both in network byte order
        case v6(host: [UInt8], port: UInt16, scope: UInt32)
    }

    let storage: Storage

    /// Parses a numeric IPv4 or IPv6 host ("127.0.0.1", "::1"); nil for anything else.
    public init?(numericHost host: String, port: Int) {
        guard (0...65535).contains(port) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            storage = .v4(host: v4.s_addr, port: UInt16(port).bigEndian)
            return
        }
        var v6 = in6_addr()
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if inet_pton(AF_INET6, bare, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            storage = .v6(host: bytes, port: UInt16(port).bigEndian, scope: 0)
            return
        }
        return nil
    }

    /// Builds an address from a kernel `sockaddr`, as returned by getaddrinfo or getsockname.
    public init?(_ address: UnsafePointer<sockaddr>, length: socklen_t) {
        switch Int32(address.pointee.sa_family) {
        case AF_INET where Int(length) >= MemoryLayout<sockaddr_in>.size:
            let sin = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in.self)
            storage = .v4(host: sin.sin_addr.s_addr, port: sin.sin_port)
        case AF_INET6 where Int(length) >= MemoryLayout<sockaddr_in6>.size:
            var sin6 = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in6.self)
            let bytes = withUnsafeBytes(of: &sin6.sin6_addr) { Array($0) }
            storage = .v6(host: bytes, port: sin6.sin6_port, scope: sin6.sin6_scope_id)
        default:
            return nil
        }
    }

    /// 127.0.0.1 on `port` (truncated to 16 bits; callers validate ports at the edge).
    public static func loopback(port: Int) -> SocketAddress {
        SocketAddress(storage: .v4(host: UInt32(0x7F00_0001).bigEndian, port: UInt16(truncatingIfNeeded: port).bigEndian))
    }

    /// 0.0.0.0 on `port`: every IPv4 interface.
    public static func any(port: Int) -> SocketAddress {
        SocketAddress(storage: .v4(host: 0, port: UInt16(truncatingIfNeeded: port).bigEndian))
    }

    init(storage: Storage) {
        self.storage = storage
    }

    public var family: Int32 {
        switch storage {
        case .v4: return AF_INET
        case .v6: return AF_INET6
        }
    }

    public var port: Int {
        switch storage {
        case .v4(_, let port), .v6(_, let port, _): return Int(UInt16(bigEndian: port))
        }
    }

    public var host: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch storage {
        case .v4(let host, _):
            var addr = in_addr(s_addr: host)
            _ = inet_ntop(AF_INET, &addr, &text, socklen_t(text.count))
        case .v6(let host, _, _):
            _ = host.withUnsafeBytes { inet_ntop(AF_INET6, $0.baseAddress, &text, socklen_t(text.count)) }
        }
        return String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String {
        switch storage {
        case .v4: return "\(host):\(port)"
        case .v6: return "[\(host)]:\(port)"
        }
    }

    /// Calls `body` with the address as a `sockaddr` pointer and its length.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch storage {
        case .v4(let host, let port):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port
            sin.sin_addr = in_addr(s_addr: host)
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let host, let port, let scope):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port
            sin6.sin6_scope_id = scope
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in
                for (index, byte) in host.enumerated() where index < raw.count { raw[index] = byte }
            }
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }
}
