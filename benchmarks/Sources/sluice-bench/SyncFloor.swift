import Glibc
import SluiceIO

/// The floor under any durable latency on this disk: appends one 300-byte record `rate` times
/// a second to a file whose blocks already exist (as the log's prepared segments do) and
/// fdatasyncs each, as a broker does for a lone event. A p99 below this one is out of reach for
/// any store that answers only after fdatasync.
func runSyncFloor(directory: String, rate: Int, seconds: Double) throws {
    let path = directory + "/sync-floor"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0, rate > 0 else {
        print("cannot open \(path) or bad rate \(rate)")
        exit(2)
    }
    defer { close(fd); unlink(path) }
    let total = Int(Double(rate) * seconds)
    let record = [UInt8](repeating: 0x78, count: 300)
    let zeros = [UInt8](repeating: 0, count: 1 << 20)
    for offset in stride(from: 0, to: total * record.count, by: zeros.count) {
        _ = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
    }
    fsync(fd)
    var latencies: [UInt64] = []
    latencies.reserveCapacity(total)
    let started = Monotonic.now()
    for index in 0..<total {
        let due = started + UInt64(Double(index) / Double(rate) * 1e9)
        let now = Monotonic.now()
        if due > now { usleep(UInt32((due - now) / 1000)) }
        let before = Monotonic.now()
        _ = record.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(index * record.count)) }
        fdatasync(fd)
        latencies.append(Monotonic.now() - before)
    }
    print("fdatasync floor: " + Percentiles(latencies).summary(of: total, at: rate))
}

/// p50, p99 and max of a set of nanosecond durations, printed in milliseconds.
struct Percentiles {
    let sorted: [UInt64]

    init(_ durations: [UInt64]) { sorted = durations.sorted() }

    func milliseconds(_ quantile: Double) -> String {
        guard !sorted.isEmpty else { return "-" }
        let index = min(sorted.count - 1, Int(Double(sorted.count) * quantile))
        return String(format3: Double(sorted[index]) / 1e6)
    }

    func summary(of total: Int, at rate: Int) -> String {
        "\(sorted.count) of \(total) at \(rate)/s; p50 \(milliseconds(0.5)) ms, p99 \(milliseconds(0.99)) ms, "
            + "max \(sorted.last.map { String(format3: Double($0) / 1e6) } ?? "-") ms"
    }
}
