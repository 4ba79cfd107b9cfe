import Glibc
import SluiceCloudEvents
import SluiceIO
import SluiceStorage

/// Writes `events` ~300-byte events owed to one trigger into a fresh disk store at `directory`
/// (in requests of 100, as the ingress would), closes it, then opens it again and reports how
/// long recovery took to have every event queued again.
func runRecoveryBenchmark(directory: String, events: Int) throws {
    var options = DiskStore.Options(directory: directory)
    options.maxEventsPerTrigger = events + 1
    options.maxMemoryBytes = 1 << 40
    options.maxDiskBytes = 1 << 40
    let data = Array(("{\"order\":1001,\"items\":[\"a\",\"b\"],\"note\":\"" + String(repeating: "x", count: 120) + "\"}").utf8)
    do {
        let store = try DiskStore(options: options)
        let queue = store.queue(forTrigger: "bench/t")
        var builder = CloudEventBuilder()
        let started = Monotonic.now()
        var written = 0
        while written < events {
            var batch: [StoreEntry<RingTriggerQueue>] = []
            for index in written..<min(events, written + 100) {
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
        let seconds = Double(Monotonic.now() - started) / 1e9
        store.close()
        let disk = store.metrics?.diskBytes.load(ordering: .relaxed) ?? 0
        print("recovery: wrote \(events) events (\(disk / 1_048_576) MiB of log) in \(String(format2: seconds)) s")
    }
    let started = Monotonic.now()
    let reopened = try DiskStore(options: options)
    let queue = reopened.queue(forTrigger: "bench/t")
    let seconds = Double(Monotonic.now() - started) / 1e9
    print("recovery: reopened with \(queue.depth) events owed in \(String(format2: seconds)) s "
          + "(\(String(format2: Double(queue.depth) / seconds / 1e6)) M events/s); resident \(csluiceResidentMiB()) MiB")
    reopened.close()
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
