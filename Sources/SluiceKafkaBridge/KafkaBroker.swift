import Dispatch
import CoreMetrics
import Logging
import SluiceBroker
import SluiceCloudEvents
import SluiceCloudEventsKafka
import SluiceConfig
import SluiceFilter
import SluiceIO
import SluiceKafka
import SluiceObservability
import SluiceStorage
import Synchronization

/// Opens Kafka-class brokers (`eventing.knative.dev/broker.class: Kafka`): registered with the
/// data plane's broker classes, so the ingress, triggers and deliveries are the ones every
/// broker has, and only where events wait differs.
public struct KafkaBrokerFactory: BrokerBackendFactory {
    let loops: [EventLoop]
    let trust: KafkaTrust
    let logger: Logger
    let metricsFactory: any MetricsFactory
    /// Events of one trigger taken from Kafka and not yet delivered.
    let window: Int

    public init(loops: [EventLoop], trust: KafkaTrust = KafkaTrust(), metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance,
                window: Int = 1000, logger: Logger = Logger(label: "sluice.kafka.broker")) {
        self.loops = loops
        self.trust = trust
        self.metricsFactory = metricsFactory
        self.window = window
        self.logger = logger
    }

    public func open(_ broker: BrokerManifest, storagePath: String) throws(StorageError) -> any BrokerBackend {
        guard let settings = broker.kafka else {
            throw .failed("Broker \(broker.meta.namespace)/\(broker.meta.name) has no Kafka settings")
        }
        do throws(KafkaError) {
            return try KafkaBrokerBackend(broker: broker, settings: settings, trust: trust, loops: loops, window: window,
                                          metricsFactory: metricsFactory, logger: logger)
        } catch {
            throw .failed("Kafka producer for Broker \(broker.meta.namespace)/\(broker.meta.name): \(error)")
        }
    }
}

/// A Kafka-class broker's events: the ingress writes each one as a binary-mode record to the
/// broker's topic (key `partitionkey`; idempotent, `acks=all`) and is answered once Kafka
/// acknowledged it; each trigger reads the topic in its own consumer group
/// (`KafkaTriggerQueue`). Nothing is kept on local disk.
///
/// One producer serves every loop's ingress: its batches are fuller than those of a producer
/// per loop, and its broker threads fewer. On the mock cluster that doubled the rate and halved
/// the CPU per event (`benchmarks/kafka-broker.sh`).
final class KafkaBrokerBackend: BrokerBackend, @unchecked Sendable {  // `triggers` is used under its lock
    let broker: BrokerManifest
    let settings: KafkaBrokerSettings
    /// What every client of the broker gets: the cluster's address, the auth Secret's
    /// settings and the trust bundle.
    private let cluster: KafkaProperties
    private let loops: [EventLoop]
    private let window: Int
    private let logger: Logger
    private let metricsFactory: any MetricsFactory
    private let producer: KafkaProducer
    private let triggers = Locked<[String: KafkaTriggerQueue]>([:])
    private let retryState: KafkaRetryState?
    /// Why the broker's topic is not there, for `/readyz` (nil: it is, or not known yet).
    private let topicProblem = Locked<String?>(nil)
    private let closed = Atomic<Bool>(false)

    init(broker: BrokerManifest, settings: KafkaBrokerSettings, trust: KafkaTrust, loops: [EventLoop], window: Int,
         metricsFactory: any MetricsFactory, logger: Logger) throws(KafkaError) {
        self.metricsFactory = metricsFactory
        self.broker = broker
        self.settings = settings
        var cluster = KafkaProperties([("bootstrap.servers", settings.bootstrapServers.joined(separator: ","))])
        for (key, value) in settings.authProperties.sorted(by: { $0.key < $1.key }) { cluster[key] = value }
        self.cluster = trust.applied(to: cluster)
        self.loops = loops
        self.window = window
        self.logger = logger
        let tuning = KafkaClientSettings.tuning(settings.producerTuning)
        if !tuning.ignored.isEmpty { logger.warning("config-kafka-broker-data-plane: producer properties left out: \(tuning.ignored.joined(separator: ", "))") }
        var properties = tuning.properties.merging(cluster)
        properties["client.id"] = "sluice-broker-\(broker.meta.namespace)-\(broker.meta.name)"
        // Brokers spread over the loops, where their delivery reports are served.
        let home = loops[Int("\(broker.meta.namespace)/\(broker.meta.name)".utf8.reduce(UInt32(0)) { $0 &* 31 &+ UInt32($1) }) % loops.count]
        producer = try KafkaProducer(properties: properties, loop: home, logger: logger)
        do {
            retryState = try KafkaRetryState(topic: settings.retryStateTopic, properties: cluster,
                                             producer: producer, loop: home, logger: logger)
        } catch {
            logger.error("Broker \(broker.meta.namespace)/\(broker.meta.name): cannot read its retry schedules; a restart begins retries again: \(error)")
            retryState = nil
        }
        DispatchQueue.global().async { [self] in provisionTopics(attempt: 0) }
    }

