/// Everything that can be wrong with bytes a peer sent us, each with the status a server
/// answers and a reason for the body. The one error type of the HTTP module; the server maps
/// it to a response in one place (`HTTPServerConnection.fail`).
public enum HTTPError: Error, Equatable, Sendable, CustomStringConvertible {
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

    public var status: HTTPStatus {
        switch self {
        case .uriTooLong: return .uriTooLong
        case .headersTooLarge, .tooManyHeaders: return .headersTooLarge
        case .unsupportedVersion: return .versionNotSupported
        case .unsupportedTransferEncoding: return .notImplemented
        case .unsupportedExpectation: return .expectationFailed
        case .bodyTooLarge: return .payloadTooLarge
        case .timeout: return .requestTimeout
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
        }
    }
}
