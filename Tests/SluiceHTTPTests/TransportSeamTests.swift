import Dispatch
import Glibc
import SluiceHTTP
import SluiceIO
import Synchronization
import Testing

/// A transport that passes everything to a plain socket and counts the bytes it moved: what a
/// TLS transport will sit where.
private final class CountingTransport: StreamTransport, @unchecked Sendable {
    let inner: SocketTransport
    let counts: Counts

    final class Counts: Sendable {
        let read = Atomic<Int>(0)
        let written = Atomic<Int>(0)
        let closed = Atomic<Int>(0)
    }

    init(_ socket: Int32, counts: Counts) {
        inner = SocketTransport(descriptor: socket)
        self.counts = counts
    }

    var descriptor: Int32 { inner.descriptor }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> IOResult<Int> {
        let result = try inner.read(into: buffer)
        if case .done(let count) = result { counts.read.add(count, ordering: .relaxed) }
        return result
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) -> IOResult<Int> {
        let result = try inner.write(bytes)
        if case .done(let count) = result { counts.written.add(count, ordering: .relaxed) }
        return result
    }

    func write(vectors: UnsafeBufferPointer<iovec>) throws(IOError) -> IOResult<Int> {
        let result = try inner.write(vectors: vectors)
        if case .done(let count) = result { counts.written.add(count, ordering: .relaxed) }
        return result
    }

    func shutdownWrite() { inner.shutdownWrite() }

    func close() {
        counts.closed.add(1, ordering: .relaxed)
        inner.close()
    }
}

@Suite("transport seam")
struct TransportSeamTests {
    @Test func serverAndClientMoveEveryByteThroughTheirTransport() throws {
        let serverCounts = CountingTransport.Counts()
        let fixture = try TestServer(configure: { configuration in
            configuration.makeTransport = { CountingTransport($0, counts: serverCounts) }
        })
        defer { fixture.stop() }
        let group = try EventLoopGroup(loopCount: 1)
        var configuration = HTTPClientConfiguration()
        let clientCounts = CountingTransport.Counts()
        configuration.makeTransport = { socket, _ in CountingTransport(socket, counts: clientCounts) }
        let client = HTTPClient(group: group, configuration: configuration)
        defer { client.shutdown(); group.shutdown() }

        // A body past the by-reference threshold takes the vectored write.
        let body = [UInt8](repeating: 0x61, count: 64 * 1024)
        let url = try #require(HTTPURL("http://127.0.0.1:\(fixture.port)/echo"))
        let done = DispatchSemaphore(value: 0)
        let status = Atomic<Int>(0)
        client.execute(HTTPClientRequest(method: .post, url: url, body: body)) { result in
            if case .success(let response) = result, response.body == body { status.store(response.status, ordering: .relaxed) }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(status.load(ordering: .relaxed) == 200, "the echo came back whole")
        #expect(clientCounts.written.load(ordering: .relaxed) > body.count)
        #expect(serverCounts.read.load(ordering: .relaxed) == clientCounts.written.load(ordering: .relaxed),
                "the server read through its transport what the client wrote through its own")
        // The server counts its write once the call returned, which may be after the client
        // already read the bytes.
        #expect(eventually { clientCounts.read.load(ordering: .relaxed) == serverCounts.written.load(ordering: .relaxed) },
                "the client read through its transport what the server wrote through its own")
        client.shutdown()
        #expect(eventually { clientCounts.closed.load(ordering: .relaxed) == 1 }, "closing goes through the transport too")
    }
}

private func eventually(_ condition: () -> Bool) -> Bool {
    for _ in 0..<200 {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
