import Glibc

/// The file operations the durable log uses, behind a protocol: the seam where tests inject
/// write and sync failures (`FaultInjectingFileSystem` in the tests) and where the log never
/// touches Glibc directly. Every failure is a `StorageError.failed` naming the operation,
/// the file and the system's reason.
public protocol LogFileSystem: Sendable {
    /// Creates the directory and its parents; succeeds when it exists.
    func createDirectory(atPath path: String) throws(StorageError)
    /// Names of the entries of a directory (without "." and "..").
    func contentsOfDirectory(atPath path: String) throws(StorageError) -> [String]
    /// Opens a file for reading and writing, creating it when asked (it must not exist then).
    func openFile(atPath path: String, create: Bool) throws(StorageError) -> Int32
    func close(_ descriptor: Int32)
    /// Writes all of `bytes` at `offset`.
    func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws(StorageError)
    /// Reads up to `buffer.count` bytes at `offset`; returns how many were read.
    func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(StorageError) -> Int
    /// Makes written data durable (fdatasync).
    func synchronize(_ descriptor: Int32) throws(StorageError)
    func truncate(_ descriptor: Int32, to size: Int) throws(StorageError)
    func size(of descriptor: Int32) throws(StorageError) -> Int
    func removeFile(atPath path: String) throws(StorageError)
    /// Gives a file another name, replacing what had it.
    func rename(atPath path: String, toPath destination: String) throws(StorageError)
    /// Makes the directory's entries (created or removed files) durable.
    func synchronizeDirectory(atPath path: String) throws(StorageError)
}

/// The real file system.
public struct PosixFileSystem: LogFileSystem {
    public init() {}

    public func createDirectory(atPath path: String) throws(StorageError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw failure("create directory", prefix) }
            prefix += "/"
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw failure("create directory", path) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw .failed("\(path) exists and is not a directory") }
    }

    public func contentsOfDirectory(atPath path: String) throws(StorageError) -> [String] {
        guard let directory = opendir(path) else { throw failure("list", path) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public func openFile(atPath path: String, create: Bool) throws(StorageError) -> Int32 {
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0)
        let descriptor = Glibc.open(path, flags, 0o644)
        guard descriptor >= 0 else { throw failure("open", path) }
        return descriptor
    }

    public func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }

    public func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws(StorageError) {
        var written = 0
        while written < bytes.count {
            let result = pwrite(descriptor, bytes.baseAddress! + written, bytes.count - written, off_t(offset + written))
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("write", "descriptor \(descriptor)")
            }
            written += result
        }
    }

    public func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(StorageError) -> Int {
        var total = 0
        while total < buffer.count {
            let result = pread(descriptor, buffer.baseAddress! + total, buffer.count - total, off_t(offset + total))
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("read", "descriptor \(descriptor)")
            }
            if result == 0 { break }
            total += result
        }
        return total
    }

    public func synchronize(_ descriptor: Int32) throws(StorageError) {
        while fdatasync(descriptor) != 0 {
            if errno != EINTR { throw failure("fdatasync", "descriptor \(descriptor)") }
        }
    }

    public func truncate(_ descriptor: Int32, to size: Int) throws(StorageError) {
        while ftruncate(descriptor, off_t(size)) != 0 {
            if errno != EINTR { throw failure("truncate", "descriptor \(descriptor)") }
        }
    }

    public func size(of descriptor: Int32) throws(StorageError) -> Int {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw failure("stat", "descriptor \(descriptor)") }
        return Int(info.st_size)
    }

    public func removeFile(atPath path: String) throws(StorageError) {
        if unlink(path) != 0 && errno != ENOENT { throw failure("remove", path) }
    }

    public func rename(atPath path: String, toPath destination: String) throws(StorageError) {
        if Glibc.rename(path, destination) != 0 { throw failure("rename", "\(path) to \(destination)") }
    }

    public func synchronizeDirectory(atPath path: String) throws(StorageError) {
        let descriptor = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("open directory", path) }
        defer { _ = Glibc.close(descriptor) }
        guard fsync(descriptor) == 0 else { throw failure("fsync directory", path) }
    }

    private func failure(_ operation: String, _ subject: String) -> StorageError {
        .failed("\(operation) \(subject): \(String(cString: strerror(errno)))")
    }
}

/// The standard library's `withUnsafe…Bytes` rethrow untyped errors; these keep the log's
/// single error type.
extension Array where Element == UInt8 {
    public func withStorageBytes<Result>(_ body: (UnsafeRawBufferPointer) throws(StorageError) -> Result) throws(StorageError) -> Result {
        let outcome: Swift.Result<Result, StorageError> = withUnsafeBytes { bytes in
            do throws(StorageError) { return .success(try body(bytes)) } catch { return .failure(error) }
        }
        return try outcome.get()
    }

    mutating func withMutableStorageBytes<Result>(_ body: (UnsafeMutableRawBufferPointer) throws(StorageError) -> Result) throws(StorageError) -> Result {
        let outcome: Swift.Result<Result, StorageError> = withUnsafeMutableBytes { bytes in
            do throws(StorageError) { return .success(try body(bytes)) } catch { return .failure(error) }
        }
        return try outcome.get()
    }
}
