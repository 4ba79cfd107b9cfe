import Foundation
import SluiceTestSupport
import Testing

/// `serve --watch`: the manifests are reloaded when their files change, as SIGHUP would, with
/// no signal sent.
@Suite("serve --watch", .serialized)
struct WatchTests {
    private static let broker = "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: %@, namespace: demo}\n"

    private func brokers(_ names: String...) -> String {
        names.map { String(format: Self.broker, $0) }.joined(separator: "---\n")
    }

    @Test("a file rewritten in place is reloaded; a bad edit is logged and the running manifests kept")
    func rewrittenFile() throws {
        let directory = try manifestDirectory(["a.yaml": brokers("first")])
        let sluice = try SluiceProcess.serve(config: directory, memory: true, extra: ["--watch"])
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        #expect(try sender.send("/demo/second").status == 404)
        try brokers("first", "second").write(toFile: directory + "/a.yaml", atomically: false, encoding: .utf8)
        #expect(eventually(seconds: 5) { (try? sender.send("/demo/second").status) == 202 }, "\(sluice.standardError)")
        #expect(sluice.standardError.contains("changed: configuration reloaded"))

        try "kind: [unclosed\n".write(toFile: directory + "/a.yaml", atomically: false, encoding: .utf8)
        #expect(eventually(seconds: 5) { sluice.standardError.contains("configuration not reloaded") }, "\(sluice.standardError)")
        #expect(sluice.standardError.contains("a.yaml:"), "the problem names its file and line")
        #expect(try sender.send("/demo/second").status == 202, "the running manifests stay")
    }

    @Test("a ConfigMap volume's ..data symlink swapped to a new directory is reloaded")
    func swappedSymlink() throws {
        // The layout the kubelet makes: a.yaml -> ..data/a.yaml, ..data -> ..<timestamp>/.
        let volume = temporaryDirectory("configmap")
        let manager = FileManager.default
        try manager.createDirectory(atPath: volume + "/..v1", withIntermediateDirectories: true)
        defer { try? manager.removeItem(atPath: volume) }
        try brokers("first").write(toFile: volume + "/..v1/a.yaml", atomically: true, encoding: .utf8)
        try manager.createSymbolicLink(atPath: volume + "/..data", withDestinationPath: "..v1")
        try manager.createSymbolicLink(atPath: volume + "/a.yaml", withDestinationPath: "..data/a.yaml")
        let sluice = try SluiceProcess.serve(config: volume, memory: true, extra: ["--watch"])
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        #expect(try sender.send("/demo/first").status == 202)

        try manager.createDirectory(atPath: volume + "/..v2", withIntermediateDirectories: true)
        try brokers("second").write(toFile: volume + "/..v2/a.yaml", atomically: true, encoding: .utf8)
        try manager.createSymbolicLink(atPath: volume + "/..data_tmp", withDestinationPath: "..v2")
        #expect(rename(volume + "/..data_tmp", volume + "/..data") == 0)
        #expect(eventually(seconds: 5) { (try? sender.send("/demo/second").status) == 202 }, "\(sluice.standardError)")
        #expect(try sender.send("/demo/first").status == 404, "the old manifests are gone")
    }
}
