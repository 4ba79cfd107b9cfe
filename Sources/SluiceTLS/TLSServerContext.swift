import Glibc
internal import COpenSSL

/// The oldest TLS version a server or client accepts.
public enum TLSVersion: String, Sendable, CaseIterable {
    case v1_2 = "1.2"
    case v1_3 = "1.3"

    var openSSL: Int32 { self == .v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION }
}

/// A server's certificate, key and settings, loaded once and shared by every connection (an
/// `SSL_CTX`). Rotating the certificate makes a new context: connections already open keep
/// the one they started with (OpenSSL counts the references), new ones take the new one.
public final class TLSServerContext: @unchecked Sendable {  // immutable once made; OpenSSL locks internally
    let context: OpaquePointer
    public let certificatePath: String
    public let keyPath: String

    /// Loads the PEM certificate chain and private key; fails with a reason naming the file
    /// when one cannot be read or parsed, or when the key does not match the certificate.
    public init(certificatePath: String, keyPath: String, minimumVersion: TLSVersion = .v1_3) throws(TLSError) {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw .drainingQueue("cannot make a TLS context") }
        self.context = context
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        for path in [certificatePath, keyPath] where access(path, R_OK) != 0 {
            throw TLSError("\(path): \(String(cString: strerror(errno)))")
        }
        guard SSL_CTX_use_certificate_chain_file(context, certificatePath) == 1 else {
            throw .drainingQueue("\(certificatePath): not a PEM certificate chain")
        }
        guard SSL_CTX_use_PrivateKey_file(context, keyPath, SSL_FILETYPE_PEM) == 1 else {
            let reasons = openSSLReasons()
            if reasons.contains("key values mismatch") { throw TLSError("\(keyPath) does not match the certificate in \(certificatePath)") }
            throw TLSError("\(keyPath): not a PEM private key" + (reasons.isEmpty ? "" : ": \(reasons)"))
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw .drainingQueue("\(keyPath) does not match the certificate in \(certificatePath)")
        }
        _ = sluice_ssl_ctx_set_min_version(context, minimumVersion.openSSL)
        // Partial writes and a moving buffer let the HTTP engine's output queue retry a write
        // with what is left; released buffers keep idle connections small.
        _ = sluice_ssl_ctx_set_mode(context, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS))
        // Resumption: TLS 1.3 tickets (stateless) and a server-side cache for TLS 1.2.
        _ = sluice_ssl_ctx_set_session_cache_mode(context, Int(SSL_SESS_CACHE_SERVER))
        let id = Array("sluice".utf8)
        _ = SSL_CTX_set_session_id_context(context, id, UInt32(id.count))
        sluice_ssl_ctx_select_http11(context)
    }

    deinit {
        SSL_CTX_free(context)
    }
}
