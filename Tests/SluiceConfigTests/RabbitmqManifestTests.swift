import SluiceConfig
import Testing

@Suite("RabbitmqSource manifests")
struct RabbitmqManifestTests {
    private func load(_ yaml: String) throws -> ManifestSet {
        try ManifestLoader.load(files: [(name: "r.yaml", contents: yaml)])
    }

    private func problems(_ yaml: String) -> [String] {
        do { _ = try ManifestLoader.load(files: [(name: "r.yaml", contents: yaml)]) } catch { return error.problems.map(\.description) }
        return []
    }

    private func source(resources: String = "queueName: orders\n    exchangeName: orders-x", secret: String = "rabbit") -> String {
        """
        apiVersion: sources.knative.dev/v1alpha1
        kind: RabbitmqSource
        metadata: {name: orders, namespace: shop}
        spec:
          rabbitmqClusterReference:
            connectionSecret: {name: \(secret)}
          rabbitmqResourcesConfig:
            \(resources)
          sink: {uri: "http://example.com/x"}
        """
    }

    private func secret(_ data: String) -> String {
        "apiVersion: v1\nkind: Secret\nmetadata: {name: rabbit, namespace: shop}\nstringData:\n" + data
    }

    @Test("a RabbitmqSource reads its fields, with Knative's defaults, and connects where its Secret's URI says")
    func fields() throws {
        let set = try load(source(resources: "queueName: orders\n    exchangeName: orders-x\n    vhost: prod\n    parallelism: 20")
            + "\n---\n" + secret("  uri: amqp://app:s%40cret@rabbit.example:5673/staging"))
        let source = try #require(set.rabbitmqSources.first)
        #expect(source.queueName == "orders" && source.exchangeName == "orders-x")
        #expect(source.parallelism == 20 && !source.predeclared)
        #expect(source.connection(in: set) == RabbitmqConnection(host: "rabbit.example", port: 5673, user: "app", password: "s@cret", virtualHost: "prod"))
        let plain = try load(self.source() + "\n---\n" + secret("  uri: amqp://rabbit"))
        #expect(plain.rabbitmqSources.first?.parallelism == 1)
        #expect(plain.rabbitmqSources.first?.connection(in: plain) == RabbitmqConnection(host: "rabbit", port: 5672, user: "guest", password: "guest", virtualHost: "/"))
    }

    @Test("URIs in the RabbitMQ scheme: escapes, IPv6, the default vhost")
    func uris() {
        func parse(_ uri: String) -> RabbitmqConnection? {
            try? RabbitmqConnection.parse(["uri": Array(uri.utf8)]).get()
        }
        #expect(parse("amqp://u:p@[::1]:5000/%2f") == RabbitmqConnection(host: "::1", port: 5000, user: "u", password: "p", virtualHost: "/"))
        #expect(parse("amqp://u@h/") == RabbitmqConnection(host: "h", port: 5672, user: "u", password: "guest", virtualHost: "/"))
        #expect(parse("AMQP://h/v%2Fx") == RabbitmqConnection(host: "h", port: 5672, user: "guest", password: "guest", virtualHost: "v/x"))
        for bad in ["http://h", "amqp://", "amqp://h:99999", "amqp://h:x", "amqp://u:%zz@h", "amqps://h"] {
            #expect(parse(bad) == nil, "\(bad)")
        }
    }

    @Test("Knative's Secret form: only the host of uri counts, then username, password and port")
    func knativeForm() throws {
        func parse(_ data: [String: String]) -> Result<RabbitmqConnection, SecretProblem> {
            RabbitmqConnection.parse(data.mapValues { Array($0.utf8) })
        }
        #expect(try parse(["uri": "http://rabbitmq.ns.svc:15672", "username": "a", "password": "b"]).get()
            == RabbitmqConnection(host: "rabbitmq.ns.svc", port: 5672, user: "a", password: "b", virtualHost: "/"))
        #expect(try parse(["uri": "rabbit", "username": "a", "password": "b", "port": "5999"]).get().port == 5999)
        #expect(throws: SecretProblem.self) { try parse(["uri": "http://h", "username": "a"]).get() }
        #expect(throws: SecretProblem.self) { try parse(["uri": "http://h", "username": "a", "password": "b", "port": "0"]).get() }
        #expect(throws: SecretProblem.self) { try parse(["uri": "https://h", "username": "a", "password": "b"]).get() }
    }

    @Test("what validate reports, with the file and line")
    func problems() {
        let withSecret = "\n---\n" + secret("  uri: amqp://h")
        #expect(problems(source(secret: "missing")).contains { $0.contains("r.yaml:6") && $0.contains("Secret \"missing\" does not exist in namespace shop") })
        #expect(problems(source() + "\n---\n" + secret("  password: x")).contains { $0.contains("has no key \"uri\"") })
        #expect(problems(source() + "\n---\n" + secret("  uri: rabbit:5672")).contains { $0.contains("uri must be amqp://") })
        #expect(problems(source(resources: "queueName: q\n    exchangeName: x\n    parallelism: 1001") + withSecret)
            .contains { $0.contains("parallelism must be between 1 and 1000, not 1001") })
        #expect(problems(source(resources: "exchangeName: x") + withSecret).contains { $0.contains("queueName is required") })
        #expect(problems(source(resources: "queueName: q") + withSecret).contains { $0.contains("exchangeName is required when predeclared is false") })
        #expect(problems(source(resources: "queueName: q\n    predeclared: true") + withSecret).isEmpty)
        let clusterByName = source().replacingOccurrences(of: "connectionSecret: {name: rabbit}", with: "name: my-cluster")
        #expect(problems(clusterByName + withSecret).contains { $0.contains("rabbitmqClusterReference.name") && $0.contains("not supported") })
    }
}
