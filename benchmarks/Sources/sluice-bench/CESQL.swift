import Glibc
import SluiceCloudEvents
import SluiceFilter
import SluiceIO

/// Evaluation cost of compiled CESQL expressions against one event, in nanoseconds and heap
/// allocations per evaluation. Allocations are counted when the process runs with
/// benchmarks/malloc-counter.c preloaded (run.sh does); otherwise they are reported as unknown.
func runCESQLBenchmark() throws {
    var builder = CloudEventBuilder()
    try builder.add(name: "id", value: "6f1c5a2e-8d3b-4b7a-9f1e-2c4d5e6f7a8b")
    try builder.add(name: "source", value: "/orders/eu-west-1")
    try builder.add(name: "type", value: "com.example.a")
    try builder.add(name: "subject", value: "order-1001")
    try builder.add(name: "region", value: "eu-west-1")
    try builder.add(name: "priority", value: "7", kind: .integer)
    try builder.add(name: "express", value: "true", kind: .boolean)
    let event = builder.build(data: Array("{}".utf8))

    let expressions = [
        ("2 clauses", "type = 'com.example.a' AND source LIKE '/orders/%'"),
        ("10 clauses", "type = 'com.example.a' AND source LIKE '/orders/%' AND EXISTS subject AND region IN ('eu-west-1', 'eu-central-1')"
            + " AND priority > 5 AND priority <= 10 AND express AND NOT (subject = 'test') AND id != '' AND type NOT LIKE '%.internal'"),
        // Builds a string, so it allocates: shows the counter counts.
        ("a string function", "LOWER(subject) = 'order-1001'"),
    ]
    let counter = mallocCounter()
    for (name, text) in expressions {
        let expression = try CESQLExpression(text)
        guard event.withView({ expression.matches($0) }) else {
            print("cesql: \(name) does not match its benchmark event")
            exit(1)
        }
        let rounds = 1_000_000
        for _ in 0..<(rounds / 10) { _ = event.withView { expression.matches($0) } }
        let allocationsBefore = counter?() ?? 0
        let started = Monotonic.now()
        var passed = 0
        for _ in 0..<rounds where event.withView({ expression.matches($0) }) { passed += 1 }
        let elapsed = Double(Monotonic.now() - started) / Double(rounds)
        let allocations = counter.map { Double($0() - allocationsBefore) / Double(rounds) }
        let allocationText = allocations.map { String(format2: $0) } ?? "unknown (run with malloc-counter preloaded)"
        print("cesql: \(name): \(String(format2: elapsed)) ns and \(allocationText) heap allocations per evaluation (\(passed) of \(rounds) passed)")
    }
}

/// The allocation counter of benchmarks/malloc-counter.c, when it is preloaded.
private func mallocCounter() -> (() -> UInt)? {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sluice_malloc_calls") else { return nil }
    let function = unsafeBitCast(symbol, to: (@convention(c) () -> UInt).self)
    return { function() }
}
