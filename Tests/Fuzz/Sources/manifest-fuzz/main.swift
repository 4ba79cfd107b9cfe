import SluiceConfig

/// libFuzzer entry: the input as a manifest file, read as `serve`, `validate` and reloads read
/// one: libyaml's events composed into a tree (aliases, nesting bound), every kind's decoder,
/// the Kafka ConfigMaps, flows lowered to channels, and the reference checks. Problems are
/// fine; a crash or a hang is not.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = ManifestLoader.read(files: [(name: "fuzz.yaml", contents: text)])
    return 0
}
