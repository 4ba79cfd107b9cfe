import Foundation
import Glibc
import SluiceHTTP
import SluiceIO

/// A real HTTP subscriber on 127.0.0.1 for end-to-end tests: records every request it gets and
/// answers as the test programs it (status, body, headers, a delay, or a reply event).
public final class Subscriber: @unchecked Sendable {
    public struct Request: Sendable {
        public let method: String
        public let path: String
        public let headers: [(name: String, value: String)]
        public let body: [UInt8]
        /// Seconds since the subscriber started.
        public let time: Double

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        public var bodyText: String { String(decoding: body, as: UTF8.self) }
        /// The CloudEvent id in binary mode.
        public var eventID: String? { header("ce-id") }
    }

    public enum Answer: Sendable {
        case status(Int, body: String = "", headers: [(name: String, value: String)] = [])
        indirect case after(seconds: Double, Answer)

        /// 200 with a binary-mode reply event of `type`, keeping the request's id and data.
        public static func reply(to request: Request, type: String) -> Answer {
            .status(200, body: request.bodyText, headers: [
                ("ce-specversion", "1.0"), ("ce-id", request.eventID ?? "?"), ("ce-type", type), ("ce-source", "/replies"),
                ("Content-Type", "application/json"),
            ])
        }
    }

    private let group: EventLoopGroup
    private let server: HTTPServer
    private let started = Date()
    private let log = Locked<[Request]>([])
    private let program = Locked<@Sendable (Request, Int) -> Answer>({ _, _ in .status(200) })

    /// Listens on `port` (0: any free one).
    public init(port: Int = 0) throws {
        group = try EventLoopGroup(loopCount: 1)
        var configuration = HTTPServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = port
        configuration.maxBodyBytes = 64 * 1024 * 1024
        var router = Router()
        let box = Box()
        router.fallback = { request, responder in box.subscriber?.handle(request, &responder) }
        server = HTTPServer(configuration: configuration, router: router, group: group)
        box.subscriber = self
        try server.start()
    }

    private final class Box: @unchecked Sendable {
        weak var subscriber: Subscriber?
    }

    public var port: Int { server.localAddress?.port ?? 0 }

    /// `http://127.0.0.1:<port><path>`
    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Sets how to answer: given the request and how many requests that path got before it.
    public func answer(_ program: @escaping @Sendable (Request, Int) -> Answer) {
        self.program.withLock { $0 = program }
    }

    public var requests: [Request] { log.withLock { $0 } }

    public func requests(to path: String) -> [Request] {
        requests.filter { $0.path == path }
    }

    public func stop() {
        server.shutdown(grace: .milliseconds(100))
        group.shutdown()
    }

    private func handle(_ request: borrowing HTTPRequest, _ responder: inout HTTPResponder) {
        var headers: [(name: String, value: String)] = []
        request.forEachHeader { name, value in
            headers.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        let recorded = Request(method: request.method.description, path: request.pathString, headers: headers,
                               body: Array(request.body), time: Date().timeIntervalSince(started))
        let previous = log.withLock { log in
            let count = log.filter { $0.path == recorded.path }.count
            log.append(recorded)
            return count
        }
        var answer = program.withLock { $0 }(recorded, previous)
        var delay = 0.0
        while case .after(let seconds, let next) = answer {
            delay += seconds
            answer = next
        }
        guard case .status(let code, let body, let extra) = answer else { return }
        let response = HTTPResponse(status: HTTPStatus(code: code), headers: extra, body: Array(body.utf8))
        if delay == 0 {
            responder.respond(response)
        } else {
            let deferred = responder.deferResponse()
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) { deferred.complete(response) }
        }
    }
}

/// Sends CloudEvents to a broker over HTTP (blocking; tests only).
public struct EventSender: Sendable {
    public let port: Int

    public init(port: Int) {
        self.port = port
    }

    public struct Response: Sendable {
        public let status: Int
        public let headers: [(name: String, value: String)]
        public let body: String

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// A binary-mode event with the given attributes (`ce-` is prepended) and data.
    public func send(_ path: String, id: String = UUID().uuidString, type: String = "com.example.test", source: String = "/tests",
                     extensions: [String: String] = [:], contentType: String? = "application/json", data: String = "{}",
                     headers: [(String, String)] = [], host: String = "127.0.0.1") throws -> Response {
        var all: [(String, String)] = [("ce-specversion", "1.0"), ("ce-id", id), ("ce-type", type), ("ce-source", source)]
        for (name, value) in extensions.sorted(by: { $0.key < $1.key }) { all.append(("ce-\(name)", value)) }
        if let contentType { all.append(("Content-Type", contentType)) }
        return try post(path, headers: all + headers, body: Array(data.utf8), host: host)
    }

    public func post(_ path: String, method: String = "POST", headers: [(String, String)], body: [UInt8],
                     host: String = "127.0.0.1") throws -> Response {
        let fd = try connectToLoopback(port: port, receiveTimeout: 10)
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let request = Array((head + "\r\n").utf8) + body
        var offset = 0
        while offset < request.count {
            let sent = request[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { break }  // the server may answer early (413) and close
            offset += sent
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else { throw TestFailure("no response: \(text)") }
        var lines = text[..<headEnd.lowerBound].components(separatedBy: "\r\n")
        let status = Int(lines.removeFirst().split(separator: " ").dropFirst().first ?? "") ?? 0
        let parsed = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return Response(status: status, headers: parsed, body: String(text[headEnd.upperBound...]))
    }
}

/// A TCP socket connected to 127.0.0.1:`port`, whose reads give up after `receiveTimeout`
/// seconds. The caller closes it.
public func connectToLoopback(port: Int, receiveTimeout: Int = 10) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        throw TestFailure("cannot connect to \(port)")
    }
    return fd
}

/// A GET on 127.0.0.1: (status, body).
public func get(port: Int, path: String) throws -> (Int, String) {
    let response = try EventSender(port: port).post(path, method: "GET", headers: [], body: [])
    return (response.status, response.body)
}
