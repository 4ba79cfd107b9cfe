import Glibc
import SluiceCloudEvents
import SluiceIO
import SluiceStorage
import Synchronization
import Testing

// MARK: Helpers

private func makeEvent(_ id: String, data: [UInt8] = Array("hello".utf8)) -> CloudEvent {
    var builder = CloudEventBuilder()
    do {
        try builder.add(name: "id", value: id)
        try builder.add(name: "source", value: "/test")
        try builder.add(name: "type", value: "com.example.test")
    } catch {
        Issue.record("building event \(id): \(error)")
    }
    return builder.build(data: data)
}

/// What the store charges for one event in one queue.
private func cost(_ event: CloudEvent) -> Int { event.byteCount + 64 }

extension MemoryStore {
    /// Appends one event and returns the store's answer (memory answers before `append` returns).
    func appendNow(_ event: CloudEvent, to queues: [RingTriggerQueue]) -> StorageError? {
        let answer = Locked<StorageError??>(nil)
        append([StoreEntry(event: event, queues: queues)]) { error in answer.withLock { $0 = .some(error) } }
        guard let result = answer.withLock({ $0 }) else {
            Issue.record("the memory store did not answer before append returned")
            return .failed("no answer")
        }
        return result
    }
}

private func dataAddress(_ event: CloudEvent) -> UnsafeRawPointer? {
    event.data?.withUnsafeBytes { $0.baseAddress }
}

final class Counter: Sendable {
    let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}

// MARK: Routing and bounds

