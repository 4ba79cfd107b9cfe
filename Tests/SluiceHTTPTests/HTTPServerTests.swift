import Dispatch
import Glibc
import SluiceHTTP
import SluiceIO
import Testing

@Suite("HTTP server over real sockets", .serialized)
struct HTTPServerTests {
    @Test func keepAliveReusesOneConnection() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        for index in 0..<50 {
            try client.send("GET /echo/\(index) HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try client.receiveResponse()
            #expect(response.status == 200)
            #expect(response.bodyText == "\(index)")
            #expect(response.header("Connection") == nil)
            #expect(response.header("Date") != nil)
        }
        #expect(fixture.server.connectionCount == 1)
    }

    @Test func pipelinedRequestsAnsweredInOrder() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        // A deferred answer in the middle must not let later responses overtake it.
        var batch = ""
        for index in 0..<10 {
            batch += index == 3 ? "GET /later/50 HTTP/1.1\r\nHost: t\r\n\r\n" : "GET /echo/\(index) HTTP/1.1\r\nHost: t\r\n\r\n"
        }
        try client.send(batch)
        let responses = try client.receiveResponses(10)
        for (index, response) in responses.enumerated() {
            #expect(response.bodyText == (index == 3 ? "later 50" : "\(index)"))
        }
    }

    @Test func pipelinedPostsWithBodies() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        var batch = ""
        for index in 0..<10 {
            let body = "body-\(index)"
            batch += index % 2 == 0
                ? "POST /echo HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                : "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbod\r\n\(String(body.utf8.count - 3, radix: 16))\r\n\(body.dropFirst(3))\r\n0\r\n\r\n"
        }
        try client.send(batch)
        let responses = try client.receiveResponses(10)
        #expect(responses.map(\.bodyText) == (0..<10).map { "body-\($0)" })
    }

    @Test func routingAnswers404And405() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        try client.send("GET /missing HTTP/1.1\r\n\r\nDELETE /hello HTTP/1.1\r\n\r\nGET /hello/ HTTP/1.1\r\n\r\n")
        let responses = try client.receiveResponses(3)
        #expect(responses[0].status == 404)
        #expect(responses[1].status == 405)
        #expect(responses[1].header("Allow") == "GET")
        #expect(responses[2].status == 200)
        // HEAD is served by the GET route, announcing the length without sending the body.
        try client.send("HEAD /hello HTTP/1.1\r\n\r\n")
        let head = String(decoding: try client.receiveSome(), as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 200"))
        #expect(head.contains("Content-Length: 5\r\n"))
        #expect(head.hasSuffix("\r\n\r\n"))
    }

    @Test func expectContinue() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        try client.send("POST /echo HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let interim = String(decoding: try client.receiveSome(), as: UTF8.self)
        #expect(interim == "HTTP/1.1 100 Continue\r\n\r\n")
        try client.send("hello")
        #expect(try client.receiveResponse().bodyText == "hello")
        // Too large: refused before the body is sent.
        try client.send("POST /echo HTTP/1.1\r\nContent-Length: 99999999\r\nExpect: 100-continue\r\n\r\n")
        let refused = try client.receiveResponse()
        #expect(refused.status == 413)
        #expect(refused.header("Connection") == "close")
    }

    @Test func bodyLimits() throws {
        let fixture = try TestServer(configure: { $0.maxBodyBytes = 1024 })
        defer { fixture.stop() }
        let exact = try RawClient(port: fixture.port)
        try exact.send("POST /echo HTTP/1.1\r\nContent-Length: 1024\r\n\r\n" + String(repeating: "x", count: 1024))
        #expect(try exact.receiveResponse().body.count == 1024)

        let over = try RawClient(port: fixture.port)
        try over.send("POST /echo HTTP/1.1\r\nContent-Length: 1025\r\n\r\n" + String(repeating: "x", count: 1025))
        let response = try over.receiveResponse()
        #expect(response.status == 413)
        #expect(over.isClosedByPeer())

        let chunked = try RawClient(port: fixture.port)
        try chunked.send("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + String(repeating: "x", count: 1024) + "\r\n1\r\nx\r\n0\r\n\r\n")
        #expect(try chunked.receiveResponse().status == 413)
    }

    @Test func largeBodiesRoundTrip() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        let body = (0..<(3 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try client.send(Array("POST /echo HTTP/1.1\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        let response = try client.receiveResponse()
        #expect(response.body == body)
        try client.send("GET /big/100000 HTTP/1.1\r\n\r\n")
        #expect(try client.receiveResponse().body.count == 100_000)
    }

    @Test("malformed input gets a 4xx and the connection closed", arguments: [
        ("GARBAGE\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
        ("GET / HTTP/3.0\r\n\r\n", 505),
        ("POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400),
        ("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("POST /echo HTTP/1.1\r\nTransfer-Encoding: deflate\r\n\r\n", 501),
        ("\u{16}\u{03}\u{01}\u{00}\u{a5}\u{01}\u{00}\u{00}\u{a1}\u{03}\u{03}\r\n\r\n", 400),
    ])
    func malformedInput(text: String, status: Int) throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        try client.send(text)
        let response = try client.receiveResponse()
        #expect(response.status == status)
        #expect(response.header("Connection") == "close")
        #expect(!response.bodyText.isEmpty)
        #expect(client.isClosedByPeer())
        try expectStillServing(fixture)
    }

    @Test func oversizedHeadsGet431Or414() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let big = try RawClient(port: fixture.port)
        try big.send("GET / HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 17 * 1024) + "\r\n\r\n")
        #expect(try big.receiveResponse().status == 431)
        let longLine = try RawClient(port: fixture.port)
        try longLine.send("GET /" + String(repeating: "a", count: 17 * 1024))
        #expect(try longLine.receiveResponse().status == 414)
        let many = try RawClient(port: fixture.port)
        try many.send("GET / HTTP/1.1\r\n" + (0..<101).map { "X-\($0): v\r\n" }.joined() + "\r\n")
        #expect(try many.receiveResponse().status == 431)
        try expectStillServing(fixture)
    }

    @Test func garbageAndTruncatedRequestsLeaveServerServing() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        var generator = SystemRandomNumberGenerator()
        for round in 0..<40 {
            let client = try RawClient(port: fixture.port, receiveTimeout: 2)
            let length = Int.random(in: 1...2048, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if round % 4 == 0 { bytes = Array("POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly-part".utf8) }
            if round % 4 == 1 { bytes = Array("GET /hello HTTP/1.1\r\nHost: x".utf8) }
            try? client.send(bytes)
            client.shutdownWrite()  // truncated: the rest never comes
            _ = try? client.receiveAll()
        }
        try expectStillServing(fixture)
    }

    @Test func slowClientIsTimedOutWithoutBlockingOthers() throws {
        let fixture = try TestServer(loops: 1, configure: { $0.headerTimeout = .seconds(2) })
        defer { fixture.stop() }
        let slow = try RawClient(port: fixture.port, receiveTimeout: 6)
        let started = Monotonic.now()
        let request = Array("GET /hello HTTP/1.1\r\nHost: slow\r\nX-Padding: aaaaaaaaaaaaaaaaaaaa\r\n\r\n".utf8)
        let sender = DispatchQueue(label: "slow-sender")
        sender.async {
            for byte in request {
                guard (try? slow.send([byte])) != nil else { return }
                usleep(1_000_000)
            }
        }
        // Meanwhile, on the same (single) loop, others are served promptly.
        for _ in 0..<20 {
            let other = try RawClient(port: fixture.port, receiveTimeout: 1)
            try other.send("GET /hello HTTP/1.1\r\n\r\n")
            #expect(try other.receiveResponse().status == 200)
        }
        let response = try slow.receiveResponse()
        let elapsed = Double(Monotonic.now() - started) / 1e9
        #expect(response.status == 408)
        #expect(elapsed >= 1.5 && elapsed < 5, "timed out after \(elapsed) s")
        #expect(slow.isClosedByPeer())
    }

    @Test func idleKeepAliveConnectionsAreClosed() throws {
        let fixture = try TestServer(configure: { $0.idleTimeout = .milliseconds(300) })
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        try client.send("GET /hello HTTP/1.1\r\n\r\n")
        #expect(try client.receiveResponse().status == 200)
        #expect(client.isClosedByPeer())
        try waitUntil { fixture.server.connectionCount == 0 }
    }

    @Test func thousandIdleConnectionsWhileServing() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        var idle: [RawClient] = []
        for _ in 0..<1000 { idle.append(try RawClient(port: fixture.port)) }
        // Half of them also send a partial request head.
        for client in idle.prefix(500) { try client.send("GET /hel") }
        try waitUntil { fixture.server.connectionCount >= 1000 }
        let started = Monotonic.now()
        for index in 0..<200 {
            let client = try RawClient(port: fixture.port, receiveTimeout: 1)
            try client.send("GET /echo/\(index) HTTP/1.1\r\n\r\n")
            #expect(try client.receiveResponse().bodyText == "\(index)")
        }
        let elapsed = Double(Monotonic.now() - started) / 1e9
        #expect(elapsed < 5, "200 requests beside 1000 idle connections took \(elapsed) s")
        // The idle ones still work.
        try idle[999].send("GET /hello HTTP/1.1\r\n\r\n")
        #expect(try idle[999].receiveResponse().status == 200)
    }

    @Test func connectionCapRefusesCleanly() throws {
        let fixture = try TestServer(loops: 1, configure: { $0.maxConnections = 5 })
        defer { fixture.stop() }
        let held = try (0..<5).map { _ in try RawClient(port: fixture.port) }
        try waitUntil { fixture.server.connectionCount == 5 }
        let refused = try RawClient(port: fixture.port)
        let response = try refused.receiveResponse()
        #expect(response.status == 503)
        #expect(response.header("Retry-After") == "1")
        try held[0].send("GET /hello HTTP/1.1\r\n\r\n")
        #expect(try held[0].receiveResponse().status == 200)
    }

    @Test func http10ClosesUnlessKeepAlive() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let plain = try RawClient(port: fixture.port)
        try plain.send("GET /hello HTTP/1.0\r\n\r\n")
        #expect(try plain.receiveResponse().header("Connection") == "close")
        #expect(plain.isClosedByPeer())
        let kept = try RawClient(port: fixture.port)
        try kept.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try kept.receiveResponse().header("Connection") == "keep-alive")
        try kept.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try kept.receiveResponse().status == 200)
    }

    @Test func halfClosedClientStillGetsItsAnswer() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        try client.send("GET /later/100 HTTP/1.1\r\n\r\n")
        client.shutdownWrite()
        #expect(try client.receiveResponse().bodyText == "later 100")
        #expect(client.isClosedByPeer())
    }

    @Test func halfCloseAfterPipelinedRequestsStillGetsEveryAnswer() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        // Large answers that cannot all be written at once, then FIN.
        try client.send(String(repeating: "GET /big/1000000 HTTP/1.1\r\n\r\n", count: 4))
        client.shutdownWrite()
        usleep(100_000)
        let responses = try client.receiveResponses(4)
        #expect(responses.map(\.body.count) == [1_000_000, 1_000_000, 1_000_000, 1_000_000])
        #expect(client.isClosedByPeer())
    }

    @Test func gracefulShutdownFinishesInFlightRequests() throws {
        let fixture = try TestServer()
        let busy = try RawClient(port: fixture.port)
        try busy.send("GET /park HTTP/1.1\r\n\r\n")
        try waitUntil { fixture.counters.parkedCount == 1 }
        let idle = try RawClient(port: fixture.port)
        try idle.send("GET /hello HTTP/1.1\r\n\r\n")
        _ = try idle.receiveResponse()
        let stopper = DispatchQueue(label: "stopper")
        let stopped = DispatchSemaphore(value: 0)
        stopper.async {
            fixture.server.shutdown(grace: .seconds(5))
            stopped.signal()
        }
        #expect(idle.isClosedByPeer())
        #expect((try? RawClient(port: fixture.port)) == nil || true)  // refused or closed: both fine
        fixture.releaseParked()
        let answer = try busy.receiveResponse()
        #expect(answer.bodyText == "released")
        #expect(answer.header("Connection") == "close")
        #expect(stopped.wait(timeout: .now() + 5) == .success)
        fixture.group.shutdown()
    }

    private func expectStillServing(_ fixture: TestServer) throws {
        let check = try RawClient(port: fixture.port)
        try check.send("GET /hello HTTP/1.1\r\n\r\n")
        #expect(try check.receiveResponse().bodyText == "hello")
    }
}

/// Polls `condition` for up to `seconds`.
func waitUntil(seconds: Double = 5, _ condition: () -> Bool) throws {
    let deadline = Monotonic.now() + UInt64(seconds * 1e9)
    while !condition() {
        if Monotonic.now() > deadline { throw IOError(errno: ETIMEDOUT, call: "waitUntil") }
        usleep(5_000)
    }
}
