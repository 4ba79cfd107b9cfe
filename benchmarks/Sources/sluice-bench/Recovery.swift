import Glibc
import SluiceCloudEvents
import SluiceIO
import SluiceStorage

/// The durable store with a large backlog, in three steps on a fresh directory:
/// 1. writes `events` ~300-byte events owed to one trigger whose subscriber takes nothing (in
///    requests of 100, as the ingress would): memory stays at the trigger's window;
/// 2. reopens it with all of them owed: how long until the first window is ready, the records
///    read, and memory; then delivers them all, read back from the log;
/// 3. writes 1,000 more, closes (which writes a checkpoint) and reopens: only what is owed
///    is read, not the delivered prefix.
func runRecoveryBenchmark(directory: String, events: Int) throws {
    var options = DiskStore.Options(directory: directory)
    options.maxDiskBytes = 1 << 40
    let data = Array(("{\"order\":1001,\"items\":[\"a\",\"b\"],\"note\":\"" + String(repeating: "x", count: 120) + "\"}").utf8)
    do {
        let store = try DiskStore(options: options)
        let started = Monotonic.now()
        try write(events, into: store, data: data)
        let seconds = Double(Monotonic.now() - started) / 1e9
        let disk = store.metrics?.diskBytes.load(ordering: .relaxed) ?? 0
        print("recovery: wrote \(events) events owed to a stalled trigger (\(disk / 1_048_576) MiB of log) in \(String(format2: seconds)) s; "
              + "resident \(csluiceResidentMiB()) MiB with \(events - store.queue(forTrigger: "bench/t").depth) of them waiting on disk")
        store.close()
    }
    do {
        let started = Monotonic.now()
        let reopened = try DiskStore(options: options)
        let queue = reopened.queue(forTrigger: "bench/t")
        let seconds = Double(Monotonic.now() - started) / 1e9
        let records = reopened.metrics?.recoveredRecords.load(ordering: .relaxed) ?? 0
        print("recovery: reopened with \(events) events owed in \(String(format2: seconds)) s (\(records) records read, "
              + "\(queue.depth) in memory); resident \(csluiceResidentMiB()) MiB")
        let delivering = Monotonic.now()
        var delivered = 0
        var progressed = delivering
        while delivered < events {
            guard let next = queue.next() else {
                if Monotonic.now() - progressed > 5_000_000_000 { break }  // the window stopped refilling
                usleep(20)
                continue
            }
            progressed = Monotonic.now()
            queue.done(next)
            delivered += 1
        }
        let deliverySeconds = Double(Monotonic.now() - delivering) / 1e9
        print("recovery: delivered \(delivered) events read back from the log in \(String(format2: deliverySeconds)) s "
              + "(\(String(format2: Double(delivered) / deliverySeconds / 1e6)) M events/s)")
        try write(1000, into: reopened, data: data)
        reopened.close()
    }
    let started = Monotonic.now()
    let last = try DiskStore(options: options)
    let depth = last.queue(forTrigger: "bench/t").depth
    let seconds = Double(Monotonic.now() - started) / 1e9
    let records = last.metrics?.recoveredRecords.load(ordering: .relaxed) ?? 0
    print("recovery: reopened after \(events) delivered and 1000 owed in \(String(format2: seconds * 1000)) ms "
          + "(\(records) records read, \(depth) owed)")
    last.close()
}

/// Appends `count` events for trigger bench/t in requests of 100 and waits for each.
private func write(_ count: Int, into store: DiskStore, data: [UInt8]) throws {
    let queue = store.queue(forTrigger: "bench/t")
    var builder = CloudEventBuilder()
    var written = 0
    while written < count {
        var batch: [StoreEntry<RingTriggerQueue>] = []
        for index in written..<min(count, written + 100) {
            builder.reset()
            try builder.add(name: "id", value: "event-\(index)")
            try builder.add(name: "source", value: "/benchmarks/recovery")
            try builder.add(name: "type", value: "com.example.order.created")
            try builder.add(name: "time", value: "2026-11-23T10:00:00Z", kind: .timestamp)
            batch.append(StoreEntry(event: builder.build(data: data), queues: [queue]))
        }
        let finished = Locked(false)
        store.append(batch) { error in
            if let error { print("recovery benchmark: append failed: \(error)"); exit(1) }
            finished.withLock { $0 = true }
        }
        while !finished.withLock({ $0 }) { usleep(50) }
        written += batch.count
    }
}

private func csluiceResidentMiB() -> Int {
    guard let file = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(file) }
    var size = 0
    var resident = 0
    _ = withUnsafeMutablePointer(to: &size) { sizePointer in
        withUnsafeMutablePointer(to: &resident) { residentPointer in
            withVaList([sizePointer, residentPointer]) { vfscanf(file, "%ld %ld", $0) }
        }
    }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}
