import Dispatch
import Glibc
import SluiceIO
import Synchronization

/// A deliberately simple blocking TCP server for client tests: each accepted connection runs
/// `script` on its own thread, which reads and writes raw bytes to act out a peer's behaviour
/// (chunked answers, closing early, never answering). Counts the connections it accepted.
final class ScriptedServer: Sendable {
    let listener: Int32
    let port: Int
    let accepted = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let threads = DispatchGroup()

    init(backlog: Int32 = 128, acceptConnections: Bool = true, script: @escaping @Sendable (ScriptedConnection) -> Void) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = SocketAddress.loopback(port: 0).withSockAddr { Glibc.bind(fd, $0, $1) }
        guard bound == 0, Glibc.listen(fd, backlog) == 0 else { throw IOError(errno: errno, call: "bind/listen") }
        listener = fd
        port = try Socket.localAddress(of: fd).port
        guard acceptConnections else { return }
        let group = threads
        group.enter()
        Thread.detach { [self] in
            defer { group.leave() }
            while !stopped.load(ordering: .relaxed) {
                var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if Glibc.poll(&poll, 1, 50) <= 0 { continue }
                let client = Glibc.accept(fd, nil, nil)
                if client < 0 { continue }
                accepted.wrappingAdd(1, ordering: .relaxed)
                group.enter()
                Thread.detach {
                    defer { group.leave() }
                    script(ScriptedConnection(fd: client))
                }
            }
        }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        _ = threads.wait(timeout: .now() + 5)
        Glibc.close(listener)
    }
}

/// The peer side of one connection, for a script.
final class ScriptedConnection: @unchecked Sendable {
    let fd: Int32
    private var pending: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        Glibc.close(fd)
    }

    /// Reads one request head plus its Content-Length body; nil on EOF or timeout.
    func readRequest() -> String? {
        while true {
            if let end = findSubsequence(pending, Array("\r\n\r\n".utf8)) {
                let head = String(decoding: pending[0..<end], as: UTF8.self)
                let length = head.split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int(trimSpaces($0.split(separator: ":")[1])) } ?? 0
                let total = end + 4 + length
                while pending.count < total {
                    guard fill() else { return nil }
                }
                let request = String(decoding: pending[0..<total], as: UTF8.self)
                pending.removeFirst(total)
                return request
            }
            guard fill() else { return nil }
        }
    }

    private func fill() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        pending += buffer[0..<n]
        return true
    }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    func close() {
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Closes with RST instead of FIN.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }
}

enum Thread {
    /// Runs `body` on a new detached thread.
    static func detach(_ body: @escaping @Sendable () -> Void) {
        (try? LoopThread(name: "test-peer", body))?.detach()
    }
}
