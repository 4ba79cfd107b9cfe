import Glibc
import SluiceHTTP
import SluiceIO
import Synchronization

/// End-to-end latency at a steady rate: posts `rate` events a second to `url` for `seconds`,
/// each carrying its send time in its id, and is itself the subscriber they reach (on
/// 127.0.0.1:`sinkPort`, answering 200), so it sees how long each took from the POST to its
/// delivery. Prints the count, p50, p99 and max in milliseconds. Sender and subscriber share
/// one loop: two threads on the one CPU left to the tool would wait on each other's time
/// slices (milliseconds) and measure the scheduler instead.
func runLatency(url text: String, rate: Int, seconds: Double, sinkPort: Int) throws {
    guard let url = HTTPURL(text), rate > 0 else {
        print("bad URL \(text) or rate \(rate)")
        exit(2)
    }
    let group = try EventLoopGroup(loopCount: 1)
    let latencies = Locked<[UInt64]>([])
    var configuration = HTTPServerConfiguration()
    configuration.host = "127.0.0.1"
    configuration.port = sinkPort
    var router = Router()
    let ok = PreparedResponse(status: .ok)
    router.fallback = { request, responder in
        let arrived = Monotonic.now()
        var sent: UInt64?
        request.forEachHeader { name, value in
            if name.count == 5, String(decoding: name, as: UTF8.self).lowercased() == "ce-id" {
                sent = UInt64(String(decoding: value, as: UTF8.self).dropFirst(4))
            }
        }
        if let sent { latencies.withLock { $0.append(arrived &- sent) } }
        responder.respond(ok)
    }
    let sink = HTTPServer(configuration: configuration, router: router, group: group)
    try sink.start()

    let client = HTTPClient(group: group, configuration: HTTPClientConfiguration())
    let loop = group.loops[0]
    let total = Int(Double(rate) * seconds)
    let state = LatencyRun()
    let started = Monotonic.now()
    @Sendable func tick() {
        // Sends what is due by now, then looks again in a millisecond.
        let due = min(total, Int(Double(Monotonic.now() - started) / 1e9 * Double(rate)))
        while state.sent < due {
            state.sent += 1
            var headers = sampleHeaders.filter { $0.name != "Ce-Id" }
            headers.append(("Ce-Id", "lat-\(Monotonic.now())"))
            client.execute(HTTPClientRequest(method: .post, url: url, headers: headers, body: Array(sampleEvent.utf8)), on: loop) { result in
                if case .success(let response) = result, response.status < 300 { return }
                state.failed.add(1, ordering: .relaxed)
            }
        }
        if state.sent < total { loop.schedule(after: .milliseconds(1)) { tick() } }
    }
    loop.execute { tick() }
    usleep(UInt32(seconds * 1e6))
    // Stragglers: wait until every accepted event arrived, or two more seconds.
    let deadline = Monotonic.now() + 2_000_000_000
    while latencies.withLock({ $0.count }) + state.failed.load(ordering: .relaxed) < total && Monotonic.now() < deadline { usleep(10_000) }
    let refused = state.failed.load(ordering: .relaxed)
    print("latency: " + Percentiles(latencies.withLock { $0 }).summary(of: total, at: rate) + ", \(refused) refused")
    client.shutdown()
    sink.shutdown(grace: .milliseconds(100))
    group.shutdown()
}

/// The sender's count (loop-confined) and the refusals (any loop).
final class LatencyRun: @unchecked Sendable {
    var sent = 0
    let failed = Atomic<Int>(0)
}

extension String {
    init(format3 value: Double) {
        let thousandths = Int((value * 1000).rounded())
        let fraction = String(thousandths % 1000)
        self = "\(thousandths / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
