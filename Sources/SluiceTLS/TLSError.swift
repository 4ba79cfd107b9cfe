internal import COpenSSL

/// Why a TLS operation failed: a file that cannot be read, a key that does not match its
/// certificate, or OpenSSL's reason for a failed handshake. The one error type of the TLS
/// layer; the HTTP engine sees a failed connection as an `IOError` carrying this text.
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }

    /// `context` followed by the reasons OpenSSL queued on this thread (and clears them).
    static func drainingQueue(_ context: String) -> TLSError {
        let reasons = openSSLReasons()
        return TLSError(reasons.isEmpty ? context : "\(context): \(reasons)")
    }
}

/// The reasons on OpenSSL's error queue of this thread, oldest first, which are cleared.
func openSSLReasons() -> String {
    var reasons: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        // "error:0A00009C:SSL routines::http request" -> "http request (SSL routines)"
        let line = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let fields = line.split(separator: ":", omittingEmptySubsequences: false)
        reasons.append(fields.count >= 5 ? "\(fields[4...].joined(separator: ":")) (\(fields[2]))" : line)
    }
    return reasons.joined(separator: "; ")
}
