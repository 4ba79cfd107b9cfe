import Testing
@testable import SluiceHTTP

/// Feeds `stream` to a framer `step` bytes at a time, the way reads arrive, consuming each
/// request as the server does. Returns the bodies found, or the first error.
private func frame(_ stream: String, step: Int, maxBody: Int = 1 << 20) -> ([String], HTTPError?) {
    var framer = RequestFramer(limits: HeadLimits(), maxBodyBytes: maxBody)
    var input = Array(stream.utf8)
    var visible = 0
    var bodies: [String] = []
    while true {
        visible = min(input.count, visible + step)
        var progress = true
        while progress {
            progress = false
            let result = input.withUnsafeMutableBytes { raw in framer.next(UnsafeMutableRawBufferPointer(rebasing: raw[0..<visible])) }
            switch result {
            case .request(let start, let end, let consumed):
                bodies.append(String(decoding: input[start..<end], as: UTF8.self))
                input.removeFirst(consumed)
                visible -= consumed
                progress = true
            case .failed(let error):
                return (bodies, error)
            case .needMore, .awaitingBody:
                break
            }
        }
        if visible == input.count { return (bodies, nil) }
    }
}

@Suite("request framing")
struct RequestFramerTests {
    static let pipeline = "GET /a HTTP/1.1\r\n\r\n"
        + "POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        + "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nwo\r\n3\r\nrld\r\n0\r\n\r\n"
        + "\r\nPOST /d HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
        + "POST /e HTTP/1.1\nContent-Length: 3\n\nend"

    @Test(arguments: [1, 2, 5, 13, 64, 10_000])
    func pipelinedRequestsInAnySlicing(step: Int) {
        let (bodies, error) = frame(Self.pipeline, step: step)
        #expect(error == nil)
        #expect(bodies == ["", "hello", "world", "", "end"])
    }

    @Test func awaitingBodyIsReportedOnceHeadIsDone() {
        var framer = RequestFramer(limits: HeadLimits(), maxBodyBytes: 100)
        var bytes = Array("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n".utf8)
        let first = bytes.withUnsafeMutableBytes { framer.next($0) }
        guard case .awaitingBody = first else {
            Issue.record("expected awaitingBody, got \(first)")
            return
        }
        #expect(framer.head.expectContinue)
        #expect(framer.bytesNeeded == bytes.count + 4)
        bytes += Array("body".utf8)
        let second = bytes.withUnsafeMutableBytes { framer.next($0) }
        guard case .request(_, _, let consumed) = second else {
            Issue.record("expected request, got \(second)")
            return
        }
        #expect(consumed == bytes.count)
        #expect(framer.phase == .idle)
    }

    @Test func limitsAreEnforcedBeforeTheBodyArrives() {
        #expect(frame("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", step: 1000, maxBody: 100).1 == .bodyTooLarge(limit: 100))
        #expect(frame("GET /" + String(repeating: "x", count: 20_000), step: 1000).1 == .uriTooLong(limit: 8192))
        #expect(frame("GET / HTTP/1.1\r\nX: " + String(repeating: "x", count: 20_000), step: 1000).1 == .headersTooLarge(limit: 16384))
    }
}
