import CoreMetrics
import SluiceCloudEvents
import SluiceConfig
import SluiceDelivery
import SluiceFilter
import SluiceHTTP
import SluiceIO
import SluiceStorage
import Synchronization
import Testing
@testable import SluiceBroker

// In-process tests of the broker's parts: no process, no network.

private func event(_ id: String, type: String = "com.example.a", ttl: String? = nil) -> CloudEvent {
    var builder = CloudEventBuilder()
    do {
        try builder.add(name: "id", value: id)
        try builder.add(name: "source", value: "/tests")
        try builder.add(name: "type", value: type)
        if let ttl { try builder.add(name: "knativebrokerttl", value: ttl, kind: .integer) }
    } catch {
        Issue.record("building event \(id): \(error)")
    }
    return builder.build(data: [UInt8]?.none)
}

private func exactType(_ type: String) -> Filter {
    .exact(AttributeReference("type"), Array(type.utf8))
}

/// Stores through `intake` and returns the answer (the memory store answers at once).
private func store(_ events: [CloudEvent], _ intake: any BrokerIntake) -> StorageError?? {
    let answer = Locked<StorageError??>(nil)
    var scratch: [Int] = []
    intake.store(events, scratch: &scratch) { error in answer.withLock { $0 = .some(error) } }
    return answer.withLock { $0 }
}

private func drain(_ queue: any TriggerQueue) -> [String] {
    var ids: [String] = []
    while let next = queue.next() {
        ids.append(next.event.id)
        queue.done(next)
    }
    return ids
}

private let metrics = BrokerMetrics(namespace: "ns", name: "b", durable: false, factory: NOOPMetricsHandler.instance,
                                    options: .init(), shards: 1)

@Suite("broker parts, in process")
struct BrokerUnitTests {
    @Test func eachEventGoesToTheQueuesOfTheTriggersItMatches() throws {
        let backend = StoreBackend(store: MemoryStore(maxEventsPerTrigger: 10))
        let (intake, queues) = backend.bind(triggers: [TriggerBinding(key: "ns/a", filter: exactType("com.example.a")),
                                                       TriggerBinding(key: "ns/all", filter: .always),
                                                       TriggerBinding(key: "ns/b", filter: exactType("com.example.b"))], metrics: metrics)
        #expect(store([event("1"), event("2", type: "com.example.b"), event("3", type: "other")], intake) == .some(nil))
        #expect(queues.map { $0.key } == ["ns/a", "ns/all", "ns/b"])
        #expect(drain(queues[0]) == ["1"])
        #expect(drain(queues[1]) == ["1", "2", "3"])
        #expect(drain(queues[2]) == ["2"])
    }

    @Test func saturatedOnlyWhenEveryQueueIsFull() throws {
        let backend = StoreBackend(store: MemoryStore(maxEventsPerTrigger: 2))
        let (intake, queues) = backend.bind(triggers: [TriggerBinding(key: "ns/a", filter: exactType("com.example.a")), TriggerBinding(key: "ns/b", filter: exactType("com.example.b"))],
                                            metrics: metrics)
        #expect(store([event("1"), event("2")], intake) == .some(nil))
        #expect(!intake.isSaturated, "b still has room")
        #expect(store([event("3")], intake) == .some(.full(retryAfterSeconds: 1)))
        #expect(store([event("4", type: "com.example.b"), event("5", type: "com.example.b")], intake) == .some(nil))
        #expect(intake.isSaturated)
        _ = drain(queues[0])
        #expect(!intake.isSaturated)
    }

