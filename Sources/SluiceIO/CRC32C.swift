import CSluice

/// CRC-32C (Castagnoli), the storage log's record checksum, computed with the CPU's crc32
/// instruction where there is one.
public enum CRC32C {
    /// The checksum of `count` bytes at `bytes`, continuing from `crc` (0 to start).
    @inline(__always)
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawPointer, count: Int) -> UInt32 {
        csluice_crc32c(crc, bytes, count)
    }
}
