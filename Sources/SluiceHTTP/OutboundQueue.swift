import Glibc
import SluiceIO

/// Bytes waiting to be written to a socket: a reusable buffer for heads and small bodies, plus
/// at most one large body kept by reference at the end (written with `writev`, never copied).
final class OutboundQueue {
    let buffer: ByteBuffer
    private var tail: [UInt8] = []
    private var tailSent = 0
    /// Bodies at least this large go out by reference instead of being copied.
    static let referenceThreshold = 16 * 1024

    enum FlushResult {
        case done, blocked, failed(IOError)
    }

    init(capacity: Int = 4096) {
        buffer = ByteBuffer(capacity: capacity)
    }

    var isEmpty: Bool { buffer.isEmpty && tailSent == tail.count }
    var pendingCount: Int { buffer.readableCount + tail.count - tailSent }

    /// The buffer to append to. A body held by reference must stay last, so it is copied in
    /// first when more bytes follow it (rare: a pipelined response behind a large one).
    var appendable: ByteBuffer {
        if tailSent < tail.count {
            tail[tailSent...].withUnsafeBytes { buffer.append($0) }
            tail = []
            tailSent = 0
        }
        return buffer
    }

    /// Queues `body` after everything else, by reference when it is large.
    func appendBody(_ body: [UInt8]) {
        if body.count >= OutboundQueue.referenceThreshold {
            _ = appendable
            tail = body
            tailSent = 0
        } else if !body.isEmpty {
            appendable.append(body)
        }
    }

    /// Writes as much as the transport takes: one write for the buffer alone, a vectored one
    /// when a body by reference follows it.
    func flush(to transport: any StreamTransport) -> FlushResult {
        while !isEmpty {
            let written: IOResult<Int>
            do {
                if tailSent == tail.count {
                    let bytes = buffer.readableBytes
                    written = try transport.write(bytes)
                } else {
                    written = try writeVectored(transport)
                }
            } catch {
                return .failed(error)
            }
            guard case .done(let count) = written else { return .blocked }
            advance(by: count)
        }
        buffer.clear()
        tail = []
        tailSent = 0
        return .done
    }

    private func writeVectored(_ transport: any StreamTransport) throws(IOError) -> IOResult<Int> {
        let head = buffer.readableBytes
        let sent = tailSent
        let result: Result<IOResult<Int>, IOError> = tail.withUnsafeBytes { body in
            let rest = UnsafeRawBufferPointer(rebasing: body[sent...])
            var vectors = (iovec(), iovec())
            return withUnsafeMutableBytes(of: &vectors) { raw in
                let iov = raw.bindMemory(to: iovec.self)
                var count = 0
                if head.count > 0 {
                    iov[0] = iovec(iov_base: UnsafeMutableRawPointer(mutating: head.baseAddress), iov_len: head.count)
                    count = 1
                }
                iov[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: rest.baseAddress), iov_len: rest.count)
                count += 1
                return Result { () throws(IOError) in try transport.write(vectors: UnsafeBufferPointer(rebasing: iov[..<count])) }
            }
        }
        return try result.get()
    }

    private func advance(by written: Int) {
        let fromBuffer = min(written, buffer.readableCount)
        buffer.consume(fromBuffer)
        tailSent += written - fromBuffer
    }
}
