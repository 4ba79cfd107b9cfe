import Dispatch
import Glibc
import SluiceHTTP
import SluiceIO
import Synchronization
import Testing

/// Sends `request` and waits for the result (tests only: blocks the calling thread).
private func fetch(_ client: HTTPClient, _ request: HTTPClientRequest) -> Result<HTTPClientResponse, HTTPError> {
    let box = Locked<Result<HTTPClientResponse, HTTPError>?>(nil)
    let done = DispatchSemaphore(value: 0)
    client.execute(request) { result in
        box.withLock { $0 = result }
        done.signal()
    }
    if done.wait(timeout: .now() + 15) == .timedOut { return .failure(.responseTimeout) }
    return box.withLock { $0 } ?? .failure(.shutdown)
}

private func url(_ text: String) throws -> HTTPURL {
    try #require(HTTPURL(text))
}

@Suite("HTTP client against real peers", .serialized)
struct HTTPClientTests {
    @Test func poolReusesConnections() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        defer { client.shutdown(); group.shutdown() }
        for index in 0..<100 {
            let response = try fetch(client, HTTPClientRequest(url: url("http://127.0.0.1:\(fixture.port)/echo/\(index)"))).get()
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "\(index)")
        }
        #expect(fixture.server.connectionCount == 1)
        #expect(client.openConnectionCount(to: Origin(host: "127.0.0.1", port: fixture.port)) == 1)
    }

    @Test func concurrentRequestsStayWithinPoolLimit() throws {
        let peer = try ScriptedServer { connection in
            while connection.readRequest() != nil {
                usleep(2_000)
                connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            }
        }
        defer { peer.stop() }
        let group = try EventLoopGroup(loopCount: 1)
        var configuration = HTTPClientConfiguration()
        configuration.maxConnectionsPerOrigin = 4
        let client = HTTPClient(group: group, configuration: configuration)
        defer { client.shutdown(); group.shutdown() }
        let results = Locked<[Int]>([])
        let done = DispatchGroup()
        let target = try url("http://127.0.0.1:\(peer.port)/")
        for _ in 0..<200 {
            done.enter()
            client.execute(HTTPClientRequest(method: .post, url: target, body: Array("x".utf8))) { result in
                results.withLock { $0.append((try? result.get().status) ?? -1) }
                done.leave()
            }
        }
        #expect(done.wait(timeout: .now() + 20) == .success)
        #expect(results.withLock { $0 }.allSatisfy { $0 == 200 })
        #expect(peer.accepted.load(ordering: .relaxed) == 4)
    }

    @Test func headersAndBodyReachTheServer() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        defer { client.shutdown(); group.shutdown() }
        let headers = try fetch(client, HTTPClientRequest(url: url("http://127.0.0.1:\(fixture.port)/headers"),
                                                          headers: [("Ce-Id", "1"), ("X-Trace", "abc")])).get()
        let text = String(decoding: headers.body, as: UTF8.self)
        #expect(text.contains("Ce-Id=1\n"))
        #expect(text.contains("X-Trace=abc\n"))
        #expect(text.contains("Host=127.0.0.1:\(fixture.port)\n"))
        let body = (0..<(2 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let echoed = try fetch(client, HTTPClientRequest(method: .post, url: url("http://127.0.0.1:\(fixture.port)/echo"), body: body)).get()
        #expect(echoed.body == body)
    }

    @Test func chunkedAndCloseDelimitedResponses() throws {
        let peer = try ScriptedServer { connection in
            guard let request = connection.readRequest() else { return }
            if request.hasPrefix("GET /chunked") {
                connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5\r\nhello\r\n")
                usleep(20_000)
                connection.write("7;ext=1\r\n, world\r\n0\r\nTrailer: t\r\n\r\n")
                _ = connection.readRequest()
            } else {
                connection.write("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
                connection.close()
            }
        }
        defer { peer.stop() }
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        defer { client.shutdown(); group.shutdown() }
        let chunked = try fetch(client, HTTPClientRequest(url: url("http://127.0.0.1:\(peer.port)/chunked"))).get()
        #expect(String(decoding: chunked.body, as: UTF8.self) == "hello, world")
        #expect(chunked.header("x-a") == "1")
        let delimited = try fetch(client, HTTPClientRequest(url: url("http://127.0.0.1:\(peer.port)/eof"))).get()
        #expect(String(decoding: delimited.body, as: UTF8.self) == "until the end")
    }

    @Test func responseTimeout() throws {
        let fixture = try TestServer()
        defer {
            fixture.releaseParked()
            fixture.stop()
        }
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        defer { client.shutdown(); group.shutdown() }
        let started = Monotonic.now()
        let result = fetch(client, HTTPClientRequest(url: try url("http://127.0.0.1:\(fixture.port)/park"), timeout: .milliseconds(300)))
        let elapsed = Double(Monotonic.now() - started) / 1e9
        #expect(throws: HTTPError.responseTimeout) { try result.get() }
        #expect(elapsed >= 0.25 && elapsed < 2)
    }

    @Test func connectTimeoutAgainstAFullBacklog() throws {
        // A listener that never accepts, with its backlog filled: further SYNs are dropped.
        let peer = try ScriptedServer(backlog: 0, acceptConnections: false) { _ in }
        defer { peer.stop() }
        var fillers: [RawClient] = []
        for _ in 0..<4 { if let filler = try? RawClient(port: peer.port, receiveTimeout: 1) { fillers.append(filler) } }
        let group = try EventLoopGroup(loopCount: 1)
        var configuration = HTTPClientConfiguration()
        configuration.connectTimeout = .milliseconds(300)
        let client = HTTPClient(group: group, configuration: configuration)
        defer { client.shutdown(); group.shutdown() }
        let result = fetch(client, HTTPClientRequest(url: try url("http://127.0.0.1:\(peer.port)/")))
        #expect(throws: HTTPError.connectTimeout) { try result.get() }
    }

    @Test func errorsAreClassified() throws {
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        defer { client.shutdown(); group.shutdown() }
        // A port nobody listens on.
        let closedPort = try ScriptedServer(acceptConnections: false) { _ in }
        let port = closedPort.port
        closedPort.stop()
        #expect(throws: HTTPError.connectionRefused) { try fetch(client, HTTPClientRequest(url: url("http://127.0.0.1:\(port)/"))).get() }
        let dns = fetch(client, HTTPClientRequest(url: try url("http://no-such-host.invalid/")))
        guard case .failure(.dnsFailure(let host, _)) = dns else {
            Issue.record("expected a DNS failure, got \(dns)")
            return
        }
        #expect(host == "no-such-host.invalid")
        // A server that resets instead of answering.
        let resetter = try ScriptedServer { connection in
            _ = connection.readRequest()
            connection.reset()
        }
        defer { resetter.stop() }
        let reset = fetch(client, HTTPClientRequest(method: .post, url: try url("http://127.0.0.1:\(resetter.port)/")))
        #expect(reset.isTransportFailure)
    }

    @Test func serverClosingPooledConnectionsIsSurvived() throws {
        // Answers one request per connection, announcing keep-alive, then closes: every pooled
        // connection the client keeps is stale by the time it is reused.
        let peer = try ScriptedServer { connection in
            guard connection.readRequest() != nil else { return }
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            usleep(10_000)
            connection.close()
        }
        defer { peer.stop() }
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        defer { client.shutdown(); group.shutdown() }
        let target = try url("http://127.0.0.1:\(peer.port)/")
        for _ in 0..<10 {
            #expect(try fetch(client, HTTPClientRequest(method: .post, url: target, resendOnStaleConnection: true)).get().status == 200)
            usleep(30_000)  // let the close arrive while the connection sits in the pool
        }
        // Reused before the close is noticed: the resend covers the race.
        for _ in 0..<10 {
            #expect(try fetch(client, HTTPClientRequest(method: .post, url: target, resendOnStaleConnection: true)).get().status == 200)
        }
        #expect(peer.accepted.load(ordering: .relaxed) >= 20)
    }

    @Test func postReadAndUnansweredIsNotSentAgain() throws {
        // The peer answers the first request with keep-alive, reads the second on the same
        // connection and closes without answering: the POST reached it, so resending it at
        // once would be an uncounted delivery attempt.
        let requests = Atomic<Int>(0)
        let peer = try ScriptedServer { connection in
            guard connection.readRequest() != nil else { return }
            requests.wrappingAdd(1, ordering: .relaxed)
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            guard connection.readRequest() != nil else { return }
            requests.wrappingAdd(1, ordering: .relaxed)
            connection.close()
        }
        defer { peer.stop() }
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        defer { client.shutdown(); group.shutdown() }
        let target = try url("http://127.0.0.1:\(peer.port)/")
        #expect(try fetch(client, HTTPClientRequest(method: .post, url: target, body: Array("one".utf8))).get().status == 200)
        let second = fetch(client, HTTPClientRequest(method: .post, url: target, body: Array("two".utf8)))
        #expect(second.isTransportFailure, "the unanswered POST fails instead of going out again")
        usleep(100_000)
        #expect(requests.load(ordering: .relaxed) == 2, "the peer saw each POST once")
        #expect(peer.accepted.load(ordering: .relaxed) == 1, "no second connection was opened for a resend")
    }

    @Test func serverIdleTimeoutClosesPooledConnection() throws {
        let fixture = try TestServer(configure: { $0.idleTimeout = .milliseconds(100) })
        defer { fixture.stop() }
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        defer { client.shutdown(); group.shutdown() }
        let target = try url("http://127.0.0.1:\(fixture.port)/hello")
        #expect(try fetch(client, HTTPClientRequest(url: target)).get().status == 200)
        usleep(300_000)
        #expect(client.openConnectionCount(to: target.origin) == 0)
        #expect(try fetch(client, HTTPClientRequest(url: target)).get().status == 200)
    }

    @Test func headersThatWouldSplitTheRequestAreRefused() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        defer { client.shutdown(); group.shutdown() }
        let target = try url("http://127.0.0.1:\(fixture.port)/hello")
        let split = fetch(client, HTTPClientRequest(url: target, headers: [("X-A", "1\r\nX-Injected: 2")]))
        guard case .failure(.invalidRequestHeader) = split else {
            Issue.record("expected invalidRequestHeader, got \(split)")
            return
        }
        // The connection is still usable afterwards.
        #expect(try fetch(client, HTTPClientRequest(url: target)).get().status == 200)
    }

    @Test func shutdownWithRequestsInFlightCompletesThem() throws {
        let fixture = try TestServer()
        defer { fixture.stop() }
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        let done = DispatchSemaphore(value: 0)
        client.execute(HTTPClientRequest(url: try url("http://127.0.0.1:\(fixture.port)/later/200"))) { result in
            #expect((try? result.get().status) == 200)
            done.signal()
        }
        usleep(50_000)
        client.shutdown()
        #expect(done.wait(timeout: .now() + 5) == .success)
        group.shutdown()
    }

    @Test func urlParsing() {
        let full = HTTPURL("http://Sub.Example.svc.cluster.local:8080/path/x?y=1#frag")
        #expect(full?.host == "sub.example.svc.cluster.local")
        #expect(full?.port == 8080)
        #expect(full?.target == "/path/x?y=1")
        #expect(HTTPURL("http://a")?.target == "/")
        #expect(HTTPURL("http://a?q")?.target == "/?q")
        #expect(HTTPURL("http://[::1]:9/x")?.host == "[::1]")
        let secure = HTTPURL("https://A.example/x")
        #expect(secure?.port == 443 && secure?.origin.secure == true && secure?.description == "https://a.example/x")
        #expect(HTTPURL("https://a:8443")?.origin == Origin(host: "a", port: 8443, secure: true))
        #expect(HTTPURL("http://a:443")?.origin.secure == false, "the scheme, not the port, says TLS")
        for bad in ["ftp://a", "http://", "http://a:0/", "http://a:99999/", "http://u@a/", "a/b", "http://a/ b"] {
            #expect(HTTPURL(bad) == nil, "\(bad)")
        }
    }
}

extension Result where Failure == HTTPError {
    var isTransportFailure: Bool {
        if case .failure(let error) = self { return error.isTransportFailure }
        return false
    }
}
