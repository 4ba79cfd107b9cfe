import SluiceCloudEvents
import SluiceFilter
import SluiceIO

/// Cost of matching one event against a broker's triggers: `triggers` triggers with exact
/// `type` filters (each a different type, as a broker with many consumers has), indexed as
/// the broker indexes them; then the cost of evaluating one filter of each dialect.
func runMatchBenchmark(triggers count: Int) throws {
    var builder = CloudEventBuilder()
    try builder.add(name: "id", value: "6f1c5a2e-8d3b-4b7a-9f1e-2c4d5e6f7a8b")
    try builder.add(name: "source", value: "/orders/eu-west-1")
    try builder.add(name: "type", value: "com.example.order.\(count / 2)")
    try builder.add(name: "region", value: "eu-west-1")
    let event = builder.build(data: Array("{}".utf8))

    let filters: [Filter] = (0..<count).map { .exact(AttributeReference("type"), Array("com.example.order.\($0)".utf8)) }
    let index = TriggerIndex(filters: filters)
    var matched: [Int] = []
    matched.reserveCapacity(16)
    let rounds = 2_000_000
    let indexed = measure(rounds) {
        matched.removeAll(keepingCapacity: true)
        event.withView { index.match($0, into: &matched) }
        return matched.count
    }
    // Without the index: every filter evaluated.
    let scans = 20_000
    let unindexed = measure(scans) {
        event.withView { view in filters.reduce(0) { $0 + ($1.matches(view) ? 1 : 0) } }
    }
    print("match: \(count) exact-type triggers: \(format(indexed)) ns per event with the index, \(format(unindexed)) ns evaluating every filter")

    let dialects: [(String, Filter)] = [
        ("exact", .exact(AttributeReference("type"), Array("com.example.order.\(count / 2)".utf8))),
        ("exact (extension)", .exact(AttributeReference("region"), Array("eu-west-1".utf8))),
        ("present (\"\")", .present(AttributeReference("region"))),
        ("prefix", .prefix(AttributeReference("source"), Array("/orders/".utf8))),
        ("suffix", .suffix(AttributeReference("source"), Array("-1".utf8))),
        ("all (2 exact)", .all([.exact(AttributeReference("type"), Array("x".utf8)), .exact(AttributeReference("region"), Array("eu-west-1".utf8))])),
        ("any (2 exact)", .any([.exact(AttributeReference("type"), Array("x".utf8)), .exact(AttributeReference("region"), Array("eu-west-1".utf8))])),
        ("not (exact)", .not(.exact(AttributeReference("type"), Array("x".utf8)))),
    ]
    for (name, filter) in dialects {
        let cost = measure(rounds) { event.withView { filter.matches($0) ? 1 : 0 } }
        print("match: dialect \(name): \(format(cost)) ns per evaluation")
    }
}

/// Nanoseconds per call of `body` over `rounds` calls (after a warm-up).
private func measure(_ rounds: Int, _ body: () -> Int) -> Double {
    var sink = 0
    for _ in 0..<(rounds / 10) { sink &+= body() }
    let started = Monotonic.now()
    for _ in 0..<rounds { sink &+= body() }
    let elapsed = Double(Monotonic.now() - started)
    if sink == Int.min { print(sink) }  // keeps the work from being optimised away
    return elapsed / Double(rounds)
}

private func format(_ nanoseconds: Double) -> String {
    String(format2: nanoseconds)
}
