/// YAML snippets for the end-to-end tests.
enum Manifest {
    static func broker(_ namespace: String, _ name: String, delivery: String? = nil) -> String {
        var text = """
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata:
              name: \(name)
              namespace: \(namespace)

            """
        if let delivery { text += "spec:\n  delivery:\n" + indent(delivery, 4) }
        return text + "---\n"
    }

    /// A trigger; `filter` and `filters` are YAML placed under `spec` as given.
    static func trigger(_ namespace: String, _ name: String, broker: String = "default", subscriber: String,
                        filter: [String: String]? = nil, filters: String? = nil, delivery: String? = nil) -> String {
        var text = """
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata:
              name: \(name)
              namespace: \(namespace)
            spec:
              broker: \(broker)
              subscriber:
                uri: \(subscriber)

            """
        if let filter {
            text += "  filter:\n    attributes:\n"
            for (key, value) in filter.sorted(by: { $0.key < $1.key }) { text += "      \(key): \"\(value)\"\n" }
        }
        if let filters { text += "  filters:\n" + indent(filters, 4) }
        if let delivery { text += "  delivery:\n" + indent(delivery, 4) }
        return text + "---\n"
    }

    static func channel(_ namespace: String, _ name: String, kind: String = "InMemoryChannel", delivery: String? = nil) -> String {
        var text = """
            apiVersion: messaging.knative.dev/v1
            kind: \(kind)
            metadata:
              name: \(name)
              namespace: \(namespace)

            """
        if let delivery { text += "spec:\n  delivery:\n" + indent(delivery, 4) }
        return text + "---\n"
    }

    /// A subscription; `subscriber` and `reply` are destinations written as YAML mappings
    /// (`uri: ...` or `ref: {...}`).
    static func subscription(_ namespace: String, _ name: String, channel: String, subscriber: String?,
                             reply: String? = nil, delivery: String? = nil) -> String {
        var text = """
            apiVersion: messaging.knative.dev/v1
            kind: Subscription
            metadata:
              name: \(name)
              namespace: \(namespace)
            spec:
              channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: \(channel)}

            """
        if let subscriber { text += "  subscriber: {\(subscriber)}\n" }
        if let reply { text += "  reply: {\(reply)}\n" }
        if let delivery { text += "  delivery:\n" + indent(delivery, 4) }
        return text + "---\n"
    }

    static func defaults(_ delivery: String) -> String {
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: config-br-defaults
          namespace: knative-eventing
        data:
          default-br-config: |
            clusterDefault:
              delivery:
        \(indent(delivery, 8))---

        """
    }

    static func indent(_ text: String, _ spaces: Int) -> String {
        let pad = String(repeating: " ", count: spaces)
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.isEmpty ? "" : pad + $0 }.joined(separator: "\n") + (text.hasSuffix("\n") ? "" : "\n")
    }
}
