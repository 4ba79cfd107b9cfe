import Glibc
import SluiceIO

/// A blocking TCP client for tests: sends exact bytes and reads raw responses, with timeouts
/// so a misbehaving server fails the test instead of hanging it.
final class RawClient: @unchecked Sendable {  // used by one test thread at a time
    let fd: Int32

    init(port: Int, receiveTimeout: Double = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw IOError(errno: errno, call: "socket") }
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - Double(Int(receiveTimeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let rc = SocketAddress.loopback(port: port).withSockAddr { Glibc.connect(fd, $0, $1) }
        guard rc == 0 else {
            let error = IOError(errno: errno, call: "connect")
            Glibc.close(fd)
            throw error
        }
    }

    deinit {
        Glibc.close(fd)
    }

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw IOError(errno: errno, call: "send") }
            offset += n
        }
    }

    /// Reads whatever arrives next (at least one byte), or [] on EOF. Throws on timeout.
    func receiveSome() throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw IOError(errno: errno, call: "recv") }
        return Array(buffer[0..<n])
    }

    /// Reads until EOF (or timeout), returning everything received.
    func receiveAll() throws -> [UInt8] {
        var all: [UInt8] = []
        while true {
            let chunk = try receiveSome()
            if chunk.isEmpty { return all }
            all += chunk
        }
    }

    /// Reads exactly `count` complete responses (Content-Length framed) from the stream.
    func receiveResponses(_ count: Int) throws -> [RawResponse] {
        var pending: [UInt8] = []
        var responses: [RawResponse] = []
        while responses.count < count {
            if let (response, used) = RawResponse.parse(pending) {
                responses.append(response)
                pending.removeFirst(used)
                continue
            }
            let chunk = try receiveSome()
            if chunk.isEmpty { throw IOError(errno: ECONNRESET, call: "EOF after \(responses.count) responses") }
            pending += chunk
        }
        return responses
    }

    func receiveResponse() throws -> RawResponse {
        try receiveResponses(1)[0]
    }

    /// True when the server has closed the connection (EOF or reset) within the timeout.
    func isClosedByPeer() -> Bool {
        while true {
            guard let chunk = try? receiveSome() else { return errno == ECONNRESET }
            if chunk.isEmpty { return true }
        }
    }

    func shutdownWrite() {
        Glibc.shutdown(fd, Int32(SHUT_WR))
    }
}

/// A response as bytes split into status, headers and body.
struct RawResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    var bodyText: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// Parses one Content-Length-framed (or body-less) response from the front of `bytes`.
    static func parse(_ bytes: [UInt8]) -> (RawResponse, Int)? {
        guard let headEnd = findSubsequence(bytes, Array("\r\n\r\n".utf8)) else { return nil }
        let headText = String(decoding: bytes[0..<headEnd], as: UTF8.self)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = String(line[..<colon])
            let value = trimSpaces(line[line.index(after: colon)...])
            return (name, value)
        }
        let bodyStart = headEnd + 4
        var length = 0
        for (name, value) in headers where name.lowercased() == "content-length" { length = Int(value) ?? 0 }
        if status == 100 {
            return parse(Array(bytes[bodyStart...])).map { ($0.0, $0.1 + bodyStart) }
        }
        guard bytes.count >= bodyStart + length else { return nil }
        return (RawResponse(status: status, headers: headers, body: Array(bytes[bodyStart..<(bodyStart + length)])), bodyStart + length)
    }
}

func findSubsequence(_ bytes: [UInt8], _ needle: [UInt8]) -> Int? {
    guard bytes.count >= needle.count else { return nil }
    for start in 0...(bytes.count - needle.count) where bytes[start..<(start + needle.count)].elementsEqual(needle) {
        return start
    }
    return nil
}

func trimSpaces(_ text: Substring) -> String {
    var text = text
    while text.first == " " { text = text.dropFirst() }
    while text.last == " " { text = text.dropLast() }
    return String(text)
}

/// Raises this process's descriptor limit to its hard maximum (tests open many sockets).
func raiseDescriptorLimit() {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
