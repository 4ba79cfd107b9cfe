import Foundation
import SluiceCloudEvents
@testable import SluiceStorage
import Testing

/// Takes and finishes events of `queue` one by one until `count` were delivered or none
/// comes within the wait; returns their ids in delivery order. Checks that the queue never
/// holds more than `window`.
private func deliver(_ count: Int, from queue: RingTriggerQueue, window: Int) -> [String] {
    var delivered: [String] = []
    while delivered.count < count {
        guard eventually(seconds: 5, { queue.hasWaiting }), let next = queue.next() else { break }
        #expect(queue.depth <= window, "the window bounds what is in memory")
        delivered.append(next.event.id)
        queue.done(next)
    }
    return delivered
}

/// The next event of `queue`, waiting for it.
private func take(_ queue: RingTriggerQueue) throws -> StoredEvent {
    #expect(eventually { queue.hasWaiting })
    return try #require(queue.next())
}

@Suite("DiskStore backlogs")
struct DiskBacklogTests {
    @Test func aTriggerBehindItsWindowReadsItsBacklogFromTheLogInOrder() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = try open(directory, segmentBytes: 64 * 1024, window: 10)
        defer { disk.close() }
        let slow = disk.queue(forTrigger: "ns/slow")
        let fast = disk.queue(forTrigger: "ns/fast")
        let body = String(repeating: "b", count: 1000)
        for index in 0..<300 {
            #expect(store([event("e\(index)", data: body)], in: disk, for: [slow, fast]) == nil, "no 503 below the disk bound")
        }
        #expect(slow.depth == 10, "the slow trigger holds its window, the rest waits on disk")
        #expect(deliver(300, from: fast, window: 10) == (0..<300).map { "e\($0)" }, "the fast trigger does not wait for the slow one")
        #expect(segments(directory).count > 4, "the slow trigger holds the segments")
        #expect(deliver(300, from: slow, window: 10) == (0..<300).map { "e\($0)" })
        #expect((disk.metrics?.eventsReadBack.load(ordering: .relaxed) ?? 0) >= 2 * 290 - 20)
        #expect(eventually { segments(directory).count == 1 }, "delivered segments are reclaimed")
        // Caught up: new events go straight to the window again.
        #expect(store([event("live")], in: disk, for: [slow]) == nil)
        #expect(ids(drain(slow)) == ["live"])
    }

    @Test func theMemoryBoundSendsEventsToTheBacklogNotTo503() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let body = String(repeating: "m", count: 2000)
        let disk = try open(directory, window: 1000, maxMemoryBytes: 5 * (event("e00", data: body).byteCount + 64) + 10)
        defer { disk.close() }
        let queue = disk.queue(forTrigger: "ns/t")
        for index in 0..<50 { #expect(store([event("e\(index)", data: body)], in: disk, for: [queue]) == nil) }
        #expect(queue.depth == 5)
        #expect(deliver(50, from: queue, window: 5) == (0..<50).map { "e\($0)" })
    }

    @Test func aRestartInTheMiddleOfABacklogLosesNothingAndRepeatsNothingDone() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let disk = try open(directory, segmentBytes: 64 * 1024, window: 8)
            let queue = disk.queue(forTrigger: "ns/t")
            for index in 0..<200 { store([event("e\(index)", data: String(repeating: "r", count: 500))], in: disk, for: [queue]) }
            #expect(deliver(30, from: queue, window: 8) == (0..<30).map { "e\($0)" })
            let e30 = try take(queue), e31 = try take(queue)
            queue.done(e31)  // out of order: e31 is done, e30 is not
            queue.retrying(e30, attempts: 3, nextAttemptAt: 1_900_000_000_000)
            disk.close()
        }
        let reopened = try open(directory, segmentBytes: 64 * 1024, window: 8)
        defer { reopened.close() }
        let queue = reopened.queue(forTrigger: "ns/t")
        let first = try #require(queue.next())
        #expect(first.event.id == "e30" && first.attemptsMade == 3 && first.nextAttemptAt == 1_900_000_000_000)
        queue.done(first)
        #expect(deliver(168, from: queue, window: 8) == (32..<200).map { "e\($0)" })
    }

    @Test func aCheckpointSparesReadingTheDeliveredPrefix() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let disk = try open(directory, window: 100_000)
            let queue = disk.queue(forTrigger: "ns/t")
            for round in 0..<20 { store((0..<250).map { event("d\(round)-\($0)") }, in: disk, for: [queue]) }
            for stored in drain(queue) { queue.done(stored) }
            store((0..<10).map { event("owed-\($0)") }, in: disk, for: [queue])
            disk.close()  // writes a checkpoint
        }
        let reopened = try open(directory)
        defer { reopened.close() }
        let recovered = reopened.metrics?.recoveredRecords.load(ordering: .relaxed) ?? 0
        #expect(recovered < 100, "read \(recovered) records: the 5,000 delivered ones are skipped")
        #expect(ids(drain(reopened.queue(forTrigger: "ns/t"))) == (0..<10).map { "owed-\($0)" })
    }

    @Test func doneRecordsAfterAnOldCheckpointStillCount() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let checkpoint = directory + "/checkpoint"
        do {
            let disk = try open(directory, window: 1000, checkpointInterval: .milliseconds(1))
            let queue = disk.queue(forTrigger: "ns/t")
            store((0..<50).map { event("a\($0)") }, in: disk, for: [queue])
            let first = drain(queue)
            for stored in first.prefix(20) { queue.done(stored) }
            #expect(eventually { (disk.metrics?.checkpoints.load(ordering: .relaxed) ?? 0) > 0 && FileManager.default.fileExists(atPath: checkpoint) })
            usleep(20_000)
            let old = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
            for stored in first[20..<40] { queue.done(stored) }
            store((0..<30).map { event("b\($0)") }, in: disk, for: [queue])
            disk.close()
            // As if the process died before writing the later checkpoints.
            try old.write(to: URL(fileURLWithPath: checkpoint))
        }
        let reopened = try open(directory)
        defer { reopened.close() }
        #expect(ids(drain(reopened.queue(forTrigger: "ns/t"))) == (40..<50).map { "a\($0)" } + (0..<30).map { "b\($0)" })
    }

    @Test func aDamagedCheckpointMeansReadingTheWholeLog() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let disk = try open(directory)
            let queue = disk.queue(forTrigger: "ns/t")
            store((0..<20).map { event("e\($0)") }, in: disk, for: [queue])
            for stored in drain(queue).prefix(15) { queue.done(stored) }
            disk.close()
        }
        let path = directory + "/checkpoint"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 3] ^= 0x5A
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let reopened = try open(directory)
        defer { reopened.close() }
        #expect(ids(drain(reopened.queue(forTrigger: "ns/t"))) == (15..<20).map { "e\($0)" })
        #expect((reopened.metrics?.recoveredRecords.load(ordering: .relaxed) ?? 0) >= 20 + 15)
    }

    @Test func aRemovedTriggerBehindReleasesTheSegmentsOfItsBacklog() throws {
        let directory = freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = try open(directory, segmentBytes: 64 * 1024, window: 5)
        defer { disk.close() }
        let kept = disk.queue(forTrigger: "ns/kept")
        let removed = disk.queue(forTrigger: "ns/removed")
        for index in 0..<60 { store([event("e\(index)", data: String(repeating: "z", count: 4000))], in: disk, for: [kept, removed]) }
        #expect(deliver(60, from: kept, window: 5).count == 60)
        #expect(segments(directory).count > 2)
        disk.retainOnly(triggers: ["ns/kept"])
        #expect(eventually { segments(directory).count == 1 }, "\(segments(directory))")
    }
}

@Suite("DrainEstimate: Retry-After at the disk bound")
struct DrainEstimateTests {
    @Test func retryAfterFollowsTheRateEventsAreFinished() {
        var estimate = DrainEstimate()
        #expect(estimate.update(now: 1_000_000_000, owedInOldestSegment: 100) == nil)
        estimate.finished = 50
        #expect(estimate.update(now: 1_500_000_000, owedInOldestSegment: 100) == nil, "once a second")
        #expect(estimate.update(now: 2_000_000_000, owedInOldestSegment: 100) == 2, "50 finished a second: 100 owed take 2 s")
        #expect(estimate.update(now: 3_000_000_000, owedInOldestSegment: 100) == 4, "smoothed: 25 a second")
        #expect(estimate.update(now: 4_000_000_000, owedInOldestSegment: 100_000) == 60, "at most a minute")
        for second in 5...20 { _ = estimate.update(now: UInt64(second) * 1_000_000_000, owedInOldestSegment: 100) }
        #expect(estimate.update(now: 21_000_000_000, owedInOldestSegment: 100) == DrainEstimate.stalledSeconds, "nothing finishes")
    }
}
