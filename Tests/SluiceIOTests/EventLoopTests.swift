import Dispatch
import Glibc
@testable import SluiceIO
import Synchronization
import Testing

/// A selector driven by the test: `wait` returns scripted events, so the loop's dispatch
/// logic can be checked against exact sequences the kernel would rarely produce on demand.
final class ScriptedSelector: Selector, @unchecked Sendable {
    private let lock = Locked<[[ReadyEvent]]>([])
    private let wake = DispatchSemaphore(value: 0)
    let registrations = Locked<[Int32: UInt64]>([:])

    func script(_ batch: [ReadyEvent]) {
        lock.withLock { $0.append(batch) }
        wake.signal()
    }

    func register(fd: Int32, interest: Interest, tag: UInt64) throws(IOError) {
        registrations.withLock { $0[fd] = tag }
    }

    func reregister(fd: Int32, interest: Interest, tag: UInt64) throws(IOError) {}

    func deregister(fd: Int32) throws(IOError) {
        registrations.withLock { $0[fd] = nil }
    }

    func wait(into events: UnsafeMutableBufferPointer<ReadyEvent>, timeoutMilliseconds: Int32) throws(IOError) -> Int {
        if lock.withLock({ $0.isEmpty }) {
            _ = wake.wait(timeout: timeoutMilliseconds < 0 ? .distantFuture : .now() + .milliseconds(Int(timeoutMilliseconds)))
        }
        guard let batch = lock.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { return 0 }
        for (index, event) in batch.enumerated() { events[index] = event }
        return batch.count
    }

    func wakeup() { wake.signal() }
    func close() {}
}

final class EventLog: Sendable {
    private let entries = Locked<[String]>([])
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

final class RecordingHandler: EventHandler, @unchecked Sendable {
    let name: String
    let log: EventLog
    var onEvent: ((ReadyEvent) -> Void)?

    init(_ name: String, log: EventLog) {
        self.name = name
        self.log = log
    }

    func handle(_ event: ReadyEvent) {
        log.append(name)
        onEvent?(event)
    }
}

/// Runs `body` on `loop` and waits for it, at most 5 seconds; false when it did not run.
@discardableResult
func onLoop(_ loop: EventLoop, _ body: @escaping @Sendable () -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    loop.execute {
        body()
        done.signal()
    }
    let ran = done.wait(timeout: .now() + 5) == .success
    #expect(ran, "the loop ran the task")
    return ran
}

/// The real epoll selector, counting the wake-ups asked of it.
final class CountingSelector: Selector, @unchecked Sendable {
    private let inner: EpollSelector
    let wakeups = Atomic<Int>(0)

    init() throws(IOError) {
        inner = try EpollSelector()
    }

    func register(fd: Int32, interest: Interest, tag: UInt64) throws(IOError) { try inner.register(fd: fd, interest: interest, tag: tag) }
    func reregister(fd: Int32, interest: Interest, tag: UInt64) throws(IOError) { try inner.reregister(fd: fd, interest: interest, tag: tag) }
    func deregister(fd: Int32) throws(IOError) { try inner.deregister(fd: fd) }
    func wait(into events: UnsafeMutableBufferPointer<ReadyEvent>, timeoutMilliseconds: Int32) throws(IOError) -> Int {
        try inner.wait(into: events, timeoutMilliseconds: timeoutMilliseconds)
    }
    func wakeup() {
        wakeups.add(1, ordering: .relaxed)
        inner.wakeup()
    }
    func close() { inner.close() }
}

@Suite("event loop")
struct EventLoopTests {
    @Test func staleTagOfReusedDescriptorIsDropped() throws {
        let selector = ScriptedSelector()
        let group = try EventLoopGroup(loopCount: 1, makeSelector: { selector })
        defer { group.shutdown() }
        let loop = group.loops[0]
        let log = EventLog()
        let first = RecordingHandler("first", log: log)
        let second = RecordingHandler("second", log: log)
        let staleTag = Locked<UInt64>(0)
        onLoop(loop) {
            try? loop.register(first, fd: 7, interest: .readable)
            staleTag.withLock { $0 = selector.registrations.withLock { $0[7] ?? 0 } }
            // fd 7 is closed and the number reused by a new connection.
            loop.deregister(fd: 7)
            try? loop.register(second, fd: 7, interest: .readable)
        }
        let freshTag = selector.registrations.withLock { $0[7] ?? 0 }
        #expect(freshTag != staleTag.withLock { $0 })
        let handled = DispatchSemaphore(value: 0)
        second.onEvent = { (_: ReadyEvent) in handled.signal() }
        selector.script([ReadyEvent(tag: staleTag.withLock { $0 }, mask: ReadyEvent.readable),
                         ReadyEvent(tag: freshTag, mask: ReadyEvent.readable)])
        #expect(handled.wait(timeout: .now() + 2) == .success)
        #expect(log.all == ["second"])
    }

