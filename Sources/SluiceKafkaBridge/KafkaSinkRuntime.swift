import Logging
import SluiceCloudEvents
import SluiceCloudEventsKafka
import SluiceConfig
import SluiceDelivery
import SluiceIO
import SluiceKafka
import Synchronization

/// One KafkaSink: a producer per event loop (so an HTTP request's acknowledgement comes back on
/// the loop that answers it), writing events to the sink's topic in its content mode. It is
/// also a destination in this process: a Trigger or a source naming it by `ref` hands it events
/// without an HTTP hop.
final class KafkaSinkRuntime: EventSink {
    let manifest: KafkaSinkManifest
    let fingerprint: String
    let mode: KafkaContentMode
    let metrics: KafkaSinkMetrics
    private let producers: [KafkaProducer]
    private let next = Atomic<Int>(0)

    init(manifest: KafkaSinkManifest, fingerprint: String, properties: KafkaProperties, loops: [EventLoop], metrics: KafkaSinkMetrics,
         logger: Logger) throws(KafkaError) {
        self.manifest = manifest
        self.fingerprint = fingerprint
        mode = KafkaContentMode(rawValue: manifest.contentMode) ?? .binary
        self.metrics = metrics
        var producers: [KafkaProducer] = []
        for loop in loops {
            var loopProperties = properties
            loopProperties["client.id"] = "sluice-kafkasink-\(manifest.meta.namespace)-\(manifest.meta.name)-\(loop.index)"
            do {
                producers.append(try KafkaProducer(properties: loopProperties, loop: loop, logger: logger))
            } catch {
                for producer in producers { producer.close(timeout: .zero) }
                throw error
            }
        }
        self.producers = producers
    }

    var address: String { "kafkasink:\(manifest.meta.namespace)/\(manifest.meta.name)" }

    /// Why the sink cannot take events now, if it cannot.
    var unreachable: String? {
        guard producers.allSatisfy({ !$0.isReachable }) else { return nil }
        let reason = producers.compactMap(\.lastReportedError).first.map { ": \($0)" } ?? ""
        return "KafkaSink \(manifest.meta.namespace)/\(manifest.meta.name): Kafka at \(manifest.bootstrapServers.joined(separator: ",")) is unreachable\(reason)"
    }

    /// Writes `events` with the producer of loop `shard`; `completion` runs on that loop once
    /// Kafka acknowledged every one (nil) or with the first failure.
    func produce(_ events: [CloudEvent], shard: Int, completion: @escaping @Sendable (KafkaError?) -> Void) {
        let producer = producers[shard % producers.count]
        if events.count == 1, let event = events.first {
            return produce(event, producer: producer, completion: completion)
        }
        let tally = Tally(remaining: events.count)
        for event in events {
            produce(event, producer: producer) { error in
                if let outcome = tally.finish(error) { completion(outcome.error) }
            }
        }
    }

    private func produce(_ event: CloudEvent, producer: KafkaProducer, completion: @escaping @Sendable (KafkaError?) -> Void) {
        let record = KafkaEventEncoder.encode(event, mode: mode)
        let metrics = self.metrics
        let refused = producer.produce(topic: manifest.topic, key: record.key, value: record.value,
                                       headers: record.headers.map { ($0.name, $0.value) }) { error in
            if error == nil { metrics.produced.increment() } else { metrics.failed.increment() }
            completion(error)
        }
        if let refused {
            metrics.failed.increment()
            completion(refused)
        }
    }

    // MARK: EventSink

    func accept(_ events: [CloudEvent], completion: @escaping @Sendable (SinkRejection?) -> Void) {
        // Deliveries arrive on any loop; spread them over the producers.
        let shard = next.add(1, ordering: .relaxed).oldValue
        // The broker's loop guard is for subscribers' replies; a record in Kafka leaves Knative.
        let stripped = events.map { event in
            event.withView { $0.value(of: AttributeName.knativebrokerttl) } == nil ? event : event.modified { $0.remove(AttributeName.knativebrokerttl) }
        }
        produce(stripped, shard: shard) { error in
            completion(error.map { SinkRejection(status: $0.isRetriable ? 503 : 500, reason: "Kafka: \($0)", retryable: true) })
        }
    }

    func close(timeout: Duration, done: @escaping @Sendable () -> Void) {
        let tally = Tally(remaining: producers.count)
        for producer in producers {
            producer.close(timeout: timeout) {
                if tally.finish(nil) != nil { done() }
            }
        }
        if producers.isEmpty { done() }
    }
}

/// Counts answers down from any thread; the last one (or the first failure) finishes.
final class Tally: Sendable {
    struct Finished {
        let error: KafkaError?
    }

    private let state: Locked<(remaining: Int, done: Bool)>

    init(remaining: Int) {
        state = Locked((remaining, false))
    }

    /// Returns the outcome once: at the first error, or when the last answer arrives.
    func finish(_ error: KafkaError?) -> Finished? {
        state.withLock { state in
            guard !state.done else { return nil }
            state.remaining -= 1
            if error != nil || state.remaining == 0 {
                state.done = true
                return Finished(error: error)
            }
            return nil
        }
    }
}
