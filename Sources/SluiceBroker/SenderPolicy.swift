import SluiceCloudEvents
import SluiceConfig
import SluiceFilter

/// What authenticated senders may post to one broker or channel: the EventPolicies of its
/// namespace whose `to` covers it, each with its filters compiled once. A request passes when
/// one policy names its sender and every event matches that policy's filters (403 otherwise).
/// With no policy for the target, Knative's default applies: senders of the target's namespace.
public struct SenderPolicy: Sendable {
    struct Rule: Sendable {
        let policy: EventPolicyManifest
        let filter: Filter
    }

    let namespace: String
    /// `system:serviceaccount:<namespace>:`, the default rule's senders (made once).
    let namespaceSenders: String
    /// Nil when no policy covers the target.
    let rules: [Rule]?

    /// The policies of `manifests` that cover the resource of `group` and `kind` described by
    /// `meta`; filters that do not compile (which `check` reports) never match.
    public init(group: String, kind: String, meta: ObjectMeta, manifests: ManifestSet) {
        namespace = meta.namespace
        namespaceSenders = "system:serviceaccount:\(meta.namespace):"
        let covering = manifests.eventPolicies.filter { policy in
            policy.meta.namespace == meta.namespace
                && (policy.to.isEmpty || policy.to.contains { $0.covers(group: group, kind: kind, name: meta.name, labels: meta.labels) })
        }
        rules = covering.isEmpty ? nil : covering.map { policy in
            let filter = (try? SenderPolicy.compile(policy.filters)) ?? .not(.always)
            return Rule(policy: policy, filter: filter)
        }
    }

    /// Nil when `subject` may post `events`, else why not.
    public func refusal(subject: String, events: [CloudEvent]) -> IngressRefusal? {
        guard let rules else {
            if subject.hasPrefix(namespaceSenders) { return nil }
            return .forbidden("sender \(subject) may not post here: with no EventPolicy only service accounts of namespace \(namespace) may")
        }
        let naming = rules.filter { $0.policy.allows(subject: subject) }
        if naming.isEmpty { return .forbidden("no EventPolicy allows sender \(subject)") }
        let passes = naming.contains { rule in events.allSatisfy { event in event.withView { rule.filter.matches($0) } } }
        return passes ? nil : .forbidden("the events do not match the filters of the EventPolicies that allow sender \(subject)")
    }

    /// A policy's filters, ANDed (none: everything).
    static func compile(_ specs: [FilterSpec]) throws(FilterCompiler.Problem) -> Filter {
        var compiled: [Filter] = []
        for spec in specs { compiled.append(try FilterCompiler.compile(spec)) }
        switch compiled.count {
        case 0: return .always
        case 1: return compiled[0]
        default: return .all(compiled)
        }
    }
}
