import Foundation
import SluiceTestSupport
import Testing

/// The TLS ingress (`--tls-port`) on OpenSSL, tried with curl and openssl's client against a
/// throwaway certificate authority.
@Suite("TLS ingress", .serialized)
struct TLSIngressTests {
    private let manifests = """
        apiVersion: eventing.knative.dev/v1
        kind: Broker
        metadata: {name: default, namespace: demo}
        """

    /// POSTs one binary-mode event with curl over HTTPS, trusting the test authority:
    /// "<status> <http version>", "000 0" when no answer came.
    private func curlEvent(_ port: Int, path: String = "/demo/default", authority: String, extra: [String] = []) throws -> String {
        let result = try runProgram("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "--max-time", "5",
                                                      "--cacert", authority, "-H", "ce-specversion: 1.0", "-H", "ce-id: tls-1",
                                                      "-H", "ce-type: t", "-H", "ce-source: /tests", "-H", "content-type: application/json",
                                                      "-d", "{}"] + extra + ["https://127.0.0.1:\(port)\(path)"])
        return result.output
    }

    private func serve(_ certificates: TestCertificates, pair: (certificate: String, key: String), extra: [String] = []) throws -> SluiceProcess {
        let config = try manifestDirectory(["broker.yaml": manifests])
        return try SluiceProcess.serve(config: config, memory: true,
                                       extra: ["--tls-port", "0", "--tls-cert", pair.certificate, "--tls-key", pair.key] + extra)
    }

    @Test("HTTPS ingress takes events with ALPN http/1.1 and TLS 1.3; TLS 1.2 only when allowed")
    func httpsIngress() throws {
        let certificates = try TestCertificates()
        let pair = try certificates.issue()
        let sluice = try serve(certificates, pair: pair)
        defer { sluice.stop() }
        #expect(sluice.tlsPort > 0, "\(sluice.standardError)")
        #expect(try curlEvent(sluice.tlsPort, authority: certificates.authority) == "202 1.1")
        #expect(try curlEvent(sluice.tlsPort, authority: certificates.authority, extra: ["--tls-max", "1.2"]).hasPrefix("000"),
                "TLS 1.3 is the minimum by default")
        // Permissive (the default with a TLS port): the plain port takes events too.
        #expect(try EventSender(port: sluice.ingressPort).send("/demo/default").status == 202)

        let older = try serve(certificates, pair: pair, extra: ["--tls-min-version", "1.2"])
        defer { older.stop() }
        #expect(try curlEvent(older.tlsPort, authority: certificates.authority, extra: ["--tls-max", "1.2"]) == "202 1.1")
    }

    @Test("transport-encryption strict answers 404 on the plain port but for its probes; disabled answers 404 on the TLS port")
    func modes() throws {
        let certificates = try TestCertificates()
        let pair = try certificates.issue()
        let strict = try serve(certificates, pair: pair, extra: ["--transport-encryption", "strict"])
        defer { strict.stop() }
        #expect(try EventSender(port: strict.ingressPort).send("/demo/default").status == 404)
        #expect(try get(port: strict.ingressPort, path: "/readyz").0 == 200)
        #expect(try curlEvent(strict.tlsPort, authority: certificates.authority) == "202 1.1")

        let disabled = try serve(certificates, pair: pair, extra: ["--transport-encryption", "disabled"])
        defer { disabled.stop() }
        #expect(try curlEvent(disabled.tlsPort, authority: certificates.authority) == "404 1.1")
        #expect(try EventSender(port: disabled.ingressPort).send("/demo/default").status == 202)
    }

    @Test("plain HTTP, garbage and a silent client on the TLS port close that connection only")
    func badInputAndSlowHandshakes() throws {
        let certificates = try TestCertificates()
        let sluice = try serve(certificates, pair: try certificates.issue(), extra: ["--tls-handshake-timeout", "1"])
        defer { sluice.stop() }
        for bytes in ["POST /demo/default HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "\u{16}\u{3}\u{1}garbage that is no ClientHello"] {
            let reply = try RawConnection(port: sluice.tlsPort)
            reply.send(Array(bytes.utf8))
            #expect(reply.waitForClose(seconds: 5) != nil, "the connection is closed")
        }
        // Says nothing: closed after the handshake timeout (1 s here), not the idle timeout.
        let silent = try RawConnection(port: sluice.tlsPort)
        let closedAfter = silent.waitForClose(seconds: 10)
        #expect(closedAfter.map { $0 >= 0.8 && $0 < 5 } == true, "closed after \(String(describing: closedAfter)) s")
        #expect(try curlEvent(sluice.tlsPort, authority: certificates.authority) == "202 1.1", "the listener goes on")
    }

    @Test("a rotated certificate is served to new connections, with no failed request meanwhile")
    func rotation() throws {
        let certificates = try TestCertificates()
        let pair = try certificates.issue()
        let sluice = try serve(certificates, pair: pair)
        defer { sluice.stop() }
        #expect(try servedSubject(sluice.tlsPort, certificates).contains("CN = localhost"))
        var statuses: [String] = []
        let rotated = try certificates.issue("rotated", commonName: "rotated.localhost")
        let deadline = Date().addingTimeInterval(15)
        var replaced = false
        while Date() < deadline {
            statuses.append(try curlEvent(sluice.tlsPort, authority: certificates.authority))
            if !replaced && statuses.count == 5 {
                // The files change in place, as a Secret volume's do; no signal.
                try FileManager.default.removeItem(atPath: pair.certificate)
                try FileManager.default.copyItem(atPath: rotated.certificate, toPath: pair.certificate)
                try FileManager.default.removeItem(atPath: pair.key)
                try FileManager.default.copyItem(atPath: rotated.key, toPath: pair.key)
                replaced = true
            }
            if replaced, (try? servedSubject(sluice.tlsPort, certificates))?.contains("rotated.localhost") == true { break }
        }
        #expect(try servedSubject(sluice.tlsPort, certificates).contains("CN = rotated.localhost"), "\(sluice.standardError)")
        #expect(statuses.allSatisfy { $0 == "202 1.1" }, "\(statuses)")
        #expect(sluice.standardError.contains("TLS certificate loaded"))
    }

    @Test("a certificate rotated under load (wrk, a new TLS connection per request) fails no request")
    func rotationUnderLoad() throws {
        let certificates = try TestCertificates()
        let pair = try certificates.issue()
        let rotated = try certificates.issue("rotated", commonName: "rotated.localhost")
        let sluice = try serve(certificates, pair: pair)
        defer { sluice.stop() }
        let script = certificates.directory + "/post.lua"
        try """
            wrk.method = "POST"
            wrk.body = "{}"
            wrk.headers["Content-Type"] = "application/json"
            wrk.headers["Ce-Specversion"] = "1.0"
            wrk.headers["Ce-Type"] = "t"
            wrk.headers["Ce-Source"] = "/load"
            wrk.headers["Ce-Id"] = "1"
            """.write(toFile: script, atomically: true, encoding: .utf8)
        // New connections every request (Connection: close), so the load keeps handshaking
        // while the files change under it.
        let load = Process()
        load.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
        load.arguments = ["-t1", "-c8", "-d5s", "--timeout", "10s", "-s", script, "-H", "Connection: close", "https://127.0.0.1:\(sluice.tlsPort)/demo/default"]
        let output = Pipe()
        load.standardOutput = output
        try load.run()
        Thread.sleep(forTimeInterval: 1.5)
        try FileManager.default.removeItem(atPath: pair.certificate)
        try FileManager.default.copyItem(atPath: rotated.certificate, toPath: pair.certificate)
        try FileManager.default.removeItem(atPath: pair.key)
        try FileManager.default.copyItem(atPath: rotated.key, toPath: pair.key)
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        load.waitUntilExit()
        #expect(report.contains("requests in"), "\(report)")
        #expect(!report.contains("Socket errors") && !report.contains("Non-2xx"), "\(report)")
        #expect(try servedSubject(sluice.tlsPort, certificates).contains("CN = rotated.localhost"), "\(sluice.standardError)")
    }

    @Test("a missing file or a key that does not match its certificate stops serve with a clear message")
    func badCertificates() throws {
        let certificates = try TestCertificates()
        let pair = try certificates.issue()
        let other = try certificates.issue("other")
        let config = try manifestDirectory(["broker.yaml": manifests])
        for (certificate, key, expected) in [(pair.certificate, other.key, "does not match the certificate"),
                                             (certificates.directory + "/missing.crt", pair.key, "missing.crt: No such file"),
                                             (pair.key, pair.key, "not a PEM certificate chain")] {
            let sluice = try SluiceProcess(["serve", "--config", config, "--storage", "memory", "--port", "0", "--metrics-port", "0",
                                            "--tls-port", "0", "--tls-cert", certificate, "--tls-key", key])
            #expect(sluice.waitForExit() == 1)
            #expect(sluice.standardError.contains(expected), "\(sluice.standardError)")
        }
    }

    @Test("a TLS 1.3 session resumes with the ticket the server sent")
    func resumption() throws {
        let certificates = try TestCertificates()
        let sluice = try serve(certificates, pair: try certificates.issue())
        defer { sluice.stop() }
        let ticket = certificates.directory + "/session"
        // The client stays a moment (standard input open) so that it reads the ticket.
        let first = try runProgram("/bin/sh", ["-c", "sleep 0.5 | openssl s_client -connect 127.0.0.1:\(sluice.tlsPort) -CAfile \(certificates.authority) -sess_out \(ticket)"])
        #expect(first.output.contains("New, TLSv1.3"), "\(first.output)")
        let second = try runProgram("/bin/sh", ["-c", "sleep 0.5 | openssl s_client -connect 127.0.0.1:\(sluice.tlsPort) -CAfile \(certificates.authority) -sess_in \(ticket)"])
        #expect(second.output.contains("Reused, TLSv1.3"), "\(second.output)")
    }

    @Test("validate loads the TLS files as serve would, and reports a bad pair")
    func validateChecksTLSFiles() throws {
        let certificates = try TestCertificates()
        let pair = try certificates.issue()
        let other = try certificates.issue("other")
        let config = try manifestDirectory(["broker.yaml": manifests])
        let good = try SluiceProcess(["validate", "--config", config, "--tls-cert", pair.certificate, "--tls-key", pair.key,
                                      "--trust-bundle-dir", certificates.directory])
        #expect(good.waitForExit() == 0, "\(good.standardError)")
        let bad = try SluiceProcess(["validate", "--config", config, "--tls-cert", pair.certificate, "--tls-key", other.key])
        #expect(bad.waitForExit() == 1)
        #expect(bad.standardError.contains("--tls-cert/--tls-key: \(other.key) does not match the certificate"), "\(bad.standardError)")
    }

    /// The subject of the certificate the TLS port serves now, per openssl's client.
    private func servedSubject(_ port: Int, _ certificates: TestCertificates) throws -> String {
        let result = try runProgram("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", certificates.authority],
                                    input: "")
        return result.output.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? result.error
    }
}

/// A TCP connection that sends raw bytes and watches for the server closing it.
private final class RawConnection {
    let fd: Int32
    let opened = Date()

    init(port: Int) throws {
        fd = try connectToLoopback(port: port)
    }

    deinit {
        close(fd)
    }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Seconds from opening until the server closed the connection (reads drained), or nil
    /// when it stayed open for `seconds`.
    func waitForClose(seconds: Int) -> Double? {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 || (count < 0 && errno == ECONNRESET) { return Date().timeIntervalSince(opened) }
            if count < 0 { return nil }
        }
    }
}
