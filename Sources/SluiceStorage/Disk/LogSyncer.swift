import SluiceIO
import Synchronization

/// Makes the active segment's appends durable on a thread of its own, so the committer writes
/// the next batch and hands its events to their triggers while the disk flushes the last one:
/// two batches in flight. A slow fdatasync (this VM's disk has 5–15 ms outliers) then delays
/// only the answers of the requests it covers, not the writing and delivery of the ones behind.
///
/// It is the only thread that syncs the active segment. After a failed fdatasync Linux reports
/// the error once per open file, to whichever caller asks first, so a second thread syncing the
/// same file could see success for pages the kernel dropped. For the same reason a failure
/// poisons the file: every request for it fails until the committer has moved to a new segment
/// (`drain`), since its earlier pages may be gone and recovery would stop reading at them.
final class LogSyncer: @unchecked Sendable {  // state behind its lock; `thread` set once in init
    typealias Completion = @Sendable (StorageError?) -> Void

    private struct Request {
        let descriptor: Int32
        let completion: Completion
    }

    private struct State {
        var requests: [Request] = []
        var syncing = false
        /// The file whose sync failed: requests for it fail until `drain`.
        var poisoned: Int32?
        var closed = false
    }

    private let state = Locked(State())
    private let fileSystem: any LogFileSystem
    private let counters: StorageMetrics
    /// A sync failed since the committer last asked (`takeFailure`).
    private let failure = Atomic<Bool>(false)
    private var thread: LoopThread?

    init(fileSystem: any LogFileSystem, counters: StorageMetrics) throws(StorageError) {
        self.fileSystem = fileSystem
        self.counters = counters
        do {
            thread = try LoopThread(name: "sluice-sync") { [self] in self.run() }
        } catch {
            throw .failed("cannot start the log syncer: \(error)")
        }
    }

    /// Makes everything written to `descriptor` so far durable, then calls `completion` on the
    /// syncer's thread: nil when it is on disk, else why not. Requests are completed in order;
    /// one fdatasync covers every request waiting when it starts.
    func sync(_ descriptor: Int32, then completion: @escaping Completion) {
        state.withLock { $0.requests.append(Request(descriptor: descriptor, completion: completion)) }
        state.broadcast()
    }

    /// Syncs `descriptor` and waits for it.
    func syncAndWait(_ descriptor: Int32) throws(StorageError) {
        let outcome = Locked<(done: Bool, error: StorageError?)>((false, nil))
        sync(descriptor) { error in
            outcome.withLock { $0 = (true, error) }
            outcome.signal()
        }
        if let error = outcome.wait(until: { $0.done }, timeout: nil, then: { $0.error }) { throw error }
    }

    /// True once after a sync failed: the committer must not append to that file again.
    func takeFailure() -> Bool {
        failure.load(ordering: .acquiring) && failure.exchange(false, ordering: .acquiringAndReleasing)
    }

    /// Waits until every request is completed, before the committer closes the file they name;
    /// a new file starts unpoisoned.
    func drain() {
        state.wait(until: { $0.requests.isEmpty && !$0.syncing }, timeout: nil) { $0.poisoned = nil }
    }

    /// Completes what waits and stops the thread.
    func close() {
        state.withLock { $0.closed = true }
        state.broadcast()
        thread?.join()
    }

    private func run() {
        while true {
            let taken = state.wait(until: { !$0.requests.isEmpty || $0.closed }, timeout: nil) { state -> [Request] in
                let taken = state.requests
                state.requests.removeAll(keepingCapacity: true)
                state.syncing = !taken.isEmpty
                return taken
            }
            if taken.isEmpty { return }
            var outcomes: [(descriptor: Int32, error: StorageError?)] = []
            for request in taken where !outcomes.contains(where: { $0.descriptor == request.descriptor }) {
                outcomes.append((request.descriptor, synchronize(request.descriptor)))
            }
            for request in taken {
                request.completion(outcomes.first { $0.descriptor == request.descriptor }?.error)
            }
            state.withLock { $0.syncing = false }
            state.broadcast()
        }
    }

    private func synchronize(_ descriptor: Int32) -> StorageError? {
        if state.withLock({ $0.poisoned == descriptor }) {
            return .failed("an earlier fdatasync of this log segment failed; its requests are refused until the next segment")
        }
        do throws(StorageError) {
            try fileSystem.synchronize(descriptor)
            counters.syncs.add(1, ordering: .relaxed)
            return nil
        } catch {
            state.withLock { $0.poisoned = descriptor }
            failure.store(true, ordering: .releasing)
            return error
        }
    }
}
