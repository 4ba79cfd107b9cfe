import Dispatch
import Logging
import Synchronization

/// Writes a store's checkpoints off the committer thread. Writing one (a file, its fdatasync,
/// a rename) takes about a millisecond here, and a lone event arriving meanwhile would wait
/// behind it. Checkpoints are written one at a time and in the order taken, so an older one
/// never replaces a newer one; one offered while another is being written is dropped, as the
/// next interval brings a newer one. Every position a checkpoint names is durable before it is
/// offered, and recovery copes with segments deleted after it was taken, so a checkpoint that
/// lands late is still correct, only older.
final class CheckpointWriter: Sendable {
    private let directory: String
    private let fileSystem: any LogFileSystem
    private let counters: StorageMetrics
    private let logger: Logger
    private let queue = DispatchQueue(label: "sluice-checkpoint")
    private let writing = Atomic<Bool>(false)

    init(directory: String, fileSystem: any LogFileSystem, counters: StorageMetrics, logger: Logger) {
        self.directory = directory
        self.fileSystem = fileSystem
        self.counters = counters
        self.logger = logger
    }

    /// Writes `checkpoint` in the background; false (and nothing written) while another is
    /// being written.
    func offer(_ checkpoint: LogCheckpoint) -> Bool {
        guard !writing.exchange(true, ordering: .acquiring) else { return false }
        queue.async { [self] in
            write(checkpoint)
            _ = writing.exchange(false, ordering: .releasing)
        }
        return true
    }

    /// Writes `checkpoint` after any being written, and returns once it is written (at close).
    func writeNow(_ checkpoint: LogCheckpoint) {
        queue.sync { write(checkpoint) }
    }

    private func write(_ checkpoint: LogCheckpoint) {
        do throws(StorageError) {
            try checkpoint.write(to: directory, fileSystem: fileSystem)
            counters.checkpoints.add(1, ordering: .relaxed)
        } catch {
            logger.warning("writing the log checkpoint failed; a restart reads more of the log", metadata: ["reason": "\(error)"])
        }
    }
}
