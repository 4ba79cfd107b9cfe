/// RabbitmqSource (`sources.knative.dev/v1alpha1`).
extension ResourceDecoder {
    static func rabbitmqSource(_ document: YAMLNode) -> RabbitmqSourceManifest? {
        guard let (meta, context, spec) = withSpec(document, kind: "RabbitmqSource") else { return nil }
        let diagnostics = document.diagnostics
        guard let cluster = spec.mapping("rabbitmqClusterReference", context: context) else {
            diagnostics.error(spec.location, "\(context): missing rabbitmqClusterReference (with a connectionSecret)")
            return nil
        }
        guard let secretNode = cluster.mapping("connectionSecret", context: "\(context) rabbitmqClusterReference") else {
            let named = cluster.string("name", context: "\(context) rabbitmqClusterReference")
            diagnostics.error(cluster.location, named == nil
                ? "\(context): rabbitmqClusterReference needs a connectionSecret"
                : "\(context): rabbitmqClusterReference.name (a RabbitmqCluster of the operator) is not supported: name a connectionSecret")
            return nil
        }
        guard let secret = secretNode.string("name", required: true, context: "\(context) rabbitmqClusterReference.connectionSecret") else { return nil }
        let secretNamespace = cluster.string("namespace", context: "\(context) rabbitmqClusterReference").flatMap { $0.isEmpty ? nil : $0 } ?? meta.namespace
        guard let resources = spec.mapping("rabbitmqResourcesConfig", context: context) else {
            diagnostics.error(spec.location, "\(context): missing rabbitmqResourcesConfig (with at least queueName)")
            return nil
        }
        let resourcesContext = "\(context) rabbitmqResourcesConfig"
        let queue = resources.string("queueName", context: resourcesContext) ?? ""
        if queue.isEmpty { diagnostics.error(resources["queueName"]?.location ?? resources.location, "\(resourcesContext): queueName is required") }
        let predeclared = resources.bool("predeclared", context: resourcesContext) ?? false
        let exchange = resources.string("exchangeName", context: resourcesContext) ?? ""
        if !predeclared && exchange.isEmpty {
            diagnostics.error(resources.location, "\(resourcesContext): exchangeName is required when predeclared is false (the source declares it)")
        }
        let parallelism = resources.int("parallelism", context: resourcesContext) ?? 1
        if !(1...1000).contains(parallelism) {
            diagnostics.error(resources["parallelism"]?.location ?? resources.location,
                              "\(resourcesContext): parallelism must be between 1 and 1000, not \(parallelism)")
        }
        for (name, value) in [("queueName", queue), ("exchangeName", exchange)] where value.utf8.count > 255 {
            diagnostics.error(resources[name]?.location ?? resources.location, "\(resourcesContext): \(name) is longer than 255 bytes")
        }
        guard let sinkNode = spec.mapping("sink", context: context) else {
            diagnostics.error(spec.location, "\(context): missing sink")
            return nil
        }
        guard let sink = destination(sinkNode, context: "\(context) sink") else { return nil }
        let delivery = spec.mapping("delivery", context: context).map { deliverySpec($0, context: context) }
        return RabbitmqSourceManifest(meta: meta, connectionSecret: secret, secretNamespace: secretNamespace, secretLocation: secretNode.location,
                                      virtualHost: resources.string("vhost", context: resourcesContext), exchangeName: exchange,
                                      queueName: queue, parallelism: min(max(parallelism, 1), 1000), predeclared: predeclared,
                                      sink: sink, delivery: delivery)
    }
}
