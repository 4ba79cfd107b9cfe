import Testing
@testable import SluiceHTTP

/// Parses `text` as a request head; returns the head or the error.
private func parse(_ text: String, limits: HeadLimits = HeadLimits()) -> Result<(HTTPHead, [UInt8]), HTTPError> {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { raw in
        guard let end = HTTPHeadParser.findHeadEnd(raw, from: 0) else { return .failure(.truncated) }
        var head = HTTPHead()
        do throws(HTTPError) {
            try HTTPHeadParser.parseRequest(raw, headEnd: end, limits: limits, into: &head)
            return .success((head, bytes))
        } catch {
            return .failure(error)
        }
    }
}

private func headerValue(_ head: HTTPHead, _ bytes: [UInt8], _ index: Int) -> String {
    let field = head.fields[index]
    return String(decoding: bytes[Int(field.valueStart)..<Int(field.valueEnd)], as: UTF8.self)
}

@Suite("HTTP head parser")
struct HeadParserTests {
    @Test("valid requests", arguments: [
        ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/", 1, 1),
        ("POST /ns/broker?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", "POST", "/ns/broker?x=1", 1, 2),
        ("GET /a HTTP/1.0\r\n\r\n", "GET", "/a", 0, 0),
        ("GET /lf HTTP/1.1\nHost: a\n\n", "GET", "/lf", 1, 1),
        ("\r\n\r\nGET /after-blank HTTP/1.1\r\nX:  padded value  \r\n\r\n", "GET", "/after-blank", 1, 1),
        ("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS", "*", 1, 1),
        ("BREW /pot HTTP/1.1\r\n\r\n", "BREW", "/pot", 1, 0),
    ])
    func validRequests(text: String, method: String, target: String, minor: Int, fields: Int) throws {
        let (head, bytes) = try parse(text).get()
        #expect(head.method.description == method)
        #expect(String(decoding: bytes[head.targetStart..<head.targetEnd], as: UTF8.self) == target)
        #expect(head.minorVersion == minor)
        #expect(head.fields.count == fields)
    }

    @Test func trimsOptionalWhitespace() throws {
        let (head, bytes) = try parse("GET / HTTP/1.1\r\nX-Pad: \t value with  inner \t \r\n\r\n").get()
        #expect(headerValue(head, bytes, 0) == "value with  inner")
    }

    @Test func framingFields() throws {
        let (chunked, _) = try parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nExpect: 100-Continue\r\n\r\n").get()
        #expect(chunked.chunked && chunked.expectContinue && chunked.contentLength == -1)
        let (closing, _) = try parse("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n").get()
        #expect(closing.connectionClose && !closing.keepAlive)
        let (old, _) = try parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").get()
        #expect(old.keepAlive)
        let (oldDefault, _) = try parse("GET / HTTP/1.0\r\n\r\n").get()
        #expect(!oldDefault.keepAlive)
        let (length, _) = try parse("POST / HTTP/1.1\r\ncontent-length: 0042\r\n\r\n").get()
        #expect(length.contentLength == 42)
    }

