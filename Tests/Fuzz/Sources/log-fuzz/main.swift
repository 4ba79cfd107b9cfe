import Glibc
import SluiceIO
import SluiceStorage

/// libFuzzer entry: the input as a broker's data directory, opened by a `DiskStore` (recovery,
/// then the first read of each trigger's backlog) and closed again. Whatever the files hold,
/// opening must answer with a store or a `StorageError`, never crash or hang.
///
/// Layout: the first byte picks flags (bit 0: end the segment with raw bytes, bit 1: write a
/// checkpoint, bit 2: a second segment); the rest is fields, each a 16-bit little-endian
/// length and that many bytes. Each field becomes one record of the segment, framed and sealed as the committer
/// does (so recovery reads its payload: any kind, any fields, any sequence or trigger id);
/// with bit 1 the first field is the checkpoint's body, sealed as a checkpoint is; with bit 0
/// the last field is appended unframed, as damage.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let flags = data[0]
    var fields: [[UInt8]] = []
    var offset = 1
    while offset + 2 <= size {
        let length = Int(data[offset]) | Int(data[offset + 1]) << 8
        let end = min(size, offset + 2 + length)
        fields.append(Array(UnsafeBufferPointer(start: data + offset + 2, count: end - offset - 2)))
        offset = end
    }
    let directory = "/tmp/sluice-log-fuzz-\(getpid())"
    var checkpoint: [UInt8]?
    if flags & 2 != 0, !fields.isEmpty { checkpoint = fields.removeFirst() }
    let damage = flags & 1 != 0 ? fields.popLast() : nil
    var first = segmentHeader()
    var second = segmentHeader()
    for (index, field) in fields.enumerated() {
        if flags & 4 != 0 && index % 2 == 1 { second += record(field) } else { first += record(field) }
    }
    if let damage { first += damage }
    mkdir(directory, 0o755)
    write(first, to: "\(directory)/00000000000000000001.seg")
    if flags & 4 != 0 { write(second, to: "\(directory)/00000000000000000002.seg") }
    if let checkpoint { write(sealedCheckpoint(checkpoint), to: "\(directory)/checkpoint") }

    var options = DiskStore.Options(directory: directory)
    options.segmentBytes = 64 * 1024
    options.maxEventsPerTrigger = 16
    if let store = try? DiskStore(options: options) {
        for key in ["ns/a", "ns/b"] {
            let queue = store.queue(forTrigger: key)
            while let event = queue.next() { queue.done(event) }
        }
        store.close()
    }
    removeAll(directory)
    return 0
}

private func segmentHeader() -> [UInt8] {
    Array("SLUICELG".utf8) + [1, 0, 0, 0, 0, 0, 0, 0]
}

/// `payload` framed as a log record: marker, length, CRC-32C of length and payload.
private func record(_ payload: [UInt8]) -> [UInt8] {
    var length = UInt32(payload.count).littleEndian
    var crc = withUnsafeBytes(of: &length) { CRC32C.update(0, $0.baseAddress!, count: 4) }
    if !payload.isEmpty { crc = payload.withUnsafeBytes { CRC32C.update(crc, $0.baseAddress!, count: payload.count) } }
    return Array("SLRC".utf8) + bytes(length) + bytes(crc.littleEndian) + payload
}

private func sealedCheckpoint(_ body: [UInt8]) -> [UInt8] {
    let crc = body.isEmpty ? 0 : body.withUnsafeBytes { CRC32C.update(0, $0.baseAddress!, count: body.count) }
    return Array("SLUICECP".utf8) + bytes(UInt32(1).littleEndian) + bytes(crc.littleEndian) + body
}

private func bytes<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
    withUnsafeBytes(of: value) { Array($0) }
}

private func write(_ contents: [UInt8], to path: String) {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard descriptor >= 0 else { return }
    _ = contents.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
    close(descriptor)
}

private func removeAll(_ directory: String) {
    guard let handle = opendir(directory) else { return }
    while let entry = readdir(handle) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { unlink("\(directory)/\(name)") }
    }
    closedir(handle)
    rmdir(directory)
}
