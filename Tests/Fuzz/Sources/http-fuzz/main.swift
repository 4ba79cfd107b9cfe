import SluiceHTTP

/// libFuzzer entry: runs the server's request framing (head parser, Content-Length and chunked
/// bodies, pipelining) over the input exactly as a connection would, split into two reads at a
/// position taken from the first byte. Any crash, hang or sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    var input = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let split = input.isEmpty ? 0 : Int(data[0]) % (input.count + 1)
    var framer = RequestFramer(limits: HeadLimits(maxHeadBytes: 4096, maxRequestLineBytes: 1024, maxHeaderCount: 32),
                               maxBodyBytes: 64 * 1024)
    var visible = split
    for pass in 0..<2 {
        if pass == 1 { visible = input.count }
        loop: while true {
            let step = input.withUnsafeMutableBytes { raw in
                framer.next(UnsafeMutableRawBufferPointer(rebasing: raw[0..<visible]))
            }
            switch step {
            case .request(let bodyStart, let bodyEnd, let consumed):
                precondition(bodyStart <= bodyEnd && bodyEnd <= consumed && consumed <= visible, "framing out of bounds")
                input.removeFirst(consumed)
                visible -= consumed
            case .failed:
                return 0
            case .needMore, .awaitingBody:
                break loop
            }
        }
    }
    return 0
}