    /// Creates the broker's topic with the configured partitions and replication, unless it
    /// is the user's own (which must exist), then the compacted retry-state topic. Asks again,
    /// backing off up to a minute, while the cluster does not answer or the topic is missing,
    /// so `/readyz` follows a topic created later by hand. Blocks: runs on a global queue.
    private func provisionTopics(attempt: Int) {
        guard !closed.load(ordering: .relaxed) else { return }
        let name = "\(broker.meta.namespace)/\(broker.meta.name)"
        let properties = cluster
        let answer: KafkaTopicAdmin.Answer
        if settings.externalTopic {
            answer = KafkaTopicAdmin.exists(settings.topic, properties: properties, logger: logger)
        } else {
            let config = settings.retentionMilliseconds.map { [(key: "retention.ms", value: String($0))] } ?? []
            answer = KafkaTopicAdmin.create(KafkaTopicAdmin.Topic(name: settings.topic, partitions: settings.partitions,
                                                                  replicationFactor: settings.replicationFactor, config: config),
                                            properties: properties, logger: logger)
        }
        switch answer {
        case .ready(let created):
            if created { logger.info("created topic \(settings.topic) (\(settings.partitions) partitions, replication \(settings.replicationFactor))") }
            topicProblem.withLock { $0 = nil }
            return provisionRetryStateTopic(properties)
        case .missing(let refusal):
            let problem = "Broker \(name): topic \(settings.topic) does not exist" + (refusal.map { " and was not created: \($0)" } ?? "")
            if topicProblem.withLock({ $0 }) != problem { logger.error("\(problem)") }
            topicProblem.withLock { $0 = problem }
        case .unanswered(let error):
            logger.debug("Broker \(name): cannot check topic \(settings.topic) yet: \(error)")
        }
        let delay = min(60, 1 << min(attempt, 6))
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(delay)) { [self] in provisionTopics(attempt: attempt + 1) }
    }

    /// The retry-state topic, compacted: only the latest schedule of each event matters.
    private func provisionRetryStateTopic(_ properties: KafkaProperties) {
        guard retryState != nil else { return }
        let topic = KafkaTopicAdmin.Topic(name: settings.retryStateTopic, partitions: 1, replicationFactor: settings.replicationFactor,
                                          config: [("cleanup.policy", "compact")])
        if case .missing(let refusal) = KafkaTopicAdmin.create(topic, properties: properties, logger: logger) {
            logger.warning("topic \(settings.retryStateTopic) does not exist and was not created\(refusal.map { ": \($0)" } ?? ""); retry schedules are not kept across restarts")
        }
    }

    func bind(triggers plans: [TriggerBinding], metrics: BrokerMetrics) -> (intake: any BrokerIntake, queues: [any TriggerQueue]) {
        let (queues, removed) = triggers.withLock { current -> ([any TriggerQueue], [KafkaTriggerQueue]) in
            var kept: [String: KafkaTriggerQueue] = [:]
            var queues: [any TriggerQueue] = []
            for (index, plan) in plans.enumerated() {
                if let existing = current[plan.key] ?? kept[plan.key], existing.ordered == plan.ordered {
                    existing.update(filter: plan.filter)
                    kept[plan.key] = existing
                    queues.append(existing)
                } else if let created = makeQueue(plan, loop: loops[index % loops.count]) {
                    kept[plan.key] = created
                    queues.append(created)
                }
            }
            // Gone, or replaced (its ordering changed).
            let removed = current.filter { kept[$0.key] !== $0.value }.map(\.value)
            current = kept
            return (queues, removed)
        }
        for queue in removed { queue.stop() }
        return (KafkaBrokerIntake(backend: self), queues)
    }

    /// The queue of trigger or subscription `key` (".../<name>"), its consumer joining Knative's
    /// group for it; a new group starts at the end of the topic, as Knative's triggers do.
    private func makeQueue(_ plan: TriggerBinding, loop: EventLoop) -> KafkaTriggerQueue? {
        let key = plan.key
        let group = settings.consumerGroup(for: String(key.split(separator: "/").last ?? ""))
        var properties = KafkaClientSettings.tuning(settings.consumerTuning).properties.merging(cluster)
        properties["group.id"] = group
        properties["auto.offset.reset"] = "latest"
        properties["client.id"] = "sluice-\(group)"
        do {
            let consumer = try KafkaConsumer(properties: properties, topics: [settings.topic], loop: loop, logger: logger)
            consumer.startsNewGroupsAtEnd = true
            let lag = CoreMetrics.Gauge(label: "sluice_kafka_consumer_lag",
                                        dimensions: [(LabelNames.consumerGroup, group), (LabelNames.destinationName, settings.topic)],
                                        factory: metricsFactory)
            let queue = KafkaTriggerQueue(key: key, group: group, filter: plan.filter, ordered: plan.ordered, consumer: consumer,
                                          capacity: window, wrappedSource: "/apis/v1/namespaces/\(broker.meta.namespace)/brokers/\(broker.meta.name)",
                                          retryState: retryState, lag: lag, logger: logger)
            queue.start()
            return queue
        } catch {
            logger.error("trigger \(key): cannot create its Kafka consumer: \(error)")
            return nil
        }
    }

    /// Writes `events` to the topic; `completion` once Kafka acknowledged all of them, or the
    /// first failure.
    func produce(_ events: [CloudEvent], completion: @escaping @Sendable (KafkaError?) -> Void) {
        let tally = Tally(remaining: events.count)
        for event in events {
            let record = KafkaEventEncoder.encode(event, mode: .binary)
            let refused = producer.produce(topic: settings.topic, key: record.key, value: record.value,
                                           headers: record.headers.map { ($0.name, $0.value) }) { error in
                if let outcome = tally.finish(error) { completion(outcome.error) }
            }
            if let refused, let outcome = tally.finish(refused) { completion(outcome.error) }
        }
        if events.isEmpty { completion(nil) }
    }

    var storageMetrics: StorageMetrics? { nil }

    func collectMetrics() {
        for queue in triggers.withLock({ Array($0.values) }) { queue.collectLag() }
    }

    var readinessProblem: String? {
        guard !producer.isReachable else { return topicProblem.withLock { $0 } }
        let reason = producer.lastReportedError.map { ": \($0)" } ?? ""
        return "Broker \(broker.meta.namespace)/\(broker.meta.name): Kafka at \(settings.bootstrapServers.joined(separator: ",")) is unreachable\(reason)"
    }

    /// Leaves every trigger's group and flushes the producer, waiting a few seconds at most
    /// (shutdown and reloads call it).
    func close() {
        closed.store(true, ordering: .relaxed)
        let queues = triggers.withLock { current in defer { current = [:] }; return Array(current.values) }
        let finished = DispatchGroup()
        for queue in queues {
            finished.enter()
            queue.stop { finished.leave() }
        }
        retryState?.close()
        finished.enter()
        producer.close(timeout: .seconds(5)) { finished.leave() }
        _ = finished.wait(timeout: .now() + .seconds(10))
    }
}

/// A Kafka-class broker's intake: stamped events go to the topic; 2xx only after Kafka's
/// acknowledgement, 503 when Kafka refused or did not answer in time.
final class KafkaBrokerIntake: BrokerIntake {
    private let backend: KafkaBrokerBackend

    init(backend: KafkaBrokerBackend) {
        self.backend = backend
    }

    func store(_ events: [CloudEvent], scratch: inout [Int], completion: @escaping @Sendable (StorageError?) -> Void) {
        backend.produce(events) { error in
            completion(error.map { .failed("Kafka did not take the event: \($0)") })
        }
    }

    var isSaturated: Bool { false }
}
