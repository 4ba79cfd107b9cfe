import Glibc
import SluiceIO

/// What `--watch` compares to notice that the manifests changed: the stamp of the config file,
/// or of each `*.yaml`/`*.yml` file of the config directory (the files the loader reads).
/// Stamps follow symlinks, so a ConfigMap volume, which swaps its `..data` symlink to a new
/// directory, shows every file as changed; an editor's rewrite changes a file's time or size;
/// a file added or removed changes the list.
struct ConfigStamp: Equatable {
    private let files: [String]
    private let stamps: [FileStamp]

    init(path: String) {
        var names = [path]
        if let directory = opendir(path) {
            defer { closedir(directory) }
            names = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard name.hasSuffix(".yaml") || name.hasSuffix(".yml") else { continue }
                names.append(path.hasSuffix("/") ? path + name : path + "/" + name)
            }
            names.sort()
        }
        files = names
        stamps = names.map(FileStamp.init)
    }
}
