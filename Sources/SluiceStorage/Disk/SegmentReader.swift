/// Reads the records of one segment file in order, from any record boundary, through a
/// bounded buffer: sequential `pread`s of `chunkBytes`, growing only to hold one record that
/// is larger. Recovery reads the log with it, and so does each trigger whose backlog waits on
/// disk, so neither holds a segment in memory.
///
/// `limit` is where reading stops: the file's size at recovery, the bytes the committer has
/// written while running (the active segment grows under a reader).
struct SegmentReader {
    /// What `next` found at `offset`.
    enum Item: Equatable {
        /// A whole, intact record; `payload` reads it until the next call. `offset` has moved
        /// past it.
        case record(at: Int)
        /// Nothing more before `limit`.
        case end
        /// From `at` to `limit` there is no whole record: zeros written ahead of the appends
        /// (`zeros`), or a write a crash interrupted.
        case tail(at: Int, zeros: Bool)
        /// Damaged bytes from `from`; `offset` moved to the next intact record, at `to`.
        case skipped(from: Int, to: Int)
    }

    static let chunkBytes = 256 * 1024

    let number: UInt64
    private let fileSystem: any LogFileSystem
    private let descriptor: Int32
    var limit: Int
    /// The file offset of the next record to read.
    private(set) var offset: Int
    private var buffer: [UInt8] = []
    /// The file offset of `buffer[0]` and how many bytes of it are valid.
    private var bufferStart = 0
    private var bufferCount = 0
    private var payloadRange = 0..<0

    /// Opens segment `number` at `path` to read from `offset` up to `limit`.
    init(number: UInt64, path: String, fileSystem: any LogFileSystem, from offset: Int, limit: Int) throws(StorageError) {
        self.number = number
        self.fileSystem = fileSystem
        descriptor = try fileSystem.openFile(atPath: path, create: false)
        self.offset = offset
        self.limit = limit
    }

    /// Closes the file. Call once, when done with the reader.
    func close() {
        fileSystem.close(descriptor)
    }

    /// The payload of the record `next` returned last.
    func payload<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[payloadRange])) }
    }

    /// Goes back to the record at `position`, read before: it is read again by `next`.
    mutating func rewind(to position: Int) {
        offset = position
    }

    mutating func next() throws(StorageError) -> Item {
        guard offset < limit else { return .end }
        if let next = try frame(at: offset) {
            let start = offset
            offset = next
            return .record(at: start)
        }
        let from = offset
        if try zerosToLimit(from: from) {
            offset = limit
            return .tail(at: from, zeros: true)
        }
        var candidate = from + 1
        while candidate + LogRecord.headerBytes <= limit {
            if try available(at: candidate, count: 1), buffer[candidate - bufferStart] == 0x53,
               try frame(at: candidate) != nil {
                offset = candidate
                return .skipped(from: from, to: candidate)
            }
            candidate += 1
        }
        offset = limit
        return .tail(at: from, zeros: false)
    }

    /// The end of the intact record at `position`, with its payload noted; nil if there is none.
    private mutating func frame(at position: Int) throws(StorageError) -> Int? {
        guard try available(at: position, count: LogRecord.headerBytes) else { return nil }
        let (marker, length) = buffer.withUnsafeBytes { raw in
            (UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: position - bufferStart, as: UInt32.self)),
             Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: position - bufferStart + 4, as: UInt32.self))))
        }
        guard marker == LogRecord.marker, length >= 1, length <= LogRecord.maxPayloadBytes,
              try available(at: position, count: LogRecord.headerBytes + length) else { return nil }
        let start = position - bufferStart
        let intact = buffer.withUnsafeBytes { raw -> Bool in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[start..<(start + LogRecord.headerBytes + length)])
            if case .record = LogRecord.frame(in: bytes, at: 0) { return true }
            return false
        }
        guard intact else { return nil }
        payloadRange = (start + LogRecord.headerBytes)..<(start + LogRecord.headerBytes + length)
        return position + LogRecord.headerBytes + length
    }

    /// Makes `count` bytes at `position` readable in the buffer; false when they pass `limit`.
    private mutating func available(at position: Int, count: Int) throws(StorageError) -> Bool {
        guard position + count <= limit else { return false }
        if position >= bufferStart && position + count <= bufferStart + bufferCount { return true }
        let length = min(max(count, SegmentReader.chunkBytes), limit - position)
        if buffer.count < length || buffer.count > max(length, SegmentReader.chunkBytes) {
            buffer = [UInt8](repeating: 0, count: max(length, SegmentReader.chunkBytes))
        }
        let fileSystem = self.fileSystem
        let descriptor = self.descriptor
        let read = try buffer.withMutableStorageBytes { raw throws(StorageError) in
            try fileSystem.read(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<length]), at: position)
        }
        bufferStart = position
        bufferCount = read
        return read >= count
    }

    /// True when every byte from `position` to `limit` is zero.
    private mutating func zerosToLimit(from position: Int) throws(StorageError) -> Bool {
        var at = position
        while at < limit {
            let count = min(SegmentReader.chunkBytes, limit - at)
            guard try available(at: at, count: count) else { return false }
            let start = at - bufferStart
            if !buffer[start..<(start + count)].allSatisfy({ $0 == 0 }) { return false }
            at += count
        }
        return true
    }
}
