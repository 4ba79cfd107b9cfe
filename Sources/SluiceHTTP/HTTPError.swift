import Glibc
import SluiceIO

/// The one error type of the HTTP module. Protocol errors (what can be wrong with bytes a
/// peer sent) carry the status a server answers with; the server maps them to a response in
/// one place (`HTTPServerConnection.fail`). Client failures are classified so delivery can
/// decide what to retry: refused, timed out, reset, name resolution, closed early.
public enum HTTPError: Error, Equatable, Sendable, CustomStringConvertible {
    // Server side: what a request can get wrong.
    case badRequestLine
    case unsupportedVersion
    case uriTooLong(limit: Int)
    case headersTooLarge(limit: Int)
    case tooManyHeaders(limit: Int)
    case badHeader(String)
    case badContentLength
    case duplicateContentLength
    case contentLengthWithTransferEncoding
    case unsupportedTransferEncoding
    case unsupportedExpectation
    case bodyTooLarge(limit: Int)
    case badChunk(String)
    case badStatusLine
    case truncated
    case timeout

    // Client side.
    case invalidURL(String)
    case dnsFailure(host: String, reason: String)
    case connectionRefused
    case connectTimeout
    case responseTimeout
    case connectionReset
    /// The server closed the connection before a complete response.
    case connectionClosed
    case responseTooLarge(limit: Int)
    /// Too many requests already waiting for a connection to this origin.
    case poolExhausted
    case invalidRequestHeader(String)
    case shutdown
    case io(IOError)

    public var status: HTTPStatus {
        switch self {
        case .uriTooLong: return .uriTooLong
        case .headersTooLarge, .tooManyHeaders: return .headersTooLarge
        case .unsupportedVersion: return .versionNotSupported
        case .unsupportedTransferEncoding: return .notImplemented
        case .unsupportedExpectation: return .expectationFailed
        case .bodyTooLarge: return .payloadTooLarge
        case .timeout: return .requestTimeout
        case .connectTimeout, .responseTimeout: return HTTPStatus(code: 504)
        case .invalidURL, .dnsFailure, .connectionRefused, .connectionReset, .connectionClosed, .responseTooLarge,
             .poolExhausted, .shutdown, .io, .badStatusLine, .truncated, .invalidRequestHeader:
            return HTTPStatus(code: 502)
        default: return .badRequest
        }
    }

    public var description: String {
        switch self {
        case .badRequestLine: return "malformed request line"
        case .unsupportedVersion: return "only HTTP/1.0 and HTTP/1.1 are supported"
        case .uriTooLong(let limit): return "request line longer than \(limit) bytes"
        case .headersTooLarge(let limit): return "request header section larger than \(limit) bytes"
        case .tooManyHeaders(let limit): return "more than \(limit) header fields"
        case .badHeader(let why): return "malformed header field: \(why)"
        case .badContentLength: return "invalid Content-Length"
        case .duplicateContentLength: return "more than one Content-Length"
        case .contentLengthWithTransferEncoding: return "both Content-Length and Transfer-Encoding"
        case .unsupportedTransferEncoding: return "only the chunked transfer coding is supported"
        case .unsupportedExpectation: return "only the 100-continue expectation is supported"
        case .bodyTooLarge(let limit): return "body larger than \(limit) bytes"
        case .badChunk(let why): return "malformed chunked body: \(why)"
        case .badStatusLine: return "malformed status line"
        case .truncated: return "connection closed in the middle of a message"
        case .timeout: return "request not received in time"
        case .invalidURL(let url): return "invalid URL: \(url)"
        case .dnsFailure(let host, let reason): return "cannot resolve \(host): \(reason)"
        case .connectionRefused: return "connection refused"
        case .connectTimeout: return "connect timed out"
        case .responseTimeout: return "no response in time"
        case .connectionReset: return "connection reset by peer"
        case .connectionClosed: return "connection closed before a complete response"
        case .responseTooLarge(let limit): return "response larger than \(limit) bytes"
        case .poolExhausted: return "too many requests waiting for a connection"
        case .shutdown: return "client is shut down"
        case .invalidRequestHeader(let why): return "cannot send request: \(why)"
        case .io(let error): return error.description
        }
    }
}

extension HTTPError {
    /// A failure to reach the peer or get its answer (as opposed to an answer we did get).
    public var isTransportFailure: Bool {
        switch self {
        case .dnsFailure, .connectionRefused, .connectTimeout, .responseTimeout, .connectionReset, .connectionClosed,
             .io, .truncated:
            return true
        default:
            return false
        }
    }

    /// The peer's TLS certificate did not verify (untrusted, expired, another name): trying
    /// again finds the same certificate, so it is not worth a retry schedule.
    public var isUntrustedPeer: Bool {
        if case .io(let error) = self { return error.errno == IOError.untrustedPeer }
        return false
    }

    /// Classifies a socket error from connect, read or write.
    static func transport(_ error: IOError) -> HTTPError {
        switch error.errno {
        case ECONNREFUSED: return .connectionRefused
        case ECONNRESET, EPIPE: return .connectionReset
        case ETIMEDOUT: return .connectTimeout
        default: return .io(error)
        }
    }
}
