import Synchronization

/// A fixed set of event loops, one thread each (one per core by default).
public final class EventLoopGroup: Sendable {
    public let loops: [EventLoop]
    private let threads: Locked<[LoopThread]>
    private let nextIndex = Atomic<UInt>(0)

    /// Starts `loopCount` loops, each on its own thread. `makeSelector` is the kernel seam.
    public init(loopCount: Int = LoopThread.processorCount,
                makeSelector: () throws(IOError) -> any Selector = { () throws(IOError) in try EpollSelector() }) throws(IOError) {
        var loops: [EventLoop] = []
        for index in 0..<max(1, loopCount) {
            do {
                loops.append(EventLoop(index: index, selector: try makeSelector()))
            } catch {
                for loop in loops { loop.selector.close() }
                throw error
            }
        }
        self.loops = loops
        var threads: [LoopThread] = []
        for loop in loops {
            do {
                threads.append(try LoopThread(name: "sluice-loop-\(loop.index)") { loop.run() })
            } catch {
                for started in loops { started.stop() }
                for thread in threads { thread.join() }
                for loop in loops { loop.selector.close() }
                throw error
            }
        }
        self.threads = Locked(threads)
    }

    /// The loops in turn, for spreading new work.
    public func next() -> EventLoop {
        let index = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue
        return loops[Int(index % UInt(loops.count))]
    }

    /// Stops every loop after its current iteration and waits for the threads. Must not be
    /// called from one of the group's own loops.
    public func shutdown() {
        let threads = self.threads.withLock { list in
            let taken = list
            list.removeAll()
            return taken
        }
        if threads.isEmpty { return }
        for loop in loops { loop.stop() }
        for thread in threads { thread.join() }
        for loop in loops { loop.selector.close() }
    }
}
