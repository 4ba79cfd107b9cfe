import Testing
@testable import SluiceHTTP

/// Decodes `raw` fed in pieces of `step` bytes; returns the body and the raw bytes consumed.
private func decode(_ raw: String, step: Int = .max, maxBody: Int = 1 << 20) throws(HTTPError) -> (body: String, consumed: Int) {
    var storage = Array(raw.utf8)
    var decoder = ChunkedDecoder(bodyStart: 0, maxBody: maxBody)
    var visible = 0
    while true {
        visible = min(storage.count, visible + max(1, min(step, storage.count)))
        let step: Result<Bool, HTTPError> = storage.withUnsafeMutableBytes { raw in
            Result { () throws(HTTPError) in try decoder.decode(UnsafeMutableRawBufferPointer(rebasing: raw[0..<visible])) }
        }
        let done = try step.get()
        if done { break }
        if visible == storage.count { throw .truncated }
    }
    let body = String(decoding: storage[decoder.bodyStart..<decoder.bodyEnd], as: UTF8.self)
    storage.removeAll()
    return (body, decoder.rawEnd)
}

@Suite("chunked decoding")
struct ChunkedDecoderTests {
    @Test("valid bodies", arguments: [
        ("5\r\nhello\r\n0\r\n\r\n", "hello"),
        ("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"),
        ("A\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
        ("a;name=value\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
        ("3\nabc\n0\n\n", "abc"),
        ("3\r\nabc\r\n0\r\nTrailer: x\r\nOther: y\r\n\r\n", "abc"),
        ("0\r\n\r\n", ""),
        ("000003\r\nabc\r\n0\r\n\r\n", "abc"),
    ])
    func validBodies(raw: String, body: String) throws {
        for step in [1, 2, 3, 7, Int.max] {
            let result = try decode(raw, step: step)
            #expect(result.body == body, "step \(step)")
            #expect(result.consumed == raw.utf8.count)
        }
    }

    @Test func stopsAtEndOfBodyLeavingPipelinedBytes() throws {
        var storage = Array("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n".utf8)
        var decoder = ChunkedDecoder(bodyStart: 0, maxBody: 100)
        let done = try storage.withUnsafeMutableBytes { raw in try decoder.decode(raw) }
        #expect(done)
        #expect(decoder.rawEnd == 13)
        #expect(String(decoding: storage[13...], as: UTF8.self).hasPrefix("GET"))
    }

    @Test("malformed bodies", arguments: [
        "zz\r\nabc\r\n0\r\n\r\n",
        "\r\nabc\r\n0\r\n\r\n",
        "3\r\nabcX\r\n0\r\n\r\n",
        "3\r\nabc\r\r\n0\r\n\r\n",
        "3\rX\nabc\r\n0\r\n\r\n",
        "-3\r\nabc\r\n0\r\n\r\n",
        "3 junk\u{01}\r\nabc\r\n0\r\n\r\n",
        "0\r\nTrailer: \u{01}\r\n\r\n",
        "0\r\n\rX",
        "fffffffffffffffffff\r\n",
    ])
    func malformedBodies(raw: String) {
        #expect(throws: HTTPError.self) { try decode(raw) }
    }

    @Test func rawFramingIsBoundedToo() throws {
        // Endless leading zeros never grow the size past zero, but are still framing.
        #expect(throws: HTTPError.self) { try decode(String(repeating: "0", count: 100) + "5\r\nhello\r\n0\r\n\r\n") }
        // Extensions are limited over the whole message, not per chunk.
        let chatty = String(repeating: "1;" + String(repeating: "e", count: 1000) + "\r\nx\r\n", count: 10) + "0\r\n\r\n"
        #expect(throws: HTTPError.self) { try decode(chatty) }
        // One-byte chunks: five bytes of framing per byte of body, refused once past the allowance.
        let tiny = String(repeating: "1\r\nx\r\n", count: 20_000) + "0\r\n\r\n"
        #expect(throws: HTTPError.badChunk("chunk framing too large for the body it carries")) { try decode(tiny) }
        // Ordinary chunking of a large body passes.
        let chunk = String(repeating: "y", count: 4096)
        let large = String(repeating: "1000\r\n" + chunk + "\r\n", count: 64) + "0\r\n\r\n"
        #expect(try decode(large).body.count == 64 * 4096)
    }

    @Test func enforcesBodyLimit() {
        #expect(throws: HTTPError.bodyTooLarge(limit: 8)) { try decode("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", maxBody: 8) }
        #expect(throws: HTTPError.bodyTooLarge(limit: 8)) { try decode("ffffff\r\n", maxBody: 8) }
    }
}
