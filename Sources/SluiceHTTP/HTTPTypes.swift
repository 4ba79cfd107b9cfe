import SluiceIO

/// Request methods. Unknown tokens are kept as `.other` so routes can answer 405 or 501.
public enum HTTPMethod: Sendable, Hashable, CustomStringConvertible {
    case get, head, post, put, delete, options, patch, connect, trace
    case other(String)

    /// Recognises a method token by its bytes, without building a String for the common ones.
    init(token: UnsafeRawBufferPointer) {
        switch token.count {
        case 3:
            if equalsASCII(token, "GET") { self = .get; return }
            if equalsASCII(token, "PUT") { self = .put; return }
        case 4:
            if equalsASCII(token, "POST") { self = .post; return }
            if equalsASCII(token, "HEAD") { self = .head; return }
        case 5:
            if equalsASCII(token, "PATCH") { self = .patch; return }
            if equalsASCII(token, "TRACE") { self = .trace; return }
        case 6:
            if equalsASCII(token, "DELETE") { self = .delete; return }
        case 7:
            if equalsASCII(token, "OPTIONS") { self = .options; return }
            if equalsASCII(token, "CONNECT") { self = .connect; return }
        default:
            break
        }
        self = .other(String(decoding: token, as: UTF8.self))
    }

    public var description: String {
        switch self {
        case .get: return "GET"
        case .head: return "HEAD"
        case .post: return "POST"
        case .put: return "PUT"
        case .delete: return "DELETE"
        case .options: return "OPTIONS"
        case .patch: return "PATCH"
        case .connect: return "CONNECT"
        case .trace: return "TRACE"
        case .other(let token): return token
        }
    }

    /// Appends the method token without building a String for the common methods.
    func write(into buffer: ByteBuffer) {
        switch self {
        case .get: buffer.append("GET")
        case .head: buffer.append("HEAD")
        case .post: buffer.append("POST")
        case .put: buffer.append("PUT")
        case .delete: buffer.append("DELETE")
        case .options: buffer.append("OPTIONS")
        case .patch: buffer.append("PATCH")
        case .connect: buffer.append("CONNECT")
        case .trace: buffer.append("TRACE")
        case .other(let token): buffer.append(string: token)
        }
    }

    /// Safe to send again when a pooled connection turned out to be closed (RFC 9110 §9.2.2).
    public var isIdempotent: Bool {
        switch self {
        case .get, .head, .put, .delete, .options, .trace: return true
        default: return false
        }
    }
}

/// A status code and its reason phrase.
public struct HTTPStatus: Sendable, Hashable, CustomStringConvertible {
    public let code: Int
    public let reason: String

    public init(code: Int, reason: String? = nil) {
        self.code = code
        self.reason = reason ?? HTTPStatus.standardReason(code)
    }

    public var description: String { "\(code) \(reason)" }
    public var isSuccess: Bool { (200..<300).contains(code) }

    public static let ok = HTTPStatus(code: 200)
    public static let accepted = HTTPStatus(code: 202)
    public static let noContent = HTTPStatus(code: 204)
    public static let badRequest = HTTPStatus(code: 400)
    public static let notFound = HTTPStatus(code: 404)
    public static let methodNotAllowed = HTTPStatus(code: 405)
    public static let requestTimeout = HTTPStatus(code: 408)
    public static let payloadTooLarge = HTTPStatus(code: 413)
    public static let uriTooLong = HTTPStatus(code: 414)
    public static let expectationFailed = HTTPStatus(code: 417)
    public static let headersTooLarge = HTTPStatus(code: 431)
    public static let internalServerError = HTTPStatus(code: 500)
    public static let notImplemented = HTTPStatus(code: 501)
    public static let serviceUnavailable = HTTPStatus(code: 503)
    public static let versionNotSupported = HTTPStatus(code: 505)

    static func standardReason(_ code: Int) -> String {
        switch code {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Status \(code)"
        }
    }
}

/// Compares bytes with an ASCII literal exactly.
@inline(__always)
func equalsASCII(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
    guard bytes.count == literal.utf8CodeUnitCount else { return false }
    let expected = literal.utf8Start
    for index in 0..<bytes.count where bytes[index] != expected[index] { return false }
    return true
}

/// Compares bytes with a lowercase ASCII literal, ignoring the case of the bytes.
@inline(__always)
func equalsASCIICaseInsensitive(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
    guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
    let expected = lowercase.utf8Start
    for index in 0..<bytes.count where asciiLower(bytes[index]) != expected[index] { return false }
    return true
}

@inline(__always)
func asciiLower(_ byte: UInt8) -> UInt8 {
    byte &- 65 < 26 ? byte | 0x20 : byte
}

/// Case-insensitive ASCII comparison of two byte views.
public func asciiCaseInsensitiveEquals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    for index in 0..<a.count where asciiLower(a[index]) != asciiLower(b[index]) { return false }
    return true
}
