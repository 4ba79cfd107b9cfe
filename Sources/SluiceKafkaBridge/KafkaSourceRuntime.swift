import Logging
import SluiceBroker
import SluiceCloudEvents
import SluiceCloudEventsKafka
import SluiceConfig
import SluiceDelivery
import SluiceIO
import SluiceKafka
import Synchronization

/// One KafkaSource: its consumers (one per `consumers`, spread over the loops, all in the
/// source's consumer group), the route its events take, its metrics and its health.
final class KafkaSourceRuntime: StoppableSource {
    let manifest: KafkaSourceManifest
    let fingerprint: String
    let route: DeliveryRoute
    let metrics: KafkaSourceMetrics
    let logger: Logger
    let keyType: KafkaKeyType
    /// `/apis/v1/namespaces/<ns>/kafkasources/<name>`: wrapped records add `#<topic>`.
    let sourceBase: String
    let invalidLog = RateLimitedLog(interval: .seconds(10))
    private let consumers: Locked<[KafkaSourceConsumer]>
    private let lastFailure = Locked<KafkaError?>(nil)

    /// Knative's KafkaSource delivery when the manifest has none: 10 retries, exponential from
    /// 0.3 s, 600 s per attempt.
    static let defaultDelivery = SourceRoute.Defaults(retry: 10, backoffDelay: .milliseconds(300), timeout: .seconds(600))

    init(manifest: KafkaSourceManifest, fingerprint: String, route: DeliveryRoute, metrics: KafkaSourceMetrics, logger: Logger) {
        self.manifest = manifest
        self.fingerprint = fingerprint
        self.route = route
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "kafkasource"] = "\(manifest.meta.namespace)/\(manifest.meta.name)"
        self.logger = logger
        keyType = KafkaKeyType(rawValue: manifest.keyType) ?? .string
        sourceBase = "/apis/v1/namespaces/\(manifest.meta.namespace)/kafkasources/\(manifest.meta.name)"
        consumers = Locked([])
    }

    /// `ceOverrides.extensions` as a step run on every event's attributes before it is built.
    func makeOverrides() -> JSONFormat.Prepare? {
        let extensions = manifest.ceOverrides
        guard !extensions.isEmpty else { return nil }
        return { (builder: inout CloudEventBuilder) throws(CloudEventError) in
            for (name, value) in extensions {
                var name = name
                var value = value
                let result: Result<Void, CloudEventError> = name.withUTF8 { nameBytes in
                    value.withUTF8 { valueBytes in
                        builder.removeAttribute(named: UnsafeRawBufferPointer(nameBytes))
                        return Result { () throws(CloudEventError) in
                            try builder.add(name: UnsafeRawBufferPointer(nameBytes), value: UnsafeRawBufferPointer(valueBytes), kind: .string)
                        }
                    }
                }
                try result.get()
            }
        }
    }

    /// Creates and starts the consumers. A consumer that cannot be created (a property
    /// librdkafka refuses) is logged; the others run.
    func start(properties: KafkaProperties, loops: [EventLoop], deliverers: [Deliverer], ordered: Bool) {
        var started: [KafkaSourceConsumer] = []
        for index in 0..<manifest.consumers {
            let loop = loops[(index + Int(truncatingIfNeeded: manifest.meta.name.hashValue & 0xFFFF)) % loops.count]
            var consumerProperties = properties
            consumerProperties["client.id"] = "sluice-kafkasource-\(manifest.meta.namespace)-\(manifest.meta.name)-\(index)"
            do {
                let consumer = try KafkaConsumer(properties: consumerProperties, topics: manifest.topics, loop: loop, logger: logger)
                // Knative commits a new `latest` group's start before it is used, so records
                // produced once the source exists are owed whatever its rebalances.
                consumer.startsNewGroupsAtEnd = manifest.initialOffset == .latest
                // Ordered mode delivers one record per partition: it needs records of every
                // partition at hand, and fetched records come in runs of one partition.
                let source = KafkaSourceConsumer(consumer: consumer, deliverer: deliverers[loop.index], runtime: self,
                                                 window: ordered ? 1 : 64, limits: ordered ? .init(total: 4096) : .init())
                source.start()
                started.append(source)
            } catch {
                logger.error("cannot create a Kafka consumer: \(error)")
                lastFailure.withLock { $0 = error }
            }
        }
        consumers.withLock { $0 = started }
    }

    func consumerFailed(_ error: KafkaError) {
        lastFailure.withLock { $0 = error }
        logger.warning("Kafka consumer: \(error)")
    }

    /// Why the source is not ready: the last error librdkafka reported while no broker answers.
    var unreachable: String? {
        guard let failure = lastFailure.withLock({ $0 }), failure.isAllBrokersDown || failure.isFatal else { return nil }
        return "KafkaSource \(manifest.meta.namespace)/\(manifest.meta.name): Kafka at \(manifest.bootstrapServers.joined(separator: ",")) is unreachable: \(failure)"
    }

    /// A record arrived or partitions were assigned: the cluster answers again.
    func reachable() {
        lastFailure.withLock { if $0?.isAllBrokersDown == true { $0 = nil } }
    }

    func collectMetrics() {
        for consumer in consumers.withLock({ $0 }) {
            consumer.loop.execute { consumer.collectLag() }
        }
    }

    /// Stops every consumer (see `KafkaSourceConsumer.stop`); `done` runs when all are closed.
    func stop(grace: Duration, done: @escaping @Sendable () -> Void) {
        let all = consumers.withLock { consumers in defer { consumers.removeAll() }; return consumers }
        guard !all.isEmpty else { return done() }
        let tally = Tally(remaining: all.count)
        for consumer in all {
            consumer.loop.execute {
                consumer.stop(grace: grace) {
                    if tally.finish(nil) != nil { done() }
                }
            }
        }
    }
}
