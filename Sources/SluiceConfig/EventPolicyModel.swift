/// `eventing.knative.dev/v1alpha1` EventPolicy: which senders (OIDC subjects) may post which
/// events to which Brokers, Channels and Sinks of its namespace. Read when `--oidc` is on.
public struct EventPolicyManifest: Sendable {
    public var meta: ObjectMeta
    /// `spec.to`; empty: every resource of the namespace.
    public var to: [Target]
    /// `spec.from`: subjects, exact or ending in `*` (a prefix).
    public var from: [String]
    /// `spec.filters`: what the allowed senders' events must match (ANDed), as a trigger's.
    public var filters: [FilterSpec]

    public enum Target: Sendable {
        /// One resource by kind and name (`apiVersion`'s group when given).
        case ref(group: String?, kind: String, name: String)
        /// Every resource of a kind whose labels hold `matchLabels`.
        case selector(group: String?, kind: String, matchLabels: [String: String])

        /// Whether this names the resource of `group` and `kind` called `name` with `labels`.
        public func covers(group resourceGroup: String, kind resourceKind: String, name resourceName: String, labels: [String: String]) -> Bool {
            switch self {
            case .ref(let group, let kind, let name):
                return kind.lowercased() == resourceKind.lowercased() && (group == nil || group == resourceGroup) && name == resourceName
            case .selector(let group, let kind, let matchLabels):
                return kind.lowercased() == resourceKind.lowercased() && (group == nil || group == resourceGroup)
                    && matchLabels.allSatisfy { labels[$0.key] == $0.value }
            }
        }
    }

    /// Whether `subject` is one of `from`.
    public func allows(subject: String) -> Bool {
        from.contains { pattern in
            pattern.hasSuffix("*") ? subject.hasPrefix(pattern.dropLast()) : subject == pattern
        }
    }
}
