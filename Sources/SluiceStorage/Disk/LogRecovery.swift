/// Reads a broker's log back at start-up, to learn where each trigger stands; the events still
/// owed stay on disk, and each trigger reads them back as its window allows (`TriggerLedger`).
///
/// With a checkpoint, reading starts at the earliest position it names: everything before is
/// done for every trigger, and those segments are deleted. From there every record is checked
/// and the small ones (triggers, done, retry) replayed. A record cut short at the end of a
/// segment (a write the crash interrupted) is cut off; a damaged record in the middle is
/// reported with its position and skipped, and reading goes on at the next intact record.
struct LogRecovery {
    /// Where a trigger resumes.
    struct TriggerStart {
        var key: String
        /// Reading from here finds every event the trigger still owes.
        var position: LogPosition
        var lowestSequence: UInt64 = 0
        /// Done above `lowestSequence` (out of order, or since the checkpoint).
        var doneBefore: Set<UInt64> = []
        var retries: [UInt64: (attempts: Int, at: Int64)] = [:]
        /// Events still owed.
        var owed = 0
    }

    struct Result {
        var segments: [SegmentedLog.Segment] = []
        /// Live triggers by id.
        var triggers: [UInt32: TriggerStart] = [:]
        var nextTriggerId: UInt32 = 1
        var nextSequence: UInt64 = 1
        /// What recovery found wrong and did about it, one line each.
        var problems: [String] = []
        var recordsRead = 0
        var checkpointUsed = false
    }

    let directory: String
    let fileSystem: any LogFileSystem
    private var result = Result()
    private var keys: [UInt32: String] = [:]
    private var starts: [UInt32: TriggerStart] = [:]
    /// Where reading starts, and so where a trigger the checkpoint does not name starts too.
    private var readFrom = LogPosition(segment: 0, offset: SegmentedLog.headerBytes)
    private var removed: Set<UInt32> = []
    /// Deliveries owed per trigger, per segment read (index in `result.segments`).
    private var owed: [[UInt32: Int]] = []

    init(directory: String, fileSystem: any LogFileSystem) {
        self.directory = directory
        self.fileSystem = fileSystem
    }

    static func recover(directory: String, fileSystem: any LogFileSystem) throws(StorageError) -> Result {
        var recovery = LogRecovery(directory: directory, fileSystem: fileSystem)
        return try recovery.run()
    }

    private mutating func run() throws(StorageError) -> Result {
        let numbers = try fileSystem.contentsOfDirectory(atPath: directory)
            .compactMap(SegmentedLog.number(ofFile:)).sorted()
        var problem: String?
        var checkpoint = try LogCheckpoint.read(from: directory, fileSystem: fileSystem, problem: &problem)
        if let problem { result.problems.append(problem) }
        if let found = checkpoint, found.nextSequence >= LogRecovery.sequenceLimit || found.nextTriggerId >= LogRecovery.triggerIdLimit
            || found.triggers.contains(where: { $0.id == 0 || $0.id >= LogRecovery.triggerIdLimit })
            // The segment that was active when it was taken is never deleted.
            || !numbers.contains(found.logEnd.segment) {
            result.problems.append("\(LogCheckpoint.fileName) does not match the log; reading the whole log")
            checkpoint = nil
        }
        if let checkpoint {
            result.checkpointUsed = true
            readFrom = checkpoint.start
            result.nextSequence = checkpoint.nextSequence
            result.nextTriggerId = checkpoint.nextTriggerId
            for trigger in checkpoint.triggers {
                keys[trigger.id] = trigger.key
                starts[trigger.id] = TriggerStart(key: trigger.key, position: trigger.position, lowestSequence: trigger.lowestSequence)
            }
        }
        for number in numbers {
            if number < readFrom.segment {
                // Before every trigger's position: nothing in it is owed.
                try fileSystem.removeFile(atPath: "\(directory)/\(SegmentedLog.fileName(number))")
                continue
            }
            try scan(number, from: number == readFrom.segment ? readFrom.offset : SegmentedLog.headerBytes)
        }
        finish()
        return result
    }

    // MARK: Reading