    @Test func anIntakeFromBeforeAReloadSkipsTheRemovedTrigger() throws {
        // A request that still holds the old configuration (its loop has not seen the new one)
        // while a reload removes a trigger: the event goes to the triggers that remain, and the
        // producer gets its 202, never a 503.
        let backend = StoreBackend(store: MemoryStore(maxEventsPerTrigger: 100))
        let (old, oldQueues) = backend.bind(triggers: [TriggerBinding(key: "ns/kept", filter: .always), TriggerBinding(key: "ns/removed", filter: .always)], metrics: metrics)
        let (_, newQueues) = backend.bind(triggers: [TriggerBinding(key: "ns/kept", filter: .always)], metrics: metrics)
        #expect(newQueues[0] === oldQueues[0], "a trigger that stays keeps its queue")
        for index in 0..<20 { #expect(store([event("e\(index)")], old) == .some(nil)) }
        #expect(drain(newQueues[0]).count == 20)
        #expect(oldQueues[1].next() == nil)
    }

    @Test func theBrokerSinkStampsLikeIngressAndStopsLoops() throws {
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        defer { client.shutdown(); group.shutdown() }
        let controller = DataPlaneController(options: DataPlaneOptions(), group: group, client: client)
        let manifests = try ManifestLoader.load(files: [(name: "m.yaml", contents: """
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: b, namespace: ns}
            """)])
        try controller.apply(manifests)
        let sink = HubSink(kind: .broker, namespace: "ns", name: "b", controller: controller)
        let answers = Locked<[SinkRejection?]>([])
        sink.accept([event("reply", ttl: "5")]) { rejection in answers.withLock { $0.append(rejection) } }
        sink.accept([event("looping", ttl: "1")]) { rejection in answers.withLock { $0.append(rejection) } }
        HubSink(kind: .broker, namespace: "ns", name: "gone", controller: controller).accept([event("x")]) { rejection in
            answers.withLock { $0.append(rejection) }
        }
        let results = answers.withLock { $0 }
        #expect(results.count == 3)
        #expect(results[0] == nil, "stored")
        #expect(results[1]?.status == 400 && results[1]?.retryable == false, "a TTL that runs out stops the loop for good")
        #expect(results[2]?.status == 404 && results[2]?.retryable == true, "a missing broker may appear on a reload")
        #expect(controller.current.broker(namespace: "ns", name: "b") != nil)
    }

    @Test func brokersAreFoundByRequestPath() throws {
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        defer { client.shutdown(); group.shutdown() }
        let controller = DataPlaneController(options: DataPlaneOptions(), group: group, client: client)
        try controller.apply(try ManifestLoader.load(files: [(name: "m.yaml", contents: """
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default, namespace: team-a}
            """)]))
        let plane = controller.current
        func find(_ path: String) -> String? { Array(path.utf8).withUnsafeBytes { plane.broker(path: $0)?.key } }
        #expect(find("/team-a/default") == "team-a/default")
        #expect(find("/team-a/default/") == "team-a/default")
        #expect(find("/team-a/other") == nil)
        #expect(find("team-a/default") == nil)
        #expect(find("/") == nil)
    }

    @Test func aBrokerClassWithItsOwnFactoryOpensThroughIt() throws {
        final class CountingFactory: BrokerBackendFactory, Sendable {
            let opened = Locked<[String]>([])
            func open(_ broker: BrokerManifest, storagePath: String) throws(StorageError) -> any BrokerBackend {
                opened.withLock { $0.append(broker.meta.name) }
                return StoreBackend(store: MemoryStore())
            }
        }
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        defer { client.shutdown(); group.shutdown() }
        let custom = CountingFactory()
        let controller = DataPlaneController(options: DataPlaneOptions(), group: group, client: client) { classes in
            classes.register("Custom", custom)
        }
        try controller.apply(try ManifestLoader.load(files: [(name: "m.yaml", contents: """
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata:
              name: special
              namespace: ns
              annotations: {eventing.knative.dev/broker.class: Custom}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: plain, namespace: ns}
            """)]))
        #expect(custom.opened.withLock { $0 } == ["special"], "only the broker of that class")
        #expect(controller.current.broker(namespace: "ns", name: "plain") != nil)
        #expect(controller.current.broker(namespace: "ns", name: "special") != nil)
    }
}
