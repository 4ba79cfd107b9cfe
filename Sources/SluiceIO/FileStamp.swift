import Glibc

/// What identifies a file's content for change detection without reading it: device, inode,
/// size and modification time. A Kubernetes Secret or ConfigMap volume swaps files through a
/// symlink, which changes the inode; an editor's in-place write changes the time.
public struct FileStamp: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modified: Int
    let modifiedNanoseconds: Int

    /// The stamp of `path`; all zeros when it cannot be read.
    public init(_ path: String) {
        var info = stat()
        if stat(path, &info) != 0 { info = stat() }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modified = info.st_mtim.tv_sec
        modifiedNanoseconds = info.st_mtim.tv_nsec
    }
}
