import Foundation
import SluiceCloudEvents
import SluiceIO
import SluiceStorage
import Testing

/// What the disk store tests share: events, stores in fresh directories, waiting, draining.

func event(_ id: String, data: String = "hello") -> CloudEvent {
    var builder = CloudEventBuilder()
    do {
        try builder.add(name: "id", value: id)
        try builder.add(name: "source", value: "/disk")
        try builder.add(name: "type", value: "com.example.disk")
        try builder.add(name: "count", value: "7", kind: .integer)
        let name = Array("traceparent".utf8)
        let value = Array("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".utf8)
        name.withUnsafeBytes { name in value.withUnsafeBytes { builder.addTransportHeader(name: name, value: $0) } }
    } catch {
        Issue.record("building event \(id): \(error)")
    }
    return builder.build(data: Array(data.utf8))
}

func freshDirectory() -> String {
    NSTemporaryDirectory() + "sluice-disk-\(getpid())-\(UUID().uuidString.prefix(8))"
}

func open(_ directory: String, segmentBytes: Int = 64 * 1024 * 1024, maxDiskBytes: Int = 1 << 30,
          window: Int = 10_000, maxMemoryBytes: Int = 256 << 20, checkpointInterval: Duration = .seconds(1),
          fileSystem: any LogFileSystem = PosixFileSystem()) throws -> DiskStore {
    var options = DiskStore.Options(directory: directory)
    options.segmentBytes = segmentBytes
    options.maxDiskBytes = maxDiskBytes
    options.maxEventsPerTrigger = window
    options.maxMemoryBytes = maxMemoryBytes
    options.checkpointInterval = checkpointInterval
    options.bookkeepingInterval = .milliseconds(5)
    options.fileSystem = fileSystem
    return try DiskStore(options: options)
}

/// Appends and waits for the store's answer.
@discardableResult
func store(_ events: [CloudEvent], in store: DiskStore, for queues: [RingTriggerQueue]) -> StorageError? {
    let answer = Locked<(done: Bool, error: StorageError?)>((false, nil))
    store.append(events.map { StoreEntry(event: $0, queues: queues) }) { error in answer.withLock { $0 = (true, error) } }
    #expect(eventually { answer.withLock { $0.done } }, "the store answered")
    return answer.withLock { $0.error }
}

func eventually(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}

/// Takes everything waiting in `queue` (without calling `done`).
func drain(_ queue: any TriggerQueue) -> [StoredEvent] {
    var taken: [StoredEvent] = []
    while let next = queue.next() { taken.append(next) }
    return taken
}

func ids(_ events: [StoredEvent]) -> [String] { events.map(\.event.id) }

func segments(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".seg") }.sorted()
}

/// The real file system, failing writes or syncs while `failing` is set.
final class FaultInjectingFileSystem: LogFileSystem {
    enum Fault: Sendable {
        case none, write, sync
        /// Every fdatasync takes 2 ms, as on a slow disk: requests arriving meanwhile must
        /// share the next one.
        case slowSync
        /// fdatasync waits until the fault is changed.
        case heldSync
    }
    let fault = Locked(Fault.none)
    private let real = PosixFileSystem()

    func createDirectory(atPath path: String) throws(StorageError) { try real.createDirectory(atPath: path) }
    func contentsOfDirectory(atPath path: String) throws(StorageError) -> [String] { try real.contentsOfDirectory(atPath: path) }
    func openFile(atPath path: String, create: Bool) throws(StorageError) -> Int32 { try real.openFile(atPath: path, create: create) }
    func close(_ descriptor: Int32) { real.close(descriptor) }
    func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws(StorageError) {
        if fault.withLock({ $0 }) == .write {
            // Half the bytes land, as when the disk fills up in the middle of a write.
            try real.write(descriptor, UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count / 2)]), at: offset)
            throw .failed("write: No space left on device (injected)")
        }
        try real.write(descriptor, bytes, at: offset)
    }
    func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(StorageError) -> Int {
        try real.read(descriptor, into: buffer, at: offset)
    }
    func synchronize(_ descriptor: Int32) throws(StorageError) {
        switch fault.withLock({ $0 }) {
        case .sync: throw .failed("fdatasync: Input/output error (injected)")
        case .slowSync: usleep(2000)
        case .heldSync: while fault.withLock({ $0 }) == .heldSync { usleep(1000) }
        case .none, .write: break
        }
        try real.synchronize(descriptor)
    }
    func truncate(_ descriptor: Int32, to size: Int) throws(StorageError) { try real.truncate(descriptor, to: size) }
    func size(of descriptor: Int32) throws(StorageError) -> Int { try real.size(of: descriptor) }
    func removeFile(atPath path: String) throws(StorageError) { try real.removeFile(atPath: path) }
    func rename(atPath path: String, toPath destination: String) throws(StorageError) { try real.rename(atPath: path, toPath: destination) }
    func synchronizeDirectory(atPath path: String) throws(StorageError) { try real.synchronizeDirectory(atPath: path) }
}
