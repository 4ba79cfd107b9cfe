import Glibc
import SluiceIO
internal import COpenSSL

/// A connection's bytes through TLS, with OpenSSL reading and writing the non-blocking socket
/// itself: the HTTP engine's `StreamTransport`, so the server and client connections are the
/// same code over TCP and TLS. The handshake runs inside the first reads (a server) or writes
/// (a client), on the connection's loop; "want read/write" is "would block".
///
/// OpenSSL may hold plaintext it has already decrypted (`hasBufferedInput`), which no socket
/// readiness announces: the connection reads again while it does.
public final class TLSTransport: StreamTransport {
    public let descriptor: Int32
    /// The session; nil when OpenSSL could not make one (out of memory): every call then
    /// fails, so the connection closes rather than speak plain text.
    private let session: OpaquePointer?
    private var closed = false
    /// Why every call fails, when the transport was made to refuse.
    private var refusal: String?

    /// The server side of a connection accepted on `descriptor`.
    public init(accepted descriptor: Int32, context: TLSServerContext) {
        self.descriptor = descriptor
        session = SSL_new(context.context)
        if let session {
            SSL_set_fd(session, descriptor)
            SSL_set_accept_state(session)
        }
    }

    /// The client side of a connection made on `descriptor` to `serverName` (a host name,
    /// sent as SNI and checked against the certificate, or an IP address, checked against
    /// its IP entries).
    public init(connected descriptor: Int32, context: TLSClientContext, serverName: String) {
        self.descriptor = descriptor
        session = SSL_new(context.context)
        if let session {
            SSL_set_fd(session, descriptor)
            SSL_set_connect_state(session)
            _ = sluice_ssl_offer_http11(session)
            if TLSTransport.isIPAddress(serverName) {
                _ = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(session), serverName)
            } else {
                _ = sluice_ssl_set_host_name(session, serverName)
                _ = SSL_set1_host(session, serverName)
            }
        }
    }

    /// A connection that fails at its handshake with `reason` (a TLS context that could not be
    /// made for it), so the delivery reports the reason.
    public init(refusing descriptor: Int32, reason: String) {
        self.descriptor = descriptor
        session = nil
        refusal = reason
    }

    private static func isIPAddress(_ host: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET, host, &address) == 1 || inet_pton(AF_INET6, host.trimmingBrackets, &address) == 1
    }

    private var ssl: OpaquePointer {
        get throws(IOError) {
            guard let session, !closed else { throw IOError(errno: refusal == nil ? ENOMEM : EPROTO, call: refusal ?? "TLS session") }
            return session
        }
    }

    /// True once the handshake is done.
    public var isEstablished: Bool { session.map { SSL_is_init_finished($0) == 1 } ?? false }

    public var hasBufferedInput: Bool { !closed && session.map { SSL_pending($0) > 0 } ?? false }

    /// A client's handshake, one step per readiness; a certificate that does not verify fails
    /// with OpenSSL's reason and the verifier's ("certificate has expired", ...).
    public func handshake() throws(IOError) -> HandshakeStatus {
        let ssl = try ssl
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 { return .done }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ: return .wantsReadable
        case SSL_ERROR_WANT_WRITE: return .wantsWritable
        default:
            let verify = SSL_get_verify_result(ssl)
            let reasons = openSSLReasons()
            guard verify == X509_V_OK else {
                throw IOError(errno: IOError.untrustedPeer,
                              call: "TLS handshake: \(String(cString: X509_verify_cert_error_string(verify))) (\(reasons))")
            }
            throw IOError(errno: EPROTO, call: "TLS handshake: \(reasons.isEmpty ? "failed" : reasons)")
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> IOResult<Int> {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .done(0) }
        let ssl = try ssl
        ERR_clear_error()
        let count = SSL_read(ssl, base, Int32(clamping: buffer.count))
        if count > 0 { return .done(Int(count)) }
        return try outcome(of: count, in: ssl, call: "TLS read")
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) -> IOResult<Int> {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return .done(0) }
        let ssl = try ssl
        ERR_clear_error()
        let count = SSL_write(ssl, base, Int32(clamping: bytes.count))
        if count > 0 { return .done(Int(count)) }
        return try outcome(of: count, in: ssl, call: "TLS write")
    }

    /// TLS encrypts record by record, so the vectors are written one after another: what was
    /// written before a "would block" counts.
    public func write(vectors: UnsafeBufferPointer<iovec>) throws(IOError) -> IOResult<Int> {
        var total = 0
        for vector in vectors where vector.iov_len > 0 {
            let result = try write(UnsafeRawBufferPointer(start: vector.iov_base, count: vector.iov_len))
            guard case .done(let count) = result else { return total > 0 ? .done(total) : .wouldBlock }
            total += count
            if count < vector.iov_len { break }
        }
        return .done(total)
    }

    /// Sends close_notify (if the socket takes it now), then FIN.
    public func shutdownWrite() {
        if isEstablished, let session {
            ERR_clear_error()
            _ = SSL_shutdown(session)
        }
        Syscall.shutdownWrite(descriptor)
    }

    public func close() {
        guard !closed else { return }
        closed = true
        SSL_free(session)
        ERR_clear_error()
        Syscall.close(descriptor)
    }

    /// What a non-positive `SSL_read`/`SSL_write` result means: "would block" while OpenSSL
    /// waits for the socket, end of stream at close_notify or EOF, an error otherwise.
    private func outcome(of result: Int32, in ssl: OpaquePointer, call: String) throws(IOError) -> IOResult<Int> {
        let saved = errno
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            return .done(0)
        case SSL_ERROR_SYSCALL:
            // An EOF without close_notify ends the stream as TCP's would; else the socket failed.
            let reasons = openSSLReasons()
            if saved == 0 && reasons.isEmpty { return .done(0) }
            throw IOError(errno: saved == 0 ? EPROTO : saved, call: reasons.isEmpty ? call : "\(call): \(reasons)")
        default:
            throw IOError(errno: EPROTO, call: "\(call): \(openSSLReasons())")
        }
    }
}

extension String {
    /// An IPv6 literal without the brackets a URL puts around it.
    fileprivate var trimmingBrackets: String {
        hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self
    }
}