    @Test func eventsForUnknownDescriptorsAreIgnored() throws {
        let selector = ScriptedSelector()
        let group = try EventLoopGroup(loopCount: 1, makeSelector: { selector })
        defer { group.shutdown() }
        let loop = group.loops[0]
        let log = EventLog()
        let known = RecordingHandler("known", log: log)
        onLoop(loop) { try? loop.register(known, fd: 9, interest: .readable) }
        let tag = selector.registrations.withLock { $0[9] ?? 0 }
        let handled = DispatchSemaphore(value: 0)
        known.onEvent = { (_: ReadyEvent) in handled.signal() }
        // Unknown descriptors around a known one, in one batch: only the known one is handled,
        // and the loop goes on.
        selector.script([ReadyEvent(tag: UInt64(3) << 32 | 100_000, mask: ReadyEvent.readable),
                         ReadyEvent(tag: 5, mask: ReadyEvent.hangup),
                         ReadyEvent(tag: tag, mask: ReadyEvent.readable),
                         ReadyEvent(tag: UInt64(1) << 32 | 4_000, mask: ReadyEvent.readable)])
        #expect(handled.wait(timeout: .now() + 2) == .success)
        #expect(onLoop(loop) {}, "the loop still runs tasks after the batch")
        #expect(log.all == ["known"])
    }

    @Test func executeFromManyThreadsRunsEverythingOnTheLoop() throws {
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }
        let loop = group.loops[0]
        let count = Atomic<Int>(0)
        let offLoop = Atomic<Int>(0)
        let producers = DispatchGroup()
        // More tasks than the queue holds, to exercise the overflow path.
        for _ in 0..<4 {
            DispatchQueue.global().async(group: producers) {
                for _ in 0..<5000 {
                    loop.execute {
                        if !loop.inEventLoop { offLoop.add(1, ordering: .relaxed) }
                        count.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        producers.wait()
        onLoop(loop) {}
        #expect(count.load(ordering: .relaxed) == 20_000)
        #expect(offLoop.load(ordering: .relaxed) == 0)
    }

    @Test func perProducerOrderIsKept() throws {
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }
        let loop = group.loops[0]
        let seen = Locked<[Int]>([])
        for value in 0..<10_000 {
            loop.execute { seen.withLock { $0.append(value) } }
        }
        onLoop(loop) {}
        #expect(seen.withLock { $0 } == Array(0..<10_000))
    }

    @Test func timersFireInDeadlineOrderAndCancelWorks() throws {
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }
        let loop = group.loops[0]
        let fired = Locked<[String]>([])
        let done = DispatchSemaphore(value: 0)
        onLoop(loop) {
            loop.schedule(after: .milliseconds(60)) { fired.withLock { $0.append("c") }; done.signal() }
            loop.schedule(after: .milliseconds(20)) { fired.withLock { $0.append("a") } }
            let cancelled = loop.schedule(after: .milliseconds(30)) { fired.withLock { $0.append("x") } }
            loop.schedule(after: .milliseconds(40)) { fired.withLock { $0.append("b") } }
            loop.cancel(cancelled)
        }
        let started = Monotonic.now()
        #expect(done.wait(timeout: .now() + 2) == .success)
        #expect(Monotonic.now() - started >= 50_000_000)
        #expect(fired.withLock { $0 } == ["a", "b", "c"])
    }

    @Test func eventfdWakeupsAreCoalesced() throws {
        // Many executes while the loop is busy cost no wake-ups; the loop still runs them all.
        let selector = try CountingSelector()
        let group = try EventLoopGroup(loopCount: 1, makeSelector: { selector })
        defer { group.shutdown() }
        let loop = group.loops[0]
        let count = Atomic<Int>(0)
        let busy = DispatchSemaphore(value: 0)
        loop.execute {
            busy.signal()
            usleep(50_000)
        }
        #expect(busy.wait(timeout: .now() + 5) == .success)
        let before = selector.wakeups.load(ordering: .relaxed)
        for _ in 0..<1000 { loop.execute { count.add(1, ordering: .relaxed) } }
        let during = selector.wakeups.load(ordering: .relaxed) - before
        onLoop(loop) {}
        #expect(count.load(ordering: .relaxed) == 1000)
        #expect(during == 0, "1000 executes to a busy loop asked for \(during) wake-ups")
    }
}

@Suite("deadlines, timer heap, buffers")
struct PrimitiveTests {
    @Test func deadlineArmsOnlyWhenMovedEarlier() {
        var deadline = Deadline()
        var steps: [String] = []
        func move(_ at: UInt64) { steps.append(deadline.move(to: at) ? "arm \(at)" : "keep \(at)") }
        func fire(_ at: UInt64, _ now: UInt64) { steps.append("\(deadline.fired(armedFor: at, now: now))") }
        move(100)
        move(200)      // later: the armed timer will chase it
        fire(100, 100)
        move(300)
        fire(200, 200)
        move(250)      // earlier: needs its own timer
        fire(300, 300)
        fire(250, 260)
        move(.max)
        move(400)
        deadline.clear()
        fire(400, 500)
        #expect(steps == ["arm 100", "keep 200", "rearm(200)", "keep 300", "rearm(300)", "arm 250", "stale", "expired",
                          "keep \(UInt64.max)", "arm 400", "stale"])
    }

