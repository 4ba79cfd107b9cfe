import Foundation
import SluiceTestSupport
import Testing

/// `--oidc`: the ingress verifies each request's token offline against a JWKS file, answers
/// 401 or 403 with the reason, and stores nothing it refused. Keys and tokens are made by the
/// test (jwt-kit signs; openssl makes the RSA key).
@Suite("OIDC sender identity", .serialized)
struct OIDCIngressTests {
    static let issuer = TestIssuer.issuer
    static let audience = "eventing.knative.dev/broker/demo/default"

    @Test("valid tokens pass (again from the cache); bad ones get 401, other namespaces 403, and nothing refused is stored")
    func tokens() async throws {
        let directory = temporaryDirectory("oidc")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let issuer = try await TestIssuer(directory: directory)
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let config = try manifestDirectory(["all.yaml": TestManifests.brokerAndTrigger(subscriber: subscriber.url("/all"))])
        let sluice = try SluiceProcess.serve(config: config, memory: true, extra: issuer.serveArguments)
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        func send(_ id: String, _ authorization: String?) throws -> EventSender.Response {
            try sender.send("/demo/default", id: id, headers: authorization.map { [("Authorization", $0)] } ?? [])
        }

        let valid = try await issuer.token(audience: OIDCIngressTests.audience)
        #expect(try send("es256", "Bearer \(valid)").status == 202)
        #expect(try send("cached", "bearer \(valid)").status == 202)
        #expect(try send("rs256", "Bearer \(try await issuer.token(kid: "rsa", audience: OIDCIngressTests.audience))").status == 202)

        let refused: [(String, String?, Int, String)] = [
            ("missing", nil, 401, "missing Authorization"),
            ("not-bearer", "Basic dXNlcjpwYXNz", 401, "missing Authorization"),
            ("expired", "Bearer \(try await issuer.token(audience: OIDCIngressTests.audience, expires: -120))", 401, "expired"),
            ("audience", "Bearer \(try await issuer.token(audience: "eventing.knative.dev/broker/demo/other"))", 401, "audience"),
            ("issuer", "Bearer \(try await issuer.token(issuer: "https://elsewhere.example", audience: OIDCIngressTests.audience))", 401, "issuer"),
            ("signature", "Bearer \(tampered(valid))", 401, "invalid token"),
            ("none", "Bearer \(unsigned())", 401, "invalid token"),
            ("garbage", "Bearer not.a.jwt", 401, "invalid token"),
            ("namespace", "Bearer \(try await issuer.token(subject: "system:serviceaccount:other:sender", audience: OIDCIngressTests.audience))", 403, "may not post here"),
        ]
        for (id, authorization, status, reason) in refused {
            let response = try send(id, authorization)
            #expect(response.status == status, "\(id): \(response.status) \(response.body)")
            #expect(response.body.contains(reason), "\(id): \(response.body)")
            #expect((response.header("www-authenticate") == "Bearer") == (status == 401), "\(id)")
        }
        #expect(eventually(seconds: 5) { subscriber.requests(to: "/all").count == 3 })
        try await Task.sleep(for: .milliseconds(300))
        #expect(Set(subscriber.requests(to: "/all").compactMap(\.eventID)) == ["es256", "cached", "rs256"])
    }

    @Test("EventPolicies decide which senders may post which events: from patterns, filters, and no default once one applies")
    func eventPolicies() async throws {
        let directory = temporaryDirectory("oidc")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let issuer = try await TestIssuer(directory: directory)
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let config = try manifestDirectory(["all.yaml": TestManifests.brokerAndTrigger(subscriber: subscriber.url("/all")) + """
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: open, namespace: demo}
            ---
            apiVersion: eventing.knative.dev/v1alpha1
            kind: EventPolicy
            metadata: {name: partners, namespace: demo}
            spec:
              to:
                - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
              from:
                - sub: "system:serviceaccount:partners:*"
                - ref: {apiVersion: v1, kind: ServiceAccount, name: auditor, namespace: audit}
              filters:
                - cesql: "type = 'order.created' OR source LIKE '/audit/%'"
            """])
        let sluice = try SluiceProcess.serve(config: config, memory: true,
                                             extra: issuer.serveArguments)
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        func send(_ id: String, subject: String, type: String, broker: String = "default") async throws -> EventSender.Response {
            let token = try await issuer.token(subject: subject, audience: "eventing.knative.dev/broker/demo/\(broker)")
            return try sender.send("/demo/\(broker)", id: id, type: type, headers: [("Authorization", "Bearer \(token)")])
        }
        #expect(try await send("partner", subject: "system:serviceaccount:partners:shop", type: "order.created").status == 202)
        #expect(try await send("auditor", subject: "system:serviceaccount:audit:auditor", type: "order.created").status == 202)
        let filtered = try await send("filtered", subject: "system:serviceaccount:partners:shop", type: "order.deleted")
        #expect(filtered.status == 403 && filtered.body.contains("do not match the filters"), "\(filtered.body)")
        // A policy covers the broker: its own namespace's senders are no longer allowed by default.
        let local = try await send("local", subject: "system:serviceaccount:demo:sender", type: "order.created")
        #expect(local.status == 403 && local.body.contains("no EventPolicy allows"), "\(local.body)")
        // No policy covers "open": the default (same namespace only) applies there.
        #expect(try await send("open", subject: "system:serviceaccount:demo:sender", type: "x", broker: "open").status == 202)
        #expect(try await send("open-other", subject: "system:serviceaccount:partners:shop", type: "x", broker: "open").status == 403)
        #expect(eventually(seconds: 5) { subscriber.requests(to: "/all").count == 2 })
        #expect(Set(subscriber.requests(to: "/all").compactMap(\.eventID)) == ["partner", "auditor"])
    }

    @Test("a JWKS file that changes is read again: the new keys verify, the old ones no longer do")
    func jwksRotation() async throws {
        let directory = temporaryDirectory("oidc")
        for name in ["old", "new"] { try FileManager.default.createDirectory(atPath: directory + "/" + name, withIntermediateDirectories: true) }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let old = try await TestIssuer(directory: directory + "/old")
        let new = try await TestIssuer(directory: directory + "/new")
        let config = try manifestDirectory(["b.yaml": "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: default, namespace: demo}\n"])
        let sluice = try SluiceProcess.serve(config: config, memory: true, extra: old.serveArguments)
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        let oldToken = try await old.token(audience: OIDCIngressTests.audience)
        let newToken = try await new.token(audience: OIDCIngressTests.audience)
        #expect(try sender.send("/demo/default", headers: [("Authorization", "Bearer \(oldToken)")]).status == 202)
        #expect(try sender.send("/demo/default", headers: [("Authorization", "Bearer \(newToken)")]).status == 401)
        // The issuer rotates its keys: the file is replaced in place, with no signal.
        try FileManager.default.removeItem(atPath: old.jwks)
        try FileManager.default.copyItem(atPath: new.jwks, toPath: old.jwks)
        #expect(eventually(seconds: 10) { (try? sender.send("/demo/default", headers: [("Authorization", "Bearer \(newToken)")]).status) == 202 },
                "\(sluice.standardError)")
        #expect(try sender.send("/demo/default", headers: [("Authorization", "Bearer \(oldToken)")]).status == 401, "the cached old token is forgotten")
        #expect(sluice.standardError.contains("OIDC keys loaded"))
    }

