import Glibc
import SluiceStorage

/// The data directory of `--storage disk`, checked before anything listens: it must exist (or
/// be creatable) and take a durable write.
enum DataDirectory {
    static func prepare(_ path: String) throws {
        let fileSystem = PosixFileSystem()
        let probe = "\(path)/.sluice-probe-\(getpid())"
        do throws(StorageError) {
            try fileSystem.createDirectory(atPath: path)
            let descriptor = try fileSystem.openFile(atPath: probe, create: true)
            defer { fileSystem.close(descriptor) }
            try Array("probe".utf8).withStorageBytes { bytes throws(StorageError) in
                try fileSystem.write(descriptor, bytes, at: 0)
            }
            try fileSystem.synchronize(descriptor)
            try fileSystem.removeFile(atPath: probe)
        } catch {
            try? fileSystem.removeFile(atPath: probe)
            throw ExitError(message: "--data-dir \(path) is not usable: \(error)")
        }
    }
}