@Suite("MemoryStore")
struct MemoryStoreTests {
    @Test func eventsReachEveryMatchedQueueInOrder() throws {
        let store = MemoryStore()
        let a = store.queue(forTrigger: "ns/a")
        let b = store.queue(forTrigger: "ns/b")
        let c = store.queue(forTrigger: "ns/c")
        #expect(store.queue(forTrigger: "ns/a") === a, "one queue per key")
        #expect(a.key == "ns/a")
        let plan: [(String, [RingTriggerQueue])] = [("1", [a, b]), ("2", [b, c]), ("3", [a]), ("4", [a, b, c]), ("5", [c])]
        for (id, queues) in plan { #expect(store.appendNow(makeEvent(id), to: queues) == nil) }
        #expect((a.depth, b.depth, c.depth) == (3, 3, 3))

        let fromA = drain(a), fromB = drain(b), fromC = drain(c)
        #expect(fromA.map(\.event.id) == ["1", "3", "4"])
        #expect(fromB.map(\.event.id) == ["1", "2", "4"])
        #expect(fromC.map(\.event.id) == ["2", "4", "5"])
        for queue in [fromA, fromB, fromC] {
            #expect(queue.map(\.position.offset) == queue.map(\.position.offset).sorted(), "sequences increase along a queue")
        }
        // One event stored for several triggers is one stored event, shared, not copied.
        #expect(fromA[0].position.offset == fromB[0].position.offset)
        #expect(dataAddress(fromA[0].event) == dataAddress(fromB[0].event))
        #expect(dataAddress(fromA[2].event) == dataAddress(fromC[1].event))
        #expect(Set((fromA + fromB + fromC).map(\.position.offset)).count == 5)
        #expect(a.depth == 3, "taken but not done still counts")
    }

    @Test func appendingToNoQueueStoresNothing() {
        let store = MemoryStore(maxEventsPerTrigger: 1, maxBytes: 1)
        #expect(store.appendNow(makeEvent("x"), to: []) == nil)
        #expect(store.storedBytes == 0)
    }

    /// The full trigger may come first or last in the list: either way no queue gets the event.
    @Test(arguments: [false, true])
    func perTriggerBoundIsAllOrNothing(fullQueueFirst: Bool) throws {
        let store = MemoryStore(maxEventsPerTrigger: 2)
        let busy = store.queue(forTrigger: "ns/busy")
        let idle = store.queue(forTrigger: "ns/idle")
        let other = store.queue(forTrigger: "ns/other")
        #expect(store.appendNow(makeEvent("1"), to: [busy]) == nil)
        #expect(store.appendNow(makeEvent("2"), to: [busy]) == nil)
        let bytesBefore = store.storedBytes

        let queues: [RingTriggerQueue] = fullQueueFirst ? [busy, idle, other] : [idle, other, busy]
        #expect(store.appendNow(makeEvent("3"), to: queues) == .full(retryAfterSeconds: 1))
        #expect(idle.next() == nil && other.next() == nil)
        #expect((busy.depth, idle.depth, other.depth) == (2, 0, 0), "reservations are given back")
        #expect(store.storedBytes == bytesBefore)

        // The idle triggers still take events; the busy one frees a place once done.
        #expect(store.appendNow(makeEvent("4"), to: [idle, other]) == nil)
        let first = try #require(busy.next())
        #expect(store.appendNow(makeEvent("5"), to: [busy]) == .full(retryAfterSeconds: 1), "in flight still counts")
        busy.done(first)
        #expect(store.appendNow(makeEvent("6"), to: queues) == nil)
        #expect(drain(busy).map(\.event.id) == ["2", "6"])
        #expect(drain(idle).map(\.event.id) == ["4", "6"])
    }

    @Test func byteBoundCountsEveryQueueAndIsAllOrNothing() {
        let sample = makeEvent("0", data: Array(repeating: 7, count: 1000))
        let size = cost(sample)
        let store = MemoryStore(maxEventsPerTrigger: 100, maxBytes: 5 * size)
        let a = store.queue(forTrigger: "a")
        let b = store.queue(forTrigger: "b")
        #expect(store.appendNow(sample, to: [a, b]) == nil)
        #expect(store.storedBytes == 2 * size)
        #expect(store.appendNow(sample, to: [a, b]) == nil)
        #expect(store.storedBytes == 4 * size)
        #expect(store.appendNow(sample, to: [a, b]) == .full(retryAfterSeconds: 1), "6 × size is over the bound")
        #expect(store.storedBytes == 4 * size)
        #expect((a.depth, b.depth) == (2, 2))
        #expect(store.appendNow(sample, to: [b]) == nil, "exactly at the bound is allowed")
        #expect(store.storedBytes == 5 * size)
        #expect(store.appendNow(makeEvent("tiny", data: []), to: [a]) == .full(retryAfterSeconds: 1))
    }

    @Test func doneReleasesCapacity() throws {
        let sample = makeEvent("0", data: Array(repeating: 1, count: 100))
        let store = MemoryStore(maxEventsPerTrigger: 3, maxBytes: 1 << 20)
        let queue = store.queue(forTrigger: "q")
        for _ in 0..<3 { #expect(store.appendNow(sample, to: [queue]) == nil) }
        #expect(store.appendNow(sample, to: [queue]) == .full(retryAfterSeconds: 1))
        #expect(store.storedBytes == 3 * cost(sample))
        for expectedDepth in [2, 1, 0] {
            let next = try #require(queue.next())
            queue.done(next)
            #expect(queue.depth == expectedDepth)
            #expect(store.storedBytes == expectedDepth * cost(sample))
        }
        // Around the ring several times: the bound holds and nothing leaks.
        for round in 0..<50 {
            for index in 0..<3 { #expect(store.appendNow(makeEvent("\(round).\(index)"), to: [queue]) == nil) }
            #expect(store.appendNow(sample, to: [queue]) == .full(retryAfterSeconds: 1))
            let taken = drain(queue)
            #expect(taken.map(\.event.id) == (0..<3).map { "\(round).\($0)" })
            for stored in taken { queue.done(stored) }
            #expect(queue.depth == 0)
        }
        #expect(store.storedBytes == 0)
    }

    @Test func retainOnlyDropsRemovedTriggers() {
        let store = MemoryStore(maxEventsPerTrigger: 10)
        let kept = store.queue(forTrigger: "ns/kept")
        let removed = store.queue(forTrigger: "ns/removed")
        for id in ["1", "2", "3"] { #expect(store.appendNow(makeEvent(id), to: [kept, removed]) == nil) }
        let perEvent = cost(makeEvent("1"))
        #expect(store.storedBytes == 6 * perEvent)

        store.retainOnly(triggers: ["ns/kept", "ns/never-created"])
        #expect(removed.next() == nil, "the removed trigger's events are dropped")
        #expect(removed.depth == 0)
        #expect(store.storedBytes == 3 * perEvent, "and their bytes released")
        #expect(drain(kept).map(\.event.id) == ["1", "2", "3"])
        #expect(store.queue(forTrigger: "ns/kept") === kept)
        #expect(store.queue(forTrigger: "ns/removed") !== removed, "a trigger added again starts afresh")
        #expect(store.appendNow(makeEvent("4"), to: [removed, kept]) == nil, "a removed queue is skipped, not a reason to refuse")
        #expect(removed.next() == nil, "a removed queue takes nothing")
        #expect(drain(kept).map(\.event.id) == ["4"])
    }

    @Test func retainOnlyKeepsInFlightAccounting() throws {
        let store = MemoryStore(maxEventsPerTrigger: 10)
        let queue = store.queue(forTrigger: "gone")
        #expect(store.appendNow(makeEvent("1"), to: [queue]) == nil)
        #expect(store.appendNow(makeEvent("2"), to: [queue]) == nil)
        let inFlight = try #require(queue.next())
        store.retainOnly(triggers: [])
        #expect(store.storedBytes == cost(inFlight.event), "the event being delivered is still held")
        queue.done(inFlight)
        #expect(store.storedBytes == 0)
    }

    @Test func wakerIsCalledOnAppend() {
        let store = MemoryStore()
        let a = store.queue(forTrigger: "a")
        let b = store.queue(forTrigger: "b")
        let wakesA = Counter(), wakesB = Counter()
        a.setWaker { wakesA.increment() }
        b.setWaker { wakesB.increment() }
        #expect(store.appendNow(makeEvent("1"), to: [a]) == nil)
        #expect(store.appendNow(makeEvent("2"), to: [a, b]) == nil)
        #expect((wakesA.current, wakesB.current) == (2, 1))
        let full = MemoryStore(maxEventsPerTrigger: 1)
        let c = full.queue(forTrigger: "c")
        let wakesC = Counter()
        c.setWaker { wakesC.increment() }
        #expect(full.appendNow(makeEvent("1"), to: [c]) == nil)
        #expect(full.appendNow(makeEvent("2"), to: [c]) != nil)
        #expect(wakesC.current == 1, "a refused event wakes nobody")
    }

    @Test func batchesAreStoredWholeOrRefusedWhole() {
        let store = MemoryStore(maxEventsPerTrigger: 3)
        let queue = store.queue(forTrigger: "q")
        let other = store.queue(forTrigger: "other")
        let results = Locked<[StorageError?]>([])
        store.append([StoreEntry(event: makeEvent("1"), queues: [queue]), StoreEntry(event: makeEvent("2"), queues: [queue, other])]) { error in
            results.withLock { $0.append(error) }
        }
        // The second batch fits in `other` but not in `queue` (4 > 3): neither gets any of it.
        store.append([StoreEntry(event: makeEvent("3"), queues: [other]), StoreEntry(event: makeEvent("4"), queues: [queue]),
                      StoreEntry(event: makeEvent("5"), queues: [queue])]) { error in results.withLock { $0.append(error) } }
        #expect(results.withLock { $0 } == [nil, .full(retryAfterSeconds: 1)], "one completion per batch, before append returned")
        #expect(drain(queue).map(\.event.id) == ["1", "2"])
        #expect(drain(other).map(\.event.id) == ["2"], "a refused batch leaves nothing behind")
        #expect(queue.depth == 2 && other.depth == 1, "and reserves nothing")
    }

    // MARK: Threads

    /// Four producers append numbered events to two triggers while one consumer per trigger
    /// drains and acknowledges them: each trigger sees every event exactly once, each producer's
    /// events in order, and the store ends empty. A small bound makes producers meet `.full`.
    @Test func concurrentProducersAndConsumers() throws {
        let producers = 4
        let perProducer = 20_000
        let store = MemoryStore(maxEventsPerTrigger: 64)
        let queues = [store.queue(forTrigger: "ns/even"), store.queue(forTrigger: "ns/all")]
        let refusals = Counter()
        // Per consumer: the next index expected from each producer, and problems seen.
        let reports = Locked<[String]>([])
        let received = Locked<[Int]>([0, 0])

        var bodies: [@Sendable () -> Void] = []
        for producer in 0..<producers {
            bodies.append {
                for index in 0..<perProducer {
                    let tag = UInt64(producer) << 32 | UInt64(index)
                    let event = makeEvent("\(producer)", data: withUnsafeBytes(of: tag.littleEndian) { Array($0) })
                    let targets: [RingTriggerQueue] = index % 2 == 0 ? queues : [queues[1]]
                    while store.appendNow(event, to: targets) != nil {
                        refusals.increment()
                        sched_yield()
                    }
                }
            }
        }
        for (number, queue) in queues.enumerated() {
            let expectedTotal = number == 0 ? producers * perProducer / 2 : producers * perProducer
            bodies.append {
                var next = Array(repeating: 0, count: producers)
                var seen: Set<UInt64> = []
                var count = 0
                var problems: [String] = []
                while count < expectedTotal {
                    guard let stored = queue.next() else {
                        sched_yield()
                        continue
                    }
                    let tag = stored.event.data!.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
                    let producer = Int(tag >> 32), index = Int(tag & 0xFFFF_FFFF)
                    if !seen.insert(stored.position.offset).inserted { problems.append("duplicate sequence \(stored.position.offset)") }
                    if index != next[producer] { problems.append("\(queue.key): producer \(producer) gave \(index), expected \(next[producer])") }
                    next[producer] = index + (number == 0 ? 2 : 1)
                    count += 1
                    queue.done(stored)
                }
                if queue.next() != nil { problems.append("\(queue.key): more events than were appended") }
                received.withLock { $0[number] = count }
                reports.withLock { $0 += problems.prefix(5) }
            }
        }
        let threads = try bodies.map { try LoopThread(name: "store-test", $0) }
        for thread in threads { thread.join() }

        #expect(reports.withLock { $0 }.isEmpty, "\(reports.withLock { $0 })")
        #expect(received.withLock { $0 } == [producers * perProducer / 2, producers * perProducer])
        #expect(store.storedBytes == 0)
        #expect(queues.map(\.depth) == [0, 0])
    }
}
