/// `eventing.knative.dev/v1alpha1` EventPolicy.
extension ResourceDecoder {
    static func eventPolicy(_ document: YAMLNode) -> EventPolicyManifest? {
        guard let (meta, context, spec) = withSpec(document, kind: "EventPolicy") else { return nil }
        let diagnostics = document.diagnostics
        var targets: [EventPolicyManifest.Target] = []
        for item in spec.sequence("to", context: context) ?? [] {
            if let ref = item.mapping("ref", context: "\(context) to") {
                guard let kind = ref.string("kind", required: true, context: "\(context) to ref"),
                      let name = ref.string("name", required: true, context: "\(context) to ref") else { continue }
                targets.append(.ref(group: group(ref.string("apiVersion", context: context)), kind: kind, name: name))
            } else if let selector = item.mapping("selector", context: "\(context) to") {
                guard let kind = selector.string("kind", required: true, context: "\(context) to selector") else { continue }
                var labels: [String: String] = [:]
                for entry in selector.stringMap("matchLabels", context: "\(context) to selector") ?? [] { labels[entry.key] = entry.value }
                targets.append(.selector(group: group(selector.string("apiVersion", context: context)), kind: kind, matchLabels: labels))
            } else {
                diagnostics.error(item.location, "\(context): each of to needs a ref or a selector")
            }
        }
        var subjects: [String] = []
        for item in spec.sequence("from", context: context) ?? [] {
            if let sub = item.string("sub", context: "\(context) from") {
                if sub.isEmpty || sub.dropLast().contains("*") {
                    diagnostics.error(item["sub"]?.location ?? item.location, "\(context): from sub \"\(sub)\" may hold * only at its end")
                }
                subjects.append(sub)
            } else if let ref = item.mapping("ref", context: "\(context) from") {
                // A ServiceAccount is its own subject; any other sender (a Source, a Trigger,
                // a Subscription) has the ServiceAccount Knative makes for it.
                guard let kind = ref.string("kind", required: true, context: "\(context) from ref"),
                      let name = ref.string("name", required: true, context: "\(context) from ref") else { continue }
                let namespace = ref.string("namespace", context: context) ?? meta.namespace
                if kind == "ServiceAccount" {
                    subjects.append("system:serviceaccount:\(namespace):\(name)")
                } else if let group = group(ref.string("apiVersion", context: context)) {
                    subjects.append(KubernetesNames.oidcSubject(group: group, kind: kind, name: name, namespace: namespace))
                } else {
                    diagnostics.error(ref.location, "\(context): from ref of kind \(kind) needs an apiVersion with a group (such as sources.knative.dev/v1)")
                }
            } else {
                diagnostics.error(item.location, "\(context): each of from needs a sub or a ref")
            }
        }
        if subjects.isEmpty { diagnostics.error(spec.location, "\(context): from must name at least one sender") }
        var filters: [FilterSpec] = []
        for item in spec.sequence("filters", context: context) ?? [] {
            if let filter = filterSpec(item, context: "\(context) filters") { filters.append(filter) }
        }
        return EventPolicyManifest(meta: meta, to: targets, from: subjects, filters: filters)
    }

    /// The group of an `apiVersion` ("eventing.knative.dev/v1" -> "eventing.knative.dev").
    private static func group(_ apiVersion: String?) -> String? {
        guard let apiVersion, let slash = apiVersion.firstIndex(of: "/") else { return nil }
        return String(apiVersion[..<slash])
    }
}