    private mutating func scan(_ number: UInt64, from offset: Int) throws(StorageError) {
        let name = SegmentedLog.fileName(number)
        let path = "\(directory)/\(name)"
        let descriptor = try fileSystem.openFile(atPath: path, create: false)
        let size: Int
        var header = [UInt8](repeating: 0, count: SegmentedLog.headerBytes)
        do throws(StorageError) {
            size = try fileSystem.size(of: descriptor)
            _ = try header.withMutableStorageBytes { raw throws(StorageError) in try fileSystem.read(descriptor, into: raw, at: 0) }
        } catch {
            fileSystem.close(descriptor)
            throw error
        }
        fileSystem.close(descriptor)
        guard size >= SegmentedLog.headerBytes else {
            // A segment whose creation the crash interrupted: it holds nothing.
            try fileSystem.removeFile(atPath: path)
            result.problems.append("\(name): incomplete segment header (\(size) bytes); removed")
            return
        }
        guard header.prefix(8).elementsEqual(SegmentedLog.magic),
              header.withUnsafeBytes({ UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) }) == SegmentedLog.formatVersion else {
            throw StorageError.failed("\(path) is not a Sluice log segment of format \(SegmentedLog.formatVersion)")
        }
        let segmentIndex = result.segments.count
        result.segments.append(SegmentedLog.Segment(number: number, size: size, sequenceLimit: result.segments.last?.sequenceLimit ?? 0,
                                                    outstanding: 0))
        owed.append([:])
        var reader = try SegmentReader(number: number, path: path, fileSystem: fileSystem, from: max(offset, SegmentedLog.headerBytes), limit: size)
        defer { reader.close() }
        var cutAt: Int?
        reading: while true {
            switch try reader.next() {
            case .end:
                break reading
            case .record:
                reader.payload { payload in apply(payload, segment: segmentIndex) }
            case .skipped(let from, let to):
                result.problems.append("\(name): damaged record at offset \(from); skipped \(to - from) bytes to the next intact record")
            case .tail(let at, let zeros):
                if !zeros {
                    result.problems.append("\(name): incomplete record at the end (offset \(at), \(size - at) bytes); cut off")
                }
                cutAt = at
            }
        }
        if let cutAt {
            // Zeros written ahead of the appends, or the tail a crash interrupted: cut off so
            // nothing is ever appended after garbage.
            let descriptor = try fileSystem.openFile(atPath: path, create: false)
            defer { fileSystem.close(descriptor) }
            try fileSystem.truncate(descriptor, to: cutAt)
            try fileSystem.synchronize(descriptor)
            result.segments[segmentIndex].size = cutAt
        }
    }

    private mutating func apply(_ payload: UnsafeRawBufferPointer, segment: Int) {
        result.recordsRead += 1
        var reader = PayloadReader(payload)
        guard let kind = reader.read(UInt8.self).flatMap(LogRecord.Kind.init(rawValue:)) else {
            return problem("a record of an unknown kind", segment: segment)
        }
        switch kind {
        case .event:
            guard let sequence = reader.read(UInt64.self), sequence < LogRecovery.sequenceLimit, let count = reader.read(UInt16.self) else {
                return problem("an event record with a broken head", segment: segment)
            }
            for _ in 0..<count {
                guard let id = reader.read(UInt32.self) else { return }
                if sequence >= (starts[id]?.lowestSequence ?? 0) { owed[segment][id, default: 0] += 1 }
            }
            result.segments[segment].sequenceLimit = max(result.segments[segment].sequenceLimit, sequence)
            result.nextSequence = max(result.nextSequence, sequence + 1)
        case .done:
            guard let trigger = reader.read(UInt32.self), let sequence = reader.read(UInt64.self) else { return }
            var start = starts[trigger] ?? TriggerStart(key: "", position: readFrom)
            guard sequence >= start.lowestSequence, start.doneBefore.insert(sequence).inserted else { return }
            start.retries[sequence] = nil
            starts[trigger] = start
            if let holder = segmentIndex(of: sequence) { owed[holder][trigger, default: 0] -= 1 }
        case .retry:
            guard let trigger = reader.read(UInt32.self), let sequence = reader.read(UInt64.self),
                  let attempts = reader.read(UInt32.self), let at = reader.read(Int64.self) else { return }
            var start = starts[trigger] ?? TriggerStart(key: "", position: readFrom)
            guard sequence >= start.lowestSequence, !start.doneBefore.contains(sequence) else { return }
            start.retries[sequence] = (Int(attempts), at)
            starts[trigger] = start
        case .trigger:
            guard let id = reader.read(UInt32.self), id > 0, id < LogRecovery.triggerIdLimit else {
                return problem("a trigger record with an impossible id", segment: segment)
            }
            keys[id] = String(decoding: reader.rest, as: UTF8.self)
            result.nextTriggerId = max(result.nextTriggerId, id + 1)
        case .triggerRemoved:
            guard let id = reader.read(UInt32.self) else { return }
            removed.insert(id)
        }
    }

    /// Sequences and trigger ids count up from 1 by one; values near the top of their type can
    /// only come from damage, and would overflow where they are counted on.
    static let sequenceLimit = UInt64.max / 2
    static let triggerIdLimit = UInt32.max / 2

    private mutating func problem(_ text: String, segment: Int) {
        result.problems.append("\(SegmentedLog.fileName(result.segments[segment].number)): \(text); skipped")
    }

    /// The segment holding event `sequence` (the first whose limit reaches it).
    private func segmentIndex(of sequence: UInt64) -> Int? {
        var low = 0
        var high = result.segments.count
        while low < high {
            let middle = (low + high) / 2
            if result.segments[middle].sequenceLimit >= sequence { high = middle } else { low = middle + 1 }
        }
        return low < result.segments.count ? low : nil
    }

    // MARK: The outcome

    /// Live triggers, their starts (never before the first segment left), and what each
    /// segment still holds owed.
    private mutating func finish() {
        let first = result.segments.first.map { LogPosition(segment: $0.number, offset: SegmentedLog.headerBytes) } ?? readFrom
        for (id, key) in keys where !removed.contains(id) {
            var trigger = starts[id] ?? TriggerStart(key: key, position: readFrom)
            trigger.key = key
            trigger.position = max(trigger.position, first)
            result.triggers[id] = trigger
        }
        for index in result.segments.indices {
            for (id, count) in owed[index] where count > 0 && result.triggers[id] != nil {
                result.segments[index].outstanding += count
                result.triggers[id]?.owed += count
            }
        }
        var unknown: [UInt32: Int] = [:]
        for segment in owed {
            for (id, count) in segment where count > 0 && result.triggers[id] == nil && !removed.contains(id) { unknown[id, default: 0] += count }
        }
        for (id, count) in unknown.sorted(by: { $0.key < $1.key }) {
            result.problems.append("\(count) events owed to unknown trigger id \(id); dropped for it")
        }
    }
}
