import Foundation
import SluiceCloudEvents
import SluiceIO
import SluiceStorage
import Synchronization
import Testing

// MARK: Tests

@Suite("DiskStore")
struct DiskStoreTests {
    @Test func eventsSurviveReopeningAndDoneOnesStayDone() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let disk = try open(directory)
            let a = disk.queue(forTrigger: "ns/a")
            let b = disk.queue(forTrigger: "ns/b")
            #expect(store((1...5).map { event("e\($0)") }, in: disk, for: [a, b]) == nil)
            let taken = drain(a)
            #expect(ids(taken) == ["e1", "e2", "e3", "e4", "e5"])
            for stored in taken.prefix(3) { a.done(stored) }
            disk.close()
        }
        let reopened = try open(directory)
        defer { reopened.close() }
        let a = reopened.queue(forTrigger: "ns/a")
        let b = reopened.queue(forTrigger: "ns/b")
        let owedToA = drain(a)
        #expect(ids(owedToA) == ["e4", "e5"], "done events are not owed again")
        #expect(ids(drain(b)) == ["e1", "e2", "e3", "e4", "e5"])
        let first = try #require(owedToA.first)
        #expect(first.event.string(named: "traceparent") == nil)
        #expect(first.event.transportHeaders.first?.name == "traceparent")
        #expect(first.event.kind(named: "count") == .integer)
        #expect(first.event.data == Array("hello".utf8))
        #expect(reopened.queue(forTrigger: "ns/c").depth == 0)
    }

    @Test func sequencesKeepIncreasingAcrossRestarts() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var last: UInt64 = 0
        for round in 0..<3 {
            let disk = try open(directory)
            let queue = disk.queue(forTrigger: "ns/t")
            store([event("r\(round)")], in: disk, for: [queue])
            for stored in drain(queue) {
                #expect(stored.position.offset > last)
                last = stored.position.offset
                queue.done(stored)
            }
            disk.close()
        }
    }

    @Test func aScheduledRetryKeepsItsAttemptsAndTime() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let disk = try open(directory)
            let queue = disk.queue(forTrigger: "ns/t")
            store([event("retried"), event("fresh")], in: disk, for: [queue])
            let taken = drain(queue)
            queue.retrying(taken[0], attempts: 2, nextAttemptAt: 1_900_000_000_000)
            disk.close()
        }
        let reopened = try open(directory)
        defer { reopened.close() }
        let owed = drain(reopened.queue(forTrigger: "ns/t"))
        #expect(ids(owed) == ["retried", "fresh"])
        #expect(owed[0].attemptsMade == 2)
        #expect(owed[0].nextAttemptAt == 1_900_000_000_000)
        #expect(owed[1].attemptsMade == 0)
    }

    @Test func aTornTailIsCutOff() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let disk = try open(directory)
            let queue = disk.queue(forTrigger: "ns/t")
            store([event("kept-1"), event("kept-2")], in: disk, for: [queue])
            store([event("torn", data: String(repeating: "x", count: 500))], in: disk, for: [queue])
            disk.close()
        }
        let path = directory + "/" + (segments(directory).last ?? "")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        try #require(truncate(path, off_t(size - 200)) == 0)
        let reopened = try open(directory)
        defer { reopened.close() }
        #expect(ids(drain(reopened.queue(forTrigger: "ns/t"))) == ["kept-1", "kept-2"])
        let cut = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(cut < size - 200, "the partial record was cut off the file")
    }

    @Test func aDamagedRecordIsSkippedAndTheRestKept() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let disk = try open(directory)
            let queue = disk.queue(forTrigger: "ns/t")
            for index in 1...5 { store([event("e\(index)", data: "payload-\(index)")], in: disk, for: [queue]) }
            disk.close()
        }
        let path = directory + "/" + (segments(directory).last ?? "")
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let needle = Array("payload-3".utf8)
        let position = try #require((0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle })
        bytes[position] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let reopened = try open(directory)
        defer { reopened.close() }
        #expect(ids(drain(reopened.queue(forTrigger: "ns/t"))) == ["e1", "e2", "e4", "e5"])
    }

    @Test func segmentsAreReclaimedOnceEveryTriggerIsPast() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = try open(directory, segmentBytes: 64 * 1024)
        defer { disk.close() }
        let fast = disk.queue(forTrigger: "ns/fast")
        let slow = disk.queue(forTrigger: "ns/slow")
        let body = String(repeating: "y", count: 4000)
        for index in 0..<100 { store([event("e\(index)", data: body)], in: disk, for: [fast, slow]) }
        let grown = segments(directory).count
        #expect(grown >= 5)
        for stored in drain(fast) { fast.done(stored) }
        usleep(50_000)
        #expect(segments(directory).count == grown, "the slow trigger still needs every segment")
        for stored in drain(slow) { slow.done(stored) }
        #expect(eventually { segments(directory).count == 1 }, "only the active segment is left")
        #expect(eventually { (disk.metrics?.segmentsReclaimed.load(ordering: .relaxed) ?? 0) >= grown - 1 })
    }

    @Test func aRemovedTriggerReleasesItsHold() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = try open(directory, segmentBytes: 64 * 1024)
        let kept = disk.queue(forTrigger: "ns/kept")
        let removed = disk.queue(forTrigger: "ns/removed")
        for index in 0..<40 { store([event("e\(index)", data: String(repeating: "z", count: 4000))], in: disk, for: [kept, removed]) }
        for stored in drain(kept) { kept.done(stored) }
        disk.retainOnly(triggers: ["ns/kept"])
        #expect(eventually { segments(directory).count == 1 })
        disk.close()
        let reopened = try open(directory)
        defer { reopened.close() }
        #expect(reopened.queue(forTrigger: "ns/removed").depth == 0, "a removed trigger owes nothing after a restart")
    }

    @Test func theDiskBoundRefusesWithFull() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = try open(directory, segmentBytes: 64 * 1024, maxDiskBytes: 256 * 1024)
        defer { disk.close() }
        let queue = disk.queue(forTrigger: "ns/t")
        var refusal: StorageError?
        for index in 0..<200 {
            refusal = store([event("e\(index)", data: String(repeating: "w", count: 4000))], in: disk, for: [queue])
            if refusal != nil { break }
        }
        guard case .full(let seconds) = refusal else {
            Issue.record("the disk bound refuses with full, not \(String(describing: refusal))")
            return
        }
        #expect((1...60).contains(seconds), "Retry-After \(seconds) s")
        for stored in drain(queue) { queue.done(stored) }
        #expect(eventually { store([event("after")], in: disk, for: [queue]) == nil }, "space comes back once delivered")
    }

    @Test(arguments: [FaultInjectingFileSystem.Fault.write, .sync])
    func anIOErrorFailsTheRequest(fault: FaultInjectingFileSystem.Fault) throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fileSystem = FaultInjectingFileSystem()
        do {
            let disk = try open(directory, fileSystem: fileSystem)
            let queue = disk.queue(forTrigger: "ns/t")
            #expect(store([event("before")], in: disk, for: [queue]) == nil)
            fileSystem.fault.withLock { $0 = fault }
            guard case .failed(let reason) = store([event("lost")], in: disk, for: [queue]) else {
                Issue.record("an I/O error must fail the append")
                return
            }
            #expect(reason.contains("injected"))
            if fault == .write {
                #expect(ids(drain(queue)) == ["before"], "an event that was not written is not queued")
            } else {
                // Written but not known durable: its trigger delivers it, and its producer,
                // told to send it again, may cause a duplicate.
                #expect(ids(drain(queue)) == ["before", "lost"], "a written event is delivered")
            }
            #expect(disk.metrics?.failures.load(ordering: .relaxed) == 1)
            fileSystem.fault.withLock { $0 = .none }
            #expect(store([event("after")], in: disk, for: [queue]) == nil, "the store works again once the disk does")
            #expect(ids(drain(queue)) == ["after"])
            disk.close()
        }
        let reopened = try open(directory)
        defer { reopened.close() }
        let owed = ids(drain(reopened.queue(forTrigger: "ns/t")))
        #expect(owed.contains("before") && owed.contains("after"))
        // A failed fdatasync may still have written the record: a duplicate, never a loss.
        if fault == .write { #expect(!owed.contains("lost")) }
    }

    @Test func deliveryStartsWhileTheSyncRuns() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fileSystem = FaultInjectingFileSystem()
        // A segment small enough to be zero-filled when it is opened: no idle-time preparation
        // (which syncs too) runs while the sync is held.
        let disk = try open(directory, segmentBytes: 64 * 1024, fileSystem: fileSystem)
        defer { disk.close() }
        let queue = disk.queue(forTrigger: "ns/t")
        #expect(store([event("first")], in: disk, for: [queue]) == nil)
        #expect(ids(drain(queue)) == ["first"])
        fileSystem.fault.withLock { $0 = .heldSync }
        let answer = Locked<(done: Bool, error: StorageError?)>((false, nil))
        disk.append([StoreEntry(event: event("held"), queues: [queue])]) { error in answer.withLock { $0 = (true, error) } }
        var taken: [StoredEvent] = []
        #expect(eventually { taken += drain(queue); return !taken.isEmpty }, "the trigger gets the event before the disk has it")
        #expect(ids(taken) == ["held"])
        #expect(!answer.withLock { $0.done }, "the producer's answer waits for the sync")
        fileSystem.fault.withLock { $0 = .none }
        #expect(eventually { answer.withLock { $0.done } })
        #expect(answer.withLock { $0.error } == nil)
    }

    @Test func anUnusableDirectoryIsAnError() throws {
        #expect(throws: StorageError.self) { try open("/proc/version/sluice") }
    }

    @Test func concurrentAppendsShareSyncs() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fileSystem = FaultInjectingFileSystem()
        fileSystem.fault.withLock { $0 = .slowSync }
        let disk = try open(directory, fileSystem: fileSystem)
        defer { disk.close() }
        let queue = disk.queue(forTrigger: "ns/t")
        let answered = Atomic<Int>(0)
        let threads = try (0..<4).map { thread in
            try LoopThread(name: "producer-\(thread)") {
                for index in 0..<250 {
                    let done = Atomic<Bool>(false)
                    disk.append([StoreEntry(event: event("t\(thread)-\(index)"), queues: [queue])]) { error in
                        #expect(error == nil)
                        done.store(true, ordering: .releasing)
                    }
                    while !done.load(ordering: .acquiring) { usleep(100) }
                    answered.add(1, ordering: .relaxed)
                    while let stored = queue.next() { queue.done(stored) }
                }
            }
        }
        for thread in threads { thread.join() }
        #expect(answered.load(ordering: .relaxed) == 1000)
        // Four producers, each waiting for its own answer: with a 2 ms sync, the others' requests
        // gather behind every sync, so a sync covers several events. One sync per event
        // (no group commit) would make 1000.
        let syncs = disk.metrics?.syncs.load(ordering: .relaxed) ?? 0
        #expect(syncs > 0 && syncs <= 600, "1000 events took \(syncs) syncs")
    }
}