    @Test("validate reports an EventPolicy whose filter does not compile, and a file that is no JWKS")
    func validateEventPolicies() throws {
        let config = try manifestDirectory(["p.yaml": """
            apiVersion: eventing.knative.dev/v1alpha1
            kind: EventPolicy
            metadata: {name: p, namespace: demo}
            spec:
              from:
                - sub: "system:serviceaccount:demo:*"
              filters:
                - cesql: "type = "
            """])
        let validate = try SluiceProcess(["validate", "--config", config, "--oidc-jwks", config + "/p.yaml"])
        #expect(validate.waitForExit() == 1)
        #expect(validate.standardError.contains("p.yaml:8: EventPolicy demo/p: cesql:"), "\(validate.standardError)")
        #expect(validate.standardError.contains("--oidc-jwks: \(config)/p.yaml: not a JWKS"), "\(validate.standardError)")
    }

    @Test("a destination with an audience gets the token file's token, read again when it changes")
    func tokensOnDelivery() async throws {
        let directory = temporaryDirectory("oidc")
        try FileManager.default.createDirectory(atPath: directory + "/tokens/eventing.knative.dev/broker/demo", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let issuer = try await TestIssuer(directory: directory)
        let tokenFile = directory + "/tokens/" + OIDCIngressTests.audience
        try (try await issuer.token(audience: OIDCIngressTests.audience)).write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let receiverConfig = try manifestDirectory(["b.yaml": TestManifests.brokerAndTrigger(subscriber: subscriber.url("/b"))])
        let receiving = try SluiceProcess.serve(config: receiverConfig, memory: true, extra: issuer.serveArguments)
        defer { receiving.stop() }
        let senderConfig = try manifestDirectory(["a.yaml": TestManifests.brokerAndTrigger(
            subscriber: "http://127.0.0.1:\(receiving.ingressPort)/demo/default", subscriberFields: [("audience", OIDCIngressTests.audience)],
            delivery: "  delivery:\n    retry: 0\n    deadLetterSink: {uri: \"\(subscriber.url("/dls"))\"}\n")])
        let sending = try SluiceProcess.serve(config: senderConfig, memory: true, extra: ["--oidc-token-dir", directory + "/tokens"])
        defer { sending.stop() }
        let sender = EventSender(port: sending.ingressPort)
        #expect(try sender.send("/demo/default", id: "with-token").status == 202)
        #expect(eventually(seconds: 10) { subscriber.requests(to: "/b").count == 1 }, "\(sending.standardError)\n\(receiving.standardError)")

        // The kubelet rotates the file: the next delivery carries the new token (a sender of
        // another namespace here, which the receiver refuses with 403).
        try (try await issuer.token(subject: "system:serviceaccount:other:sender", audience: OIDCIngressTests.audience)).write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(1100))
        #expect(try sender.send("/demo/default", id: "rotated").status == 202)
        #expect(eventually(seconds: 10) { subscriber.requests(to: "/dls").count == 1 }, "\(sending.standardError)")
        #expect(subscriber.requests(to: "/dls").first?.header("ce-knativeerrorcode") == "403")
        #expect(subscriber.requests(to: "/b").compactMap(\.eventID) == ["with-token"])
    }

    /// `token` with one character of its signature changed: the tenth from the end, whose six
    /// bits all count (the last character's low bits are padding, which decoders ignore).
    private func tampered(_ token: String) -> String {
        var characters = Array(token)
        let index = characters.count - 10
        characters[index] = characters[index] == "A" ? "B" : "A"
        return String(characters)
    }

    /// A token with `alg: none` and no signature, otherwise valid.
    private func unsigned() -> String {
        let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URL
        let expires = Int(Date().addingTimeInterval(300).timeIntervalSince1970)
        let payload = Data(#"{"iss":"\#(OIDCIngressTests.issuer)","sub":"system:serviceaccount:demo:sender","aud":["\#(OIDCIngressTests.audience)"],"exp":\#(expires)}"#.utf8).base64URL
        return "\(header).\(payload)."
    }
}
