import Foundation
import SluiceTestSupport
import Testing

/// Kafka over TLS: the mock cluster behind a TLS front whose certificate only the test's
/// authority signs, so a client reaches it only by trusting `--trust-bundle-dir`.
@Suite("Kafka over TLS", .serialized)
struct KafkaTLSTests {
    /// The cluster, its TLS front, and a trust bundle directory holding the authority.
    private static func securedCluster(topics: [(String, Int)]) throws -> (KafkaCluster, KafkaTLSFront, TestCertificates, String) {
        let certificates = try TestCertificates()
        let server = try certificates.issue()
        let cluster = try KafkaCluster(topics: topics)
        let front = try KafkaTLSFront(cluster, certificate: server.certificate, key: server.key)
        let bundle = certificates.directory + "/bundle"
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: certificates.authority, toPath: bundle + "/test-ca.pem")
        return (cluster, front, certificates, bundle)
    }

    private static func manifests(front: KafkaTLSFront, subscriber: Subscriber) -> String {
        """
        apiVersion: v1
        kind: Secret
        metadata: {name: kafka-tls, namespace: demo}
        stringData: {protocol: SSL}
        ---
        \(KafkaManifests.sink(bootstrap: front.bootstrap, topic: "out"))
          auth: {secret: {ref: {name: kafka-tls}}}
        ---
        \(KafkaManifests.source(bootstrap: front.bootstrap, topic: "in", sink: "uri: \(subscriber.url("/in"))", extra: "  net: {tls: {enable: true}}"))
        """
    }

    @Test("a KafkaSink and a KafkaSource reach a TLS cluster whose authority is in --trust-bundle-dir")
    func trustBundle() throws {
        let (cluster, front, certificates, bundle) = try Self.securedCluster(topics: [("out", 1), ("in", 1)])
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let config = try manifestDirectory(["kafka.yaml": Self.manifests(front: front, subscriber: subscriber)])
        let sluice = try SluiceProcess.serve(config: config, memory: true, extra: ["--trust-bundle-dir", bundle])
        defer { sluice.stop() }
        let answer = try EventSender(port: sluice.ingressPort).send("/sinks/demo/out", id: "over-tls")
        #expect(answer.status == 202, "\(answer.body) \(sluice.standardError)")
        let records = try cluster.consume(topic: "out")
        #expect(records.count == 1 && records.first?["payload"] != nil, "\(records)")

        try cluster.produce([.init(value: "from a TLS topic")], topic: "in")
        #expect(eventually(seconds: 20) { subscriber.requests.count == 1 }, "\(sluice.standardError)")
        #expect(subscriber.requests.first?.bodyText == "from a TLS topic")
        _ = certificates
    }

    @Test("without the bundle the certificate is refused: the sink answers 503 and the log says why")
    func untrusted() throws {
        let (_, front, certificates, _) = try Self.securedCluster(topics: [("out", 1), ("in", 1)])
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let config = try manifestDirectory(["kafka.yaml": Self.manifests(front: front, subscriber: subscriber)])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        #expect(eventually(seconds: 15) { (try? sender.send("/sinks/demo/out").status) == 503 })
        #expect(eventually(seconds: 10) { sluice.standardError.contains("certificate verify failed") }, "\(sluice.standardError)")
        _ = certificates
    }
}