    @Test func timerQueueOrdersAndCancels() {
        var queue = TimerQueue()
        let log = Locked<[Int]>([])
        var ids: [TimerID] = []
        for deadline in [50, 10, 30, 20, 40, 10] {
            ids.append(queue.schedule(at: UInt64(deadline)) { log.withLock { $0.append(deadline) } })
        }
        queue.cancel(ids[2])
        #expect(queue.nextDeadline() == 10)
        var due: [() -> Void] = []
        queue.popExpired(now: 35, into: &due)
        due.forEach { $0() }
        #expect(log.withLock { $0 } == [10, 10, 20])
        #expect(queue.nextDeadline() == 40)
        due.removeAll()
        queue.popExpired(now: 1000, into: &due)
        due.forEach { $0() }
        #expect(log.withLock { $0 } == [10, 10, 20, 40, 50])
        #expect(queue.isEmpty)
    }

    @Test func byteBufferGrowsCompactsAndFormats() {
        let buffer = ByteBuffer(capacity: 16)
        buffer.append("hello ")
        buffer.appendDecimal(0)
        buffer.append(byte: 0x20)
        buffer.appendDecimal(1234567890)
        #expect(String(decoding: buffer.readableBytes, as: UTF8.self) == "hello 0 1234567890")
        buffer.consume(6)
        buffer.reserveWritable(100)
        #expect(buffer.readerIndex == 0)
        #expect(String(decoding: buffer.readableBytes, as: UTF8.self) == "0 1234567890")
        buffer.append(Array(repeating: 0x41, count: 1000))
        #expect(buffer.readableCount == 1012)
        buffer.consume(1012)
        #expect(buffer.isEmpty && buffer.writerIndex == 0)
        buffer.shrink(to: 64)
        #expect(buffer.capacity == 64)
    }

    @Test func durationsSaturateAtZero() {
        #expect(Duration.milliseconds(-500).nanoseconds == 0)
        #expect(Duration.seconds(-2).nanoseconds == 0)
        #expect(Duration.milliseconds(1500).nanoseconds == 1_500_000_000)
        #expect(Duration.seconds(Int64.max).nanoseconds == UInt64.max)
    }

    @Test func socketAddresses() {
        #expect(SocketAddress(numericHost: "127.0.0.1", port: 80)?.description == "127.0.0.1:80")
        #expect(SocketAddress(numericHost: "::1", port: 8080)?.description == "[::1]:8080")
        #expect(SocketAddress(numericHost: "example.com", port: 80) == nil)
        #expect(SocketAddress(numericHost: "127.0.0.1", port: 70000) == nil)
        #expect(SocketAddress.loopback(port: 9).port == 9)
    }
}
