import SluiceCloudEvents
import SluiceConfig
import SluiceDelivery
import SluiceHTTP

/// Turns a manifest `Destination` into where deliveries go. A Broker, Channel, Sequence or
/// Parallel ref is this process (no HTTP hop; a Sequence is its first channel, a Parallel its
/// ingress channel), and so is a ref to a kind a component serves (a KafkaSink); any other ref
/// is the cluster service `http://<name>.<namespace>.svc.<domain>`; a relative `uri` beside a
/// ref is joined to it.
public enum DestinationResolver {
    public static func resolve(_ destination: Destination, namespace: String, controller: DataPlaneController) -> DeliveryTarget? {
        if let ref = destination.ref, isBroker(ref) {
            return .local(HubSink(kind: .broker, namespace: ref.namespace ?? namespace, name: ref.name, controller: controller))
        }
        if let ref = destination.ref, let channel = channelName(ref) {
            return .local(HubSink(kind: .channel, namespace: ref.namespace ?? namespace, name: channel, controller: controller))
        }
        if let ref = destination.ref, let sink = controller.componentSink(for: ref, namespace: namespace) {
            return .local(sink)
        }
        return url(destination, namespace: namespace, clusterDomain: controller.options.clusterDomain).map { .http($0) }
    }

    public static func problem(_ destination: Destination, namespace: String, manifests: ManifestSet, options: DataPlaneOptions) -> ConfigProblem? {
        // Like a broker, a channel that is missing now may come with a reload: deliveries to it
        // are retried meanwhile.
        if let ref = destination.ref, isBroker(ref) || channelName(ref) != nil { return nil }
        if let ref = destination.ref, ref.kind == "KafkaSink" {
            let sinkNamespace = ref.namespace ?? namespace
            if manifests.kafkaSink(namespace: sinkNamespace, name: ref.name) == nil {
                return ConfigProblem(location: destination.location, message: "KafkaSink \(sinkNamespace)/\(ref.name) does not exist")
            }
            return nil
        }
        if url(destination, namespace: namespace, clusterDomain: options.clusterDomain) == nil {
            return ConfigProblem(location: destination.location, message: "destination \(describe(destination)) is not a valid http URL")
        }
        return nil
    }

    /// The destination's URL; with `CACerts`, one whose TLS connections also trust those.
    static func url(_ destination: Destination, namespace: String, clusterDomain: String) -> HTTPURL? {
        let url: HTTPURL?
        if let ref = destination.ref {
            let base = "http://\(ref.name).\(ref.namespace ?? namespace).svc.\(clusterDomain)"
            let relative = destination.uri ?? ""
            url = HTTPURL(relative.isEmpty ? base + "/" : relative.hasPrefix("/") ? base + relative : base + "/" + relative)
        } else {
            url = destination.uri.flatMap { HTTPURL($0) }
        }
        var resolved = url
        if let caCerts = destination.caCerts { resolved = resolved?.trusting(TrustedAuthorities.shared.register(caCerts)) }
        if let audience = destination.audience { resolved = resolved?.requesting(audience: audience) }
        return resolved
    }

    /// The channel of this process a ref names: a Channel's own, a flow's entry channel.
    static func channelName(_ ref: KReference) -> String? {
        let group = ref.apiVersion.map { $0.split(separator: "/").first.map(String.init) ?? "" }
        func inGroup(_ expected: String) -> Bool { group == nil || group == expected }
        switch ref.kind {
        case "Channel", "InMemoryChannel", "KafkaChannel":
            return inGroup("messaging.knative.dev") ? ref.name : nil
        case "Sequence":
            return inGroup("flows.knative.dev") ? FlowLowering.sequenceChannelName(ref.name, step: 0) : nil
        case "Parallel":
            return inGroup("flows.knative.dev") ? FlowLowering.parallelIngressName(ref.name) : nil
        default:
            return nil
        }
    }

    static func isBroker(_ ref: KReference) -> Bool {
        ref.kind == "Broker" && (ref.apiVersion == nil || ref.apiVersion?.hasPrefix("eventing.knative.dev/") == true)
    }

    private static func describe(_ destination: Destination) -> String {
        if let ref = destination.ref { return "\(ref.kind) \(ref.name)" + (destination.uri.map { " + \($0)" } ?? "") }
        return destination.uri ?? "(empty)"
    }
}
