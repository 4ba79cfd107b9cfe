import Dispatch
import Glibc
import SluiceHTTP
import SluiceIO
import Synchronization

/// Keeps `concurrency` POSTs in flight through the pooled client on one loop for `seconds`,
/// each completion issuing the next request on the same loop (no thread hop), like a delivery
/// worker. Prints requests per second.
func runClient(url text: String, seconds: Double, concurrency: Int) throws {
    guard let url = HTTPURL(text) else {
        print("bad URL \(text)")
        exit(2)
    }
    let group = try EventLoopGroup(loopCount: 1)
    var configuration = HTTPClientConfiguration()
    configuration.maxConnectionsPerOrigin = concurrency
    let client = HTTPClient(group: group, configuration: configuration)
    let body = Array(sampleEvent.utf8)
    let request = HTTPClientRequest(method: .post, url: url, headers: sampleHeaders, body: body, resendOnStaleConnection: true)
    let state = ClientRun(deadline: Monotonic.now() + UInt64(seconds * 1e9))
    let loop = group.loops[0]

    @Sendable func issue() {
        client.execute(request, on: loop) { result in
            switch result {
            case .success(let response) where response.status < 300: state.completed.add(1, ordering: .relaxed)
            default: state.failed.add(1, ordering: .relaxed)
            }
            if Monotonic.now() < state.deadline { issue() } else { state.finishedWorkers.add(1, ordering: .relaxed) }
        }
    }
    let started = Monotonic.now()
    loop.execute { for _ in 0..<concurrency { issue() } }
    while state.finishedWorkers.load(ordering: .relaxed) < concurrency {
        usleep(20_000)
        if Monotonic.now() > state.deadline + 5_000_000_000 { break }
    }
    let elapsed = Double(Monotonic.now() - started) / 1e9
    let completed = state.completed.load(ordering: .relaxed)
    print("client: \(completed) requests in \(String(format2: elapsed)) s, \(Int(Double(completed) / elapsed)) req/s, \(state.failed.load(ordering: .relaxed)) failed, concurrency \(concurrency)")
    client.shutdown()
    group.shutdown()
}

final class ClientRun: Sendable {
    let deadline: UInt64
    let completed = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let finishedWorkers = Atomic<Int>(0)
    init(deadline: UInt64) { self.deadline = deadline }
}

/// A ~300-byte binary-mode CloudEvent, the same one wrk posts (benchmarks/post-event.lua).
let sampleHeaders: [(name: String, value: String)] = [
    ("Content-Type", "application/json"),
    ("Ce-Specversion", "1.0"),
    ("Ce-Type", "com.example.order.created"),
    ("Ce-Source", "/orders/eu-west-1"),
    ("Ce-Id", "6f1c5a2e-8d3b-4b7a-9f1e-2c4d5e6f7a8b"),
]
let sampleEvent = #"{"orderId":"A-1001","customer":"c-42","items":[{"sku":"X1","qty":2},{"sku":"Y7","qty":1}],"total":42.5,"currency":"EUR","note":"benchmark event body of roughly three hundred bytes, padded to size........."}"#

extension String {
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        self = "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }
}
