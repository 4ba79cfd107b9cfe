import Foundation
import SluiceTestSupport
import Testing
import Yams

/// `deploy/kubernetes`: every file parses, each object has what its kind requires, the names
/// that tie objects together (selectors, ports, volumes, kustomize resources) agree, and the
/// Knative manifests it mounts pass `sluice validate`.
@Suite("Kubernetes manifests")
struct DeployManifestTests {
    static let root = WalkthroughTests.checkout.appendingPathComponent("deploy/kubernetes").path

    /// Every object of every YAML file under deploy/kubernetes but the user's manifests, by
    /// file (relative path).
    static func objects() throws -> [(file: String, object: [String: Any])] {
        var found: [(String, [String: Any])] = []
        let files = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".yaml") && !$0.contains("manifests/") }.sorted()
        for file in files {
            let text = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
            for document in try Yams.load_all(yaml: text) {
                guard let object = document as? [String: Any] else { throw TestFailure("\(file): a document that is not a mapping") }
                found.append((file, object))
            }
        }
        return found
    }

    @Test("each object has the fields its kind requires, and the workloads run as the README promises")
    func requiredFields() throws {
        let objects = try Self.objects()
        #expect(objects.count >= 12)
        for (file, object) in objects {
            let kind = object["kind"] as? String ?? ""
            #expect(object["apiVersion"] is String && !kind.isEmpty, "\(file): apiVersion and kind")
            if kind == "Kustomization" { continue }
            let metadata = object["metadata"] as? [String: Any] ?? [:]
            #expect(metadata["name"] is String, "\(file) \(kind): metadata.name")
            if kind != "Namespace" { #expect(metadata["namespace"] is String, "\(file) \(kind): metadata.namespace") }
            let spec = object["spec"] as? [String: Any] ?? [:]
            switch kind {
            case "Deployment", "StatefulSet":
                try checkWorkload(file: file, spec: spec)
            case "Service":
                let ports = spec["ports"] as? [[String: Any]] ?? []
                #expect(!ports.isEmpty && ports.allSatisfy { $0["port"] is Int && $0["targetPort"] != nil && $0["name"] is String }, "\(file) Service ports")
                #expect(!(spec["selector"] as? [String: String] ?? [:]).isEmpty, "\(file) Service selector")
            case "ServiceMonitor":
                #expect(!((spec["endpoints"] as? [[String: Any]]) ?? []).isEmpty, "\(file) ServiceMonitor endpoints")
            case "PersistentVolumeClaim":
                #expect(spec["accessModes"] is [String] && (spec["resources"] as? [String: Any])?["requests"] != nil, "\(file) PVC")
            case "Namespace", "ServiceAccount":
                break
            default:
                Issue.record("\(file): unexpected kind \(kind)")
            }
        }
    }

    private func checkWorkload(file: String, spec: [String: Any]) throws {
        let selector = ((spec["selector"] as? [String: Any])?["matchLabels"] as? [String: String]) ?? [:]
        let template = spec["template"] as? [String: Any] ?? [:]
        let labels = ((template["metadata"] as? [String: Any])?["labels"] as? [String: String]) ?? [:]
        #expect(!selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }, "\(file): the selector matches the pod labels")
        let pod = template["spec"] as? [String: Any] ?? [:]
        #expect((pod["securityContext"] as? [String: Any])?["runAsNonRoot"] as? Bool == true, "\(file): non-root")
        let volumes = Set(((pod["volumes"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String })
            .union(((spec["volumeClaimTemplates"] as? [[String: Any]]) ?? []).compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String })
        for container in (pod["containers"] as? [[String: Any]]) ?? [] {
            let name = container["name"] as? String ?? "?"
            #expect(container["image"] is String, "\(file) \(name): image")
            let resources = container["resources"] as? [String: Any] ?? [:]
            #expect(resources["requests"] != nil && resources["limits"] != nil, "\(file) \(name): requests and limits")
            #expect((container["securityContext"] as? [String: Any])?["readOnlyRootFilesystem"] as? Bool == true, "\(file) \(name): read-only root")
            #expect(container["readinessProbe"] != nil, "\(file) \(name): readiness probe")
            for mount in (container["volumeMounts"] as? [[String: Any]]) ?? [] {
                #expect(volumes.contains(mount["name"] as? String ?? ""), "\(file) \(name): mount \(mount["name"] ?? "") has a volume")
            }
            if name == "sluice" {
                let paths = ["readinessProbe", "livenessProbe"].map { ((container[$0] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String }
                #expect(paths == ["/readyz", "/healthz"], "\(file): probes on /readyz and /healthz")
                let arguments = container["args"] as? [String] ?? []
                #expect(arguments.first == "serve" && arguments.contains("--watch"), "\(file): serve --watch")
            }
        }
    }

    @Test("Services select the workloads, the ServiceMonitor a Service's port, kustomizations list files that exist")
    func references() throws {
        let objects = try Self.objects().map(\.object)
        func labels(_ object: [String: Any]) -> [String: String] { ((object["metadata"] as? [String: Any])?["labels"] as? [String: String]) ?? [:] }
        let podLabels = objects.filter { ["Deployment", "StatefulSet"].contains($0["kind"] as? String) }.map { object in
            ((((object["spec"] as? [String: Any])?["template"] as? [String: Any])?["metadata"] as? [String: Any])?["labels"] as? [String: String]) ?? [:]
        }
        let services = objects.filter { $0["kind"] as? String == "Service" }
        for service in services {
            let selector = ((service["spec"] as? [String: Any])?["selector"] as? [String: String]) ?? [:]
            #expect(podLabels.contains { pod in selector.allSatisfy { pod[$0.key] == $0.value } }, "\(labels(service)): selects a workload")
        }
        let ingress = try #require(services.first { ($0["metadata"] as? [String: Any])?["name"] as? String == "broker-ingress" })
        #expect((ingress["metadata"] as? [String: Any])?["namespace"] as? String == "knative-eventing", "Knative's broker URL names this Service")
        #expect(((ingress["spec"] as? [String: Any])?["ports"] as? [[String: Any]])?.first?["port"] as? Int == 80)
        for monitor in objects.filter({ $0["kind"] as? String == "ServiceMonitor" }) {
            let spec = monitor["spec"] as? [String: Any] ?? [:]
            let selector = ((spec["selector"] as? [String: Any])?["matchLabels"] as? [String: String]) ?? [:]
            let port = ((spec["endpoints"] as? [[String: Any]])?.first?["port"] as? String) ?? ""
            #expect(services.contains { service in
                selector.allSatisfy { labels(service)[$0.key] == $0.value }
                    && (((service["spec"] as? [String: Any])?["ports"] as? [[String: Any]]) ?? []).contains { $0["name"] as? String == port }
            }, "the ServiceMonitor finds a Service with port \(port)")
        }
        for (file, object) in try Self.objects() where object["kind"] as? String == "Kustomization" {
            let base = (Self.root + "/" + file as NSString).deletingLastPathComponent
            let generated = ((object["configMapGenerator"] as? [[String: Any]]) ?? []).flatMap { $0["files"] as? [String] ?? [] }
            for entry in ((object["resources"] as? [String]) ?? []) + generated {
                #expect(FileManager.default.fileExists(atPath: base + "/" + entry), "\(file): \(entry) exists")
            }
        }
    }

    @Test("sluice validate passes on the manifests the ConfigMap mounts")
    func mountedManifestsValidate() throws {
        let validate = try SluiceProcess(["validate", "--config", Self.root + "/common/manifests"])
        #expect(validate.waitForExit() == 0, "\(validate.standardError)")
        #expect(validate.standardOutputRemainder().contains("ok (1 brokers, 1 triggers)"))
    }
}
