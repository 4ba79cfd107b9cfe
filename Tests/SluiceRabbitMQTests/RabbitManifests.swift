import SluiceTestSupport

/// Manifests the RabbitMQ tests share (namespace `demo`, beside `TestManifests.brokerAndTrigger`):
/// a connection Secret in either form, a RabbitmqSource.
enum RabbitManifests {
    static func uriSecret(port: Int, name: String = "rabbit") -> String {
        """
        apiVersion: v1
        kind: Secret
        metadata: {name: \(name), namespace: demo}
        stringData:
          uri: "amqp://guest:guest@127.0.0.1:\(port)/%2f"
        """
    }

    /// Knative's form: the management URI (only its host counts), user, password and port.
    static func knativeSecret(port: Int, name: String = "rabbit") -> String {
        """
        apiVersion: v1
        kind: Secret
        metadata: {name: \(name), namespace: demo}
        stringData:
          uri: "http://127.0.0.1:15672"
          username: guest
          password: guest
          port: "\(port)"
        """
    }

    static let toBroker = "ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}"

    static func source(queue: String, exchange: String = "", parallelism: Int = 1, predeclared: Bool = false, sink: String = toBroker,
                       extra: String = "", secret: String = "rabbit") -> String {
        """
        apiVersion: sources.knative.dev/v1alpha1
        kind: RabbitmqSource
        metadata: {name: \(queue), namespace: demo}
        spec:
          rabbitmqClusterReference:
            connectionSecret: {name: \(secret)}
          rabbitmqResourcesConfig:
            exchangeName: "\(exchange)"
            queueName: \(queue)
            parallelism: \(parallelism)
            predeclared: \(predeclared)
          sink:
            \(sink)
        \(extra)
        """
    }
}

extension SluiceProcess {
    /// The `/readyz` answer: status and body.
    func readiness() -> (ready: Bool, body: String) {
        guard let response = try? EventSender(port: ingressPort).post("/readyz", method: "GET", headers: [], body: []) else { return (false, "") }
        return (response.status == 200, response.body)
    }

    /// The RabbitMQ lines of `/metrics`, to explain a failure.
    func rabbitMetrics() -> String {
        guard let response = try? EventSender(port: metricsPort).post("/metrics", method: "GET", headers: [], body: []) else { return "" }
        return response.body.split(separator: "\n").filter { $0.contains("rabbitmq") && !$0.hasPrefix("#") }.joined(separator: "\n")
    }
}
