import SluiceCloudEvents

/// Reads a broker's log back at start-up. The first pass checks every record and replays the
/// small ones (triggers, done, retry) to learn which deliveries are still owed; the second
/// decodes only the events still owed, from the segments that hold them. A record cut short
/// at the end of a segment (a write the crash interrupted) is cut off; a damaged record in
/// the middle is reported with its position and skipped, and reading goes on at the next
/// intact record.
struct LogRecovery {
    struct Result {
        var segments: [SegmentedLog.Segment] = []
        /// Live triggers by id.
        var triggers: [UInt32: String] = [:]
        var nextTriggerId: UInt32 = 1
        var nextSequence: UInt64 = 1
        /// Events still owed, per trigger id, in sequence order.
        var pending: [UInt32: [StoredEvent]] = [:]
        /// What recovery found wrong and did about it, one line each.
        var problems: [String] = []
        var recordsRead = 0
    }

    private struct EventLocation {
        let sequence: UInt64
        let segment: Int
        let offset: Int
        let length: Int
        var owedTo: [UInt32]
    }

    private struct RetryKey: Hashable {
        let trigger: UInt32
        let sequence: UInt64
    }

    let directory: String
    let fileSystem: any LogFileSystem
    private var result = Result()
    private var events: [EventLocation] = []
    private var retries: [RetryKey: (attempts: Int, at: Int64)] = [:]
    private var removed: Set<UInt32> = []
    private var buffer: [UInt8] = []

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
        for number in numbers {
            try scan(number)
        }
        try decodeOwedEvents()
        for id in removed { result.triggers[id] = nil }
        return result
    }

    // MARK: First pass

    private mutating func scan(_ number: UInt64) throws(StorageError) {
        let name = SegmentedLog.fileName(number)
        let path = "\(directory)/\(name)"
        let size = try load(path)
        guard size >= SegmentedLog.headerBytes,
              buffer.prefix(8).elementsEqual(SegmentedLog.magic),
              buffer.withUnsafeBytes({ UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) }) == SegmentedLog.formatVersion else {
            if size < SegmentedLog.headerBytes {
                // A segment whose creation the crash interrupted: it holds nothing.
                try fileSystem.removeFile(atPath: path)
                result.problems.append("\(name): incomplete segment header (\(size) bytes); removed")
                return
            }
            throw StorageError.failed("\(path) is not a Sluice log segment of format \(SegmentedLog.formatVersion)")
        }
        let segmentIndex = result.segments.count
        var segment = SegmentedLog.Segment(number: number, size: size, sequenceLimit: result.segments.last?.sequenceLimit ?? 0, outstanding: 0)
        var offset = SegmentedLog.headerBytes
        var cutAt: Int?
        var zerosFrom: Int?
        let contents = buffer  // shares the storage; `apply` below may not touch `buffer`
        contents.withUnsafeBytes { bytes in
            let bytes = UnsafeRawBufferPointer(rebasing: bytes[0..<size])
            while offset < size {
                switch LogRecord.frame(in: bytes, at: offset) {
                case .record(let payload, let next):
                    apply(payload, segment: segmentIndex, offset: offset + LogRecord.headerBytes, limit: &segment.sequenceLimit)
                    offset = next
                case .truncated, .damaged:
                    if bytes[offset...].allSatisfy({ $0 == 0 }) {
                        // The zeros written ahead of the appends: the end of the log.
                        zerosFrom = offset
                        offset = size
                        break
                    }
                    guard let resume = nextIntactRecord(in: bytes, after: offset) else {
                        cutAt = offset
                        offset = size
                        break
                    }
                    result.problems.append("\(name): damaged record at offset \(offset); skipped \(resume - offset) bytes to the next intact record")
                    offset = resume
                }
            }
        }
        if let zerosFrom {
            let descriptor = try fileSystem.openFile(atPath: path, create: false)
            defer { fileSystem.close(descriptor) }
            try fileSystem.truncate(descriptor, to: zerosFrom)
            segment.size = zerosFrom
        }
        if let cutAt {
            // The tail a crash interrupted: cut it off so nothing is ever appended after garbage.
            let descriptor = try fileSystem.openFile(atPath: path, create: false)
            defer { fileSystem.close(descriptor) }
            try fileSystem.truncate(descriptor, to: cutAt)
            try fileSystem.synchronize(descriptor)
            result.problems.append("\(name): incomplete record at the end (offset \(cutAt), \(size - cutAt) bytes); cut off")
            segment.size = cutAt
        }
        result.segments.append(segment)
    }

    /// Reads a whole segment into `buffer`; returns its size.
    private mutating func load(_ path: String) throws(StorageError) -> Int {
        let descriptor = try fileSystem.openFile(atPath: path, create: false)
        defer { fileSystem.close(descriptor) }
        let size = try fileSystem.size(of: descriptor)
        if buffer.count < size { buffer = [UInt8](repeating: 0, count: size) }
        let fileSystem = self.fileSystem
        let read = try buffer.withMutableStorageBytes { raw throws(StorageError) in
            try fileSystem.read(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<size]), at: 0)
        }
        return read
    }

    private func nextIntactRecord(in bytes: UnsafeRawBufferPointer, after offset: Int) -> Int? {
        var candidate = offset + 1
        while candidate + LogRecord.headerBytes <= bytes.count {
            if bytes[candidate] == 0x53, case .record = LogRecord.frame(in: bytes, at: candidate) { return candidate }
            candidate += 1
        }
        return nil
    }

    private mutating func apply(_ payload: UnsafeRawBufferPointer, segment: Int, offset: Int, limit: inout UInt64) {
        result.recordsRead += 1
        var reader = PayloadReader(payload)
        guard let kind = reader.read(UInt8.self).flatMap(LogRecord.Kind.init(rawValue:)) else {
            result.problems.append("segment \(segment): record of an unknown kind at offset \(offset); skipped")
            return
        }
        switch kind {
        case .event:
            guard let sequence = reader.read(UInt64.self), let count = reader.read(UInt16.self) else { return }
            var owed: [UInt32] = []
            owed.reserveCapacity(Int(count))
            for _ in 0..<count {
                guard let id = reader.read(UInt32.self) else { return }
                owed.append(id)
            }
            let eventOffset = offset + reader.offset
            events.append(EventLocation(sequence: sequence, segment: segment, offset: eventOffset,
                                        length: payload.count - reader.offset, owedTo: owed))
            limit = max(limit, sequence)
            result.nextSequence = max(result.nextSequence, sequence + 1)
        case .done:
            guard let trigger = reader.read(UInt32.self), let sequence = reader.read(UInt64.self),
                  let index = eventIndex(sequence) else { return }
            events[index].owedTo.removeAll { $0 == trigger }
            retries[RetryKey(trigger: trigger, sequence: sequence)] = nil
        case .retry:
            guard let trigger = reader.read(UInt32.self), let sequence = reader.read(UInt64.self),
                  let attempts = reader.read(UInt32.self), let at = reader.read(Int64.self) else { return }
            retries[RetryKey(trigger: trigger, sequence: sequence)] = (Int(attempts), at)
        case .trigger:
            guard let id = reader.read(UInt32.self) else { return }
            result.triggers[id] = String(decoding: reader.rest, as: UTF8.self)
            result.nextTriggerId = max(result.nextTriggerId, id + 1)
        case .triggerRemoved:
            guard let id = reader.read(UInt32.self) else { return }
            removed.insert(id)
        }
    }

    /// Events are logged in sequence order, so a binary search finds one.
    private func eventIndex(_ sequence: UInt64) -> Int? {
        var low = 0
        var high = events.count
        while low < high {
            let middle = (low + high) / 2
            if events[middle].sequence < sequence { low = middle + 1 } else { high = middle }
        }
        return low < events.count && events[low].sequence == sequence ? low : nil
    }

    // MARK: Second pass

    private mutating func decodeOwedEvents() throws(StorageError) {
        var loadedSegment = -1
        for location in events {
            let owed = location.owedTo.filter { !removed.contains($0) && result.triggers[$0] != nil }
            if owed.count < location.owedTo.count {
                let unknown = location.owedTo.filter { result.triggers[$0] == nil && !removed.contains($0) }
                if !unknown.isEmpty {
                    result.problems.append("event \(location.sequence): owed to unknown trigger ids \(unknown); dropped for them")
                }
            }
            if owed.isEmpty { continue }
            if loadedSegment != location.segment {
                _ = try load("\(directory)/\(SegmentedLog.fileName(result.segments[location.segment].number))")
                loadedSegment = location.segment
            }
            let decoded = buffer.withUnsafeBytes { raw -> CloudEvent? in
                CloudEvent(storageBytes: UnsafeRawBufferPointer(rebasing: raw[location.offset..<(location.offset + location.length)]))
            }
            guard let event = decoded else {
                result.problems.append("event \(location.sequence): stored bytes do not decode; skipped")
                continue
            }
            result.segments[location.segment].outstanding += owed.count
            for trigger in owed {
                var stored = StoredEvent(event: event, position: StreamPosition(offset: location.sequence))
                if let retry = retries[RetryKey(trigger: trigger, sequence: location.sequence)] {
                    stored.attemptsMade = retry.attempts
                    stored.nextAttemptAt = retry.at
                }
                result.pending[trigger, default: []].append(stored)
            }
        }
    }
}
