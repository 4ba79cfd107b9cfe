import SluiceConfig
import Testing

@Suite("EventPolicy manifests")
struct EventPolicyManifestTests {
    private func load(_ spec: String) -> (ManifestSet?, [String]) {
        let yaml = "apiVersion: eventing.knative.dev/v1alpha1\nkind: EventPolicy\nmetadata: {name: p, namespace: demo}\nspec:\n" + spec
        do {
            return (try ManifestLoader.load(files: [(name: "p.yaml", contents: yaml)]), [])
        } catch {
            return (nil, error.problems.map(\.description))
        }
    }

    @Test("to refs and selectors, from subs and ServiceAccount refs, and filters are read")
    func reads() throws {
        let (set, problems) = load("""
              to:
                - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
                - selector: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, matchLabels: {team: a}}
              from:
                - sub: "system:serviceaccount:partners:*"
                - ref: {apiVersion: v1, kind: ServiceAccount, name: auditor}
              filters:
                - exact: {type: order.created}
            """)
        #expect(problems.isEmpty, "\(problems)")
        let policy = try #require(set?.eventPolicies.first)
        #expect(policy.from == ["system:serviceaccount:partners:*", "system:serviceaccount:demo:auditor"])
        #expect(policy.allows(subject: "system:serviceaccount:partners:shop") && policy.allows(subject: "system:serviceaccount:demo:auditor"))
        #expect(!policy.allows(subject: "system:serviceaccount:demo:other"))
        #expect(policy.to.count == 2 && policy.filters.count == 1)
        #expect(policy.to[0].covers(group: "eventing.knative.dev", kind: "Broker", name: "default", labels: [:]))
        #expect(!policy.to[0].covers(group: "eventing.knative.dev", kind: "Broker", name: "other", labels: [:]))
        #expect(policy.to[1].covers(group: "messaging.knative.dev", kind: "InMemoryChannel", name: "c", labels: ["team": "a", "x": "y"]))
        #expect(!policy.to[1].covers(group: "messaging.knative.dev", kind: "InMemoryChannel", name: "c", labels: ["team": "b"]))
    }

    @Test("a from ref to a sender is the subject of the ServiceAccount Knative makes for it")
    func senderReferences() throws {
        let (set, problems) = load("""
              from:
                - ref: {apiVersion: sources.knative.dev/v1, kind: PingSource, name: my-source}
                - ref: {apiVersion: sources.knative.dev/v1, kind: PingSource, name: a-very-long-source-name-that-goes-on-and-on, namespace: other}
            """)
        #expect(problems.isEmpty, "\(problems)")
        let policy = try #require(set?.eventPolicies.first)
        // The first is Knative's own documented example; the second is truncated and hashed.
        #expect(policy.from == ["system:serviceaccount:demo:my-source-oidc-sources.knative.dev-pingsource",
                                "system:serviceaccount:other:a-very-long-source-name-that-go3cec0e0e00fc3a647fa187966e23deb6"])
    }

    @Test("kmeta.ChildName: kept when it fits, else a truncated parent and an MD5 hash")
    func childNames() {
        #expect(KubernetesNames.childName(parent: "broker", suffix: "-filter") == "broker-filter")
        let long = "orders-from-the-warehouse-in-the-north-of-the-country-feed"
        #expect(KubernetesNames.childName(parent: long, suffix: "-oidc-x-y") == "orders-from-the-wareho3412305f90dedf4c5fc25e3fbd46dbaa-oidc-x-y")
        #expect(KubernetesNames.childName(parent: "short", suffix: "-" + String(repeating: "s", count: 69)) == "short5245b1a8c9fb74226a7e60c01b9a91b4-sssssssssssssssssssssssss")
    }

    @Test("problems are file:line messages")
    func problems() {
        let cases = [
            ("  from:\n    - sub: \"system:*:x\"\n", "may hold * only at its end"),
            ("  from:\n    - ref: {kind: PingSource, name: ping}\n", "from ref of kind PingSource needs an apiVersion with a group"),
            ("  to:\n    - ref: {kind: Broker, name: b}\n", "from must name at least one sender"),
        ]
        for (spec, expected) in cases {
            let (_, problems) = load(spec)
            #expect(problems.contains { $0.hasPrefix("p.yaml:") && $0.contains(expected) }, "\(spec): \(problems)")
        }
    }
}