    @Test("malformed requests", arguments: [
        ("GET\r\n\r\n", HTTPError.badRequestLine),
        ("GET /\r\n\r\n", .badRequestLine),
        ("GET  / HTTP/1.1\r\n\r\n", .badRequestLine),
        ("GET / HTTP/1.1 \r\n\r\n", .badRequestLine),
        (" GET / HTTP/1.1\r\n\r\n", .badRequestLine),
        ("G(T / HTTP/1.1\r\n\r\n", .badRequestLine),
        ("GET /a\u{01}b HTTP/1.1\r\n\r\n", .badRequestLine),
        ("GET / HTTP/1.x\r\n\r\n", .badRequestLine),
        ("GET / FTP/1.1\r\n\r\n", .badRequestLine),
        ("GET / HTTP/2.0\r\n\r\n", .unsupportedVersion),
        ("GET / HTTP/1.1\rX\r\n\r\n", .badRequestLine),
        ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", .badHeader("invalid character in field name")),
        ("GET / HTTP/1.1\r\nName : v\r\n\r\n", .badHeader("whitespace before colon")),
        ("GET / HTTP/1.1\r\n: v\r\n\r\n", .badHeader("empty field name")),
        ("GET / HTTP/1.1\r\nBad\u{7F}Name: v\r\n\r\n", .badHeader("invalid character in field name")),
        ("GET / HTTP/1.1\r\nX: a\u{00}b\r\n\r\n", .badHeader("control character in field value")),
        ("GET / HTTP/1.1\r\nX: a\u{1B}b\r\n\r\n", .badHeader("control character in field value")),
        ("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", .badHeader("bare CR")),
        ("GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", .badHeader("obsolete line folding")),
        ("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", .duplicateContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", .duplicateContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", .badContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", .badContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", .badContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", .badContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", .contentLengthWithTransferEncoding),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferEncoding),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", .unsupportedTransferEncoding),
        ("POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", .unsupportedExpectation),
    ])
    func malformedRequests(text: String, expected: HTTPError) {
        switch parse(text) {
        case .success: Issue.record("accepted \(text.debugDescription)")
        case .failure(let error): #expect(error == expected, "\(text.debugDescription)")
        }
    }

    @Test func controlBytesAreFoundAtEveryPositionOfLongValues() {
        for position in 0..<24 {
            for (byte, allowed) in [(UInt8(0x01), false), (0x1F, false), (0x7F, false), (0x0D, false), (0x00, false),
                                    (0x09, true), (0x80, true), (0xFF, true), (0x20, true)] {
                var value = Array(repeating: UInt8(ascii: "v"), count: 24)
                value[position] = byte
                let bytes = Array("GET / HTTP/1.1\r\nX-Long: ".utf8) + value + Array("\r\n\r\n".utf8)
                let accepted = bytes.withUnsafeBytes { raw -> Bool in
                    var head = HTTPHead()
                    return (try? HTTPHeadParser.parseRequest(raw, headEnd: raw.count, limits: HeadLimits(), into: &head)) != nil
                }
                #expect(accepted == allowed, "byte \(byte) at \(position)")
            }
        }
    }

    @Test func tokenCharacters() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        for byte in 0...255 {
            #expect(isTokenChar(UInt8(byte)) == tchar.contains(UInt8(byte)), "byte \(byte)")
        }
    }

    @Test func statusCodesOfErrors() {
        #expect(HTTPError.unsupportedVersion.status.code == 505)
        #expect(HTTPError.tooManyHeaders(limit: 1).status.code == 431)
        #expect(HTTPError.headersTooLarge(limit: 1).status.code == 431)
        #expect(HTTPError.uriTooLong(limit: 1).status.code == 414)
        #expect(HTTPError.unsupportedTransferEncoding.status.code == 501)
        #expect(HTTPError.unsupportedExpectation.status.code == 417)
        #expect(HTTPError.bodyTooLarge(limit: 1).status.code == 413)
        #expect(HTTPError.badChunk("x").status.code == 400)
    }

    @Test func headerCountLimit() {
        let fields = (0..<101).map { "X-\($0): v\r\n" }.joined()
        #expect(throws: Never.self) { try parse("GET / HTTP/1.1\r\n" + (0..<100).map { "X-\($0): v\r\n" }.joined() + "\r\n").get() }
        switch parse("GET / HTTP/1.1\r\n" + fields + "\r\n") {
        case .failure(let error): #expect(error == .tooManyHeaders(limit: 100))
        case .success: Issue.record("101 headers accepted")
        }
    }

    @Test func requestLineLimit() {
        let long = "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n\r\n"
        switch parse(long) {
        case .failure(let error): #expect(error == .uriTooLong(limit: 8192))
        case .success: Issue.record("accepted a 9000-byte target")
        }
    }

    @Test func findsHeadEndAcrossPipelinedRequests() {
        let text = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
        Array(text.utf8).withUnsafeBytes { raw in
            #expect(HTTPHeadParser.findHeadEnd(raw, from: 0) == 19)
            let rest = UnsafeRawBufferPointer(rebasing: raw[19...])
            #expect(HTTPHeadParser.findHeadEnd(rest, from: 0) == 19)
        }
    }

    @Test func findsHeadEndFedByteByByte() {
        let bytes = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        var scanned = 0
        var found: Int?
        for count in 1...bytes.count {
            bytes[0..<count].withUnsafeBytes { raw in
                found = HTTPHeadParser.findHeadEnd(raw, from: scanned)
                scanned = HTTPHeadParser.resumeOffset(afterScanning: count)
            }
            if found != nil {
                #expect(count == bytes.count)
                break
            }
        }
        #expect(found == bytes.count)
    }

    @Test func parsesResponses() throws {
        let bytes = Array("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nTransfer-Encoding: chunked\r\nContent-Length: 7\r\n\r\n".utf8)
        var head = HTTPHead()
        try bytes.withUnsafeBytes { raw in
            let end = try #require(HTTPHeadParser.findHeadEnd(raw, from: 0))
            try HTTPHeadParser.parseResponse(raw, headEnd: end, limits: HeadLimits(), into: &head)
        }
        #expect(head.statusCode == 503)
        #expect(head.chunked)
        #expect(head.contentLength == -1)
        for bad in ["HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "HTTQ/1.1 200 OK\r\n\r\n"] {
            Array(bad.utf8).withUnsafeBytes { raw in
                var head = HTTPHead()
                #expect(throws: HTTPError.self) {
                    try HTTPHeadParser.parseResponse(raw, headEnd: raw.count, limits: HeadLimits(), into: &head)
                }
            }
        }
    }
}
