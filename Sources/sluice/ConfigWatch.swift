import SluiceConfig
import SluiceIO

/// What `--watch` compares to notice that the manifests changed: the stamp of each file the
/// loader reads (`ManifestLoader.manifestFiles`). Stamps follow symlinks, so a ConfigMap volume,
/// which swaps its `..data` symlink to a new directory, shows every file as changed; an
/// editor's rewrite changes a file's time or size; a file added or removed changes the list.
struct ConfigStamp: Equatable {
    private let files: [String]
    private let stamps: [FileStamp]

    init(path: String) {
        files = (try? ManifestLoader.manifestFiles(at: path)) ?? []
        stamps = files.map(FileStamp.init)
    }
}
