import Foundation
import SluiceTestSupport
import Testing

/// Deliveries to `https://` destinations: a second Sluice's TLS ingress is the subscriber, its
/// certificate from a throwaway authority that `--trust-bundle-dir` trusts (or not).
@Suite("TLS delivery", .serialized)
struct TLSDeliveryTests {
    /// The receiving Sluice: its TLS ingress forwards every event to `subscriber` at `/b`.
    private func receiver(_ certificates: TestCertificates, subscriber: Subscriber) throws -> SluiceProcess {
        let pair = try certificates.issue()
        let config = try manifestDirectory(["b.yaml": TestManifests.brokerAndTrigger(subscriber: subscriber.url("/b"))])
        return try SluiceProcess.serve(config: config, memory: true, extra: ["--tls-port", "0", "--tls-cert", pair.certificate, "--tls-key", pair.key])
    }

    /// A directory holding only the authority's certificate.
    private func trustBundle(_ certificates: TestCertificates) throws -> String {
        let directory = certificates.directory + "/bundle"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: certificates.authority, toPath: directory + "/ca.crt")
        return directory
    }

    @Test("a trigger delivers to an https subscriber whose authority --trust-bundle-dir trusts, verifying its IP address")
    func trustedDelivery() throws {
        let certificates = try TestCertificates()
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let receiving = try receiver(certificates, subscriber: subscriber)
        defer { receiving.stop() }
        let config = try manifestDirectory(["a.yaml": TestManifests.brokerAndTrigger(subscriber: "https://127.0.0.1:\(receiving.tlsPort)/demo/default")])
        let sending = try SluiceProcess.serve(config: config, memory: true, extra: ["--trust-bundle-dir", try trustBundle(certificates)])
        defer { sending.stop() }
        let sender = EventSender(port: sending.ingressPort)
        for index in 0..<20 {
            #expect(try sender.send("/demo/default", id: "tls-\(index)").status == 202)
        }
        #expect(eventually(seconds: 10) { subscriber.requests(to: "/b").count == 20 }, "\(sending.standardError)")
        #expect(Set(subscriber.requests(to: "/b").compactMap(\.eventID)) == Set((0..<20).map { "tls-\($0)" }))
    }

    @Test("an untrusted certificate fails the delivery at once (no retry finds another), and the dead letter names the TLS error")
    func untrustedCertificate() throws {
        let certificates = try TestCertificates()
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let receiving = try receiver(certificates, subscriber: subscriber)
        defer { receiving.stop() }
        let delivery = """
              delivery:
                retry: 3
                backoffDelay: PT2S
                deadLetterSink: {uri: "\(subscriber.url("/dls"))"}
            """
        let config = try manifestDirectory(["a.yaml": TestManifests.brokerAndTrigger(subscriber: "https://127.0.0.1:\(receiving.tlsPort)/demo/default", delivery: delivery)])
        let sending = try SluiceProcess.serve(config: config, memory: true)
        defer { sending.stop() }
        let sent = Date()
        #expect(try EventSender(port: sending.ingressPort).send("/demo/default", id: "untrusted").status == 202)
        #expect(eventually(seconds: 10) { subscriber.requests(to: "/dls").count == 1 }, "\(sending.standardError)")
        // Three retries would take 2 + 4 + 8 s: a certificate that does not verify is not retried.
        #expect(Date().timeIntervalSince(sent) < 1.5)
        let letter = subscriber.requests(to: "/dls").first
        let reason = letter?.header("ce-knativeerrordata").flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        #expect(reason.contains("TLS handshake") && reason.contains("certificate"), "\(reason)")
        #expect(subscriber.requests(to: "/b").isEmpty)
    }

    @Test("a destination's CACerts are trusted for its deliveries")
    func destinationAuthorities() throws {
        let certificates = try TestCertificates()
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let receiving = try receiver(certificates, subscriber: subscriber)
        defer { receiving.stop() }
        let authority = try String(contentsOfFile: certificates.authority, encoding: .utf8)
        let config = try manifestDirectory(["a.yaml": TestManifests.brokerAndTrigger(subscriber: "https://127.0.0.1:\(receiving.tlsPort)/demo/default",
                                                                                subscriberFields: [("CACerts", authority)])])
        let sending = try SluiceProcess.serve(config: config, memory: true)
        defer { sending.stop() }
        #expect(try EventSender(port: sending.ingressPort).send("/demo/default", id: "own-ca").status == 202)
        #expect(eventually(seconds: 10) { subscriber.requests(to: "/b").count == 1 }, "\(sending.standardError)")
    }
}
