import SluiceIO

/// Where every trigger of a broker stood in its log at one moment, so a restart reads only
/// what is still owed instead of the whole log: for each trigger, the lowest sequence it was
/// not done with and a log position at or before that event. Taken by the committer now and
/// then, written by a `CheckpointWriter` (a temporary file, fdatasync, rename), and read back
/// by recovery; a missing or damaged checkpoint only costs a full read of the log.
///
///     "SLUICECP" | u32 format | u32 CRC-32C of the rest | u64 next sequence | u32 next trigger id
///     | u64 log end segment | u64 log end offset | u32 trigger count | per trigger: u32 id | u64 lowest sequence | u64 segment | u64 offset
///     | u16 key length | key (UTF-8)
struct LogCheckpoint: Equatable, Sendable {
    struct Trigger: Equatable, Sendable {
        let id: UInt32
        let key: String
        /// Every event below it is done for this trigger.
        let lowestSequence: UInt64
        /// Reading from here finds every event the trigger is not done with.
        let position: LogPosition
    }

    static let fileName = "checkpoint"
    static let magic: [UInt8] = Array("SLUICECP".utf8)
    static let formatVersion: UInt32 = 1

    var nextSequence: UInt64
    var nextTriggerId: UInt32
    /// Where the log ended when the checkpoint was taken.
    var logEnd: LogPosition
    var triggers: [Trigger]

    /// Where recovery starts reading: the earliest position of any trigger, or the log end.
    var start: LogPosition { triggers.map(\.position).min().map { min($0, logEnd) } ?? logEnd }

    func encoded() -> [UInt8] {
        var body: [UInt8] = []
        body.appendLittleEndian(nextSequence)
        body.appendLittleEndian(nextTriggerId)
        body.appendLittleEndian(logEnd.segment)
        body.appendLittleEndian(UInt64(logEnd.offset))
        body.appendLittleEndian(UInt32(triggers.count))
        for trigger in triggers {
            body.appendLittleEndian(trigger.id)
            body.appendLittleEndian(trigger.lowestSequence)
            body.appendLittleEndian(trigger.position.segment)
            body.appendLittleEndian(UInt64(trigger.position.offset))
            let key = Array(trigger.key.utf8.prefix(Int(UInt16.max)))
            body.appendLittleEndian(UInt16(key.count))
            body += key
        }
        var file = LogCheckpoint.magic
        file.appendLittleEndian(LogCheckpoint.formatVersion)
        file.appendLittleEndian(body.withUnsafeBytes { CRC32C.update(0, $0.baseAddress!, count: $0.count) })
        return file + body
    }

    /// The checkpoint in `bytes`, or nil when they are not a whole, intact one of this format.
    init?(decoding bytes: UnsafeRawBufferPointer) {
        let headerBytes = LogCheckpoint.magic.count + 8
        guard bytes.count > headerBytes, bytes.prefix(LogCheckpoint.magic.count).elementsEqual(LogCheckpoint.magic) else { return nil }
        var header = PayloadReader(UnsafeRawBufferPointer(rebasing: bytes[LogCheckpoint.magic.count..<headerBytes]))
        let body = UnsafeRawBufferPointer(rebasing: bytes[headerBytes...])
        guard header.read(UInt32.self) == LogCheckpoint.formatVersion,
              header.read(UInt32.self) == CRC32C.update(0, body.baseAddress!, count: body.count) else { return nil }
        var reader = PayloadReader(body)
        guard let nextSequence = reader.read(UInt64.self), let nextTriggerId = reader.read(UInt32.self),
              let endSegment = reader.read(UInt64.self), let endOffset = reader.read(UInt64.self), endOffset <= UInt64(Int.max),
              let count = reader.read(UInt32.self) else { return nil }
        var triggers: [Trigger] = []
        for _ in 0..<count {
            guard let id = reader.read(UInt32.self), let lowest = reader.read(UInt64.self), let segment = reader.read(UInt64.self),
                  let offset = reader.read(UInt64.self), offset <= UInt64(Int.max), let keyLength = reader.read(UInt16.self),
                  let key = reader.take(Int(keyLength)) else { return nil }
            triggers.append(Trigger(id: id, key: String(decoding: key, as: UTF8.self), lowestSequence: lowest,
                                    position: LogPosition(segment: segment, offset: Int(offset))))
        }
        guard reader.rest.isEmpty else { return nil }
        self.init(nextSequence: nextSequence, nextTriggerId: nextTriggerId,
                  logEnd: LogPosition(segment: endSegment, offset: Int(endOffset)), triggers: triggers)
    }

    init(nextSequence: UInt64, nextTriggerId: UInt32, logEnd: LogPosition, triggers: [Trigger]) {
        self.nextSequence = nextSequence
        self.nextTriggerId = nextTriggerId
        self.logEnd = logEnd
        self.triggers = triggers
    }

    /// Replaces the checkpoint in `directory`: the new one is durable before it takes the
    /// old one's name, so a crash leaves one or the other whole.
    func write(to directory: String, fileSystem: any LogFileSystem) throws(StorageError) {
        let temporary = "\(directory)/\(LogCheckpoint.fileName).tmp"
        try fileSystem.removeFile(atPath: temporary)
        let descriptor = try fileSystem.openFile(atPath: temporary, create: true)
        do throws(StorageError) {
            try encoded().withStorageBytes { bytes throws(StorageError) in try fileSystem.write(descriptor, bytes, at: 0) }
            try fileSystem.synchronize(descriptor)
        } catch {
            fileSystem.close(descriptor)
            throw error
        }
        fileSystem.close(descriptor)
        try fileSystem.rename(atPath: temporary, toPath: "\(directory)/\(LogCheckpoint.fileName)")
    }

    /// The checkpoint in `directory`; nil when there is none. A damaged one is a problem
    /// reported in `problem`, and nil too.
    static func read(from directory: String, fileSystem: any LogFileSystem, problem: inout String?) throws(StorageError) -> LogCheckpoint? {
        let path = "\(directory)/\(fileName)"
        guard try fileSystem.contentsOfDirectory(atPath: directory).contains(fileName) else { return nil }
        let descriptor = try fileSystem.openFile(atPath: path, create: false)
        defer { fileSystem.close(descriptor) }
        let size = try fileSystem.size(of: descriptor)
        guard size <= 64 * 1024 * 1024 else {
            problem = "\(fileName): \(size) bytes is too large for a checkpoint; reading the whole log"
            return nil
        }
        var bytes = [UInt8](repeating: 0, count: size)
        let read = try bytes.withMutableStorageBytes { raw throws(StorageError) in try fileSystem.read(descriptor, into: raw, at: 0) }
        let checkpoint = bytes.withUnsafeBytes { LogCheckpoint(decoding: UnsafeRawBufferPointer(rebasing: $0[0..<read])) }
        if checkpoint == nil { problem = "\(fileName) is damaged; reading the whole log" }
        return checkpoint
    }
}

/// A place in a broker's log: a segment and a byte offset in it (a record's start).
struct LogPosition: Comparable, Hashable, CustomStringConvertible {
    var segment: UInt64
    var offset: Int

    static func < (left: LogPosition, right: LogPosition) -> Bool {
        (left.segment, left.offset) < (right.segment, right.offset)
    }

    var description: String { "\(SegmentedLog.fileName(segment))@\(offset)" }
}
