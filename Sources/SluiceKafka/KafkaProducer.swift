import Dispatch
import Logging
import SluiceIO
import Synchronization
internal import CRdKafka

/// A producer (one `rd_kafka_t`) whose delivery reports are served on one event loop.
/// `produce` may be called from any thread; its completion runs on the producer's loop once
/// the cluster acknowledged the record (with `acks=all`, every in-sync replica has it) or the
/// record failed for good (`message.timeout.ms`).
public final class KafkaProducer: Sendable {
    private let client: KafkaClient
    private let topics: Locked<[String: KafkaHandle]>
    private let health = Health()
    private let closed = Atomic<Bool>(false)

    /// Whether the cluster answers. librdkafka says when every broker is down; it has no event
    /// for "back", so while down a background probe asks for metadata once a second.
    private final class Health: Sendable {
        let reachable = Atomic<Bool>(true)
        let lastError = Locked<KafkaError?>(nil)
        /// Held by a probe while it uses the handle, and by `close` before the handle goes.
        private let probing = Locked((running: false, closed: false))

        func down(_ handle: OpaquePointer) {
            reachable.store(false, ordering: .relaxed)
            let start = probing.withLock { state in
                guard !state.running && !state.closed else { return false }
                state.running = true
                return true
            }
            if start { probe(KafkaHandle(pointer: handle)) }
        }

        private func probe(_ pointer: KafkaHandle) {
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(1)) { [self] in
                let answered: Bool? = probing.withLock { state in
                    guard !state.closed else {
                        state.running = false
                        return nil
                    }
                    var metadata: UnsafePointer<rd_kafka_metadata>?
                    let code = rd_kafka_metadata(pointer.pointer, 0, nil, &metadata, 1000)
                    if let metadata { rd_kafka_metadata_destroy(metadata) }
                    if code == RD_KAFKA_RESP_ERR_NO_ERROR { state.running = false }
                    return code == RD_KAFKA_RESP_ERR_NO_ERROR
                }
                switch answered {
                case true?: reachable.store(true, ordering: .relaxed)
                case false?: probe(pointer)
                case nil: break
                }
            }
        }

        /// Called before the handle is destroyed: waits for a probe using it.
        func close() {
            probing.withLock { $0.closed = true }
        }
    }

    /// Settings every producer gets unless the user's properties say otherwise: every replica
    /// acknowledges, retries cannot duplicate or reorder, records leave within a millisecond.
    public static let defaults = KafkaProperties([
        ("acks", "all"), ("enable.idempotence", "true"), ("linger.ms", "1"),
        ("message.timeout.ms", "10000"), ("socket.keepalive.enable", "true"),
    ])

    public init(properties: KafkaProperties, loop: EventLoop, logger: Logger) throws(KafkaError) {
        client = try KafkaClient(kind: RD_KAFKA_PRODUCER, properties: KafkaProducer.defaults.merging(properties), loop: loop, logger: logger)
        topics = Locked([:])
        let health = self.health
        let handle = client
        client.callbacks.onError = { [handle] error in
            if error.isAllBrokersDown || error.isFatal {
                health.down(handle.handle)
                // Records still queued would wait for `message.timeout.ms`; fail them now, so
                // their senders hear 503 at once (records already sent wait for their answer).
                rd_kafka_purge(handle.handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING)
            }
            health.lastError.withLock { $0 = error }
            logger.warning("Kafka producer: \(error)")
        }
        client.start { [handle] in
            // Serve until empty (the wake-up comes only on the empty-to-non-empty edge), in
            // bounded rounds so other work on the loop keeps going under load.
            var rounds = 0
            while rd_kafka_poll(handle.handle, 0) > 0 {
                rounds += 1
                if rounds == 64 { return handle.serveAgainSoon() }
            }
        }
    }

    /// False once no broker of the cluster answers, until a record is acknowledged again.
    public var isReachable: Bool { health.reachable.load(ordering: .relaxed) }
    /// The last error librdkafka reported, for `/readyz` and logs.
    public var lastReportedError: KafkaError? { health.lastError.withLock { $0 } }

    /// Sends `record` to `topic`. Returns the error when the record could not even be queued
    /// (queue full, cluster known to be unreachable, closed); otherwise `completion` runs on the loop with nil
    /// once acknowledged, or the error.
    public func produce(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [(name: String, value: [UInt8])],
                        completion: @escaping @Sendable (KafkaError?) -> Void) -> KafkaError? {
        if closed.load(ordering: .relaxed) { return KafkaError(message: "the producer is closed", isRetriable: true) }
        if !health.reachable.load(ordering: .relaxed) {
            return health.lastError.withLock { $0 } ?? KafkaError(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        }
        let topicHandle: KafkaHandle
        do {
            topicHandle = try handle(for: topic)
        } catch {
            return error
        }
        var list: OpaquePointer?
        if !headers.isEmpty {
            list = rd_kafka_headers_new(headers.count)
            for header in headers {
                header.value.withUnsafeBytes { value in
                    _ = rd_kafka_header_add(list, header.name, -1, value.baseAddress, value.count)
                }
            }
        }
        let report = Unmanaged.passRetained(DeliveryReport { [health] error in
            if error == nil { health.reachable.store(true, ordering: .relaxed) }
            completion(error)
        })
        let code = withOptionalBytes(key) { key in
            withOptionalBytes(value) { value in
                sluice_rdkafka_produce(client.handle, topicHandle.pointer, key.baseAddress, key.count, value.baseAddress, value.count,
                                       list, report.toOpaque())
            }
        }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            report.release()
            if let list { rd_kafka_headers_destroy(list) }
            return KafkaError(code)
        }
        return nil
    }

    private func handle(for topic: String) throws(KafkaError) -> KafkaHandle {
        let result: Result<KafkaHandle, KafkaError> = topics.withLock { topics in
            if let existing = topics[topic] { return .success(existing) }
            guard let pointer = rd_kafka_topic_new(client.handle, topic, nil) else {
                return .failure(KafkaError(rd_kafka_last_error(), reason: "topic \(topic)"))
            }
            let created = KafkaHandle(pointer: pointer)
            topics[topic] = created
            return .success(created)
        }
        return try result.get()
    }

    /// Waits up to `timeout` for queued records to be acknowledged (their completions run, on
    /// the closing thread), then destroys the producer; `done` runs after. New records are
    /// refused from now on.
    public func close(timeout: Duration, done: @escaping @Sendable () -> Void = {}) {
        guard !closed.exchange(true, ordering: .relaxed) else { return done() }
        let topics = self.topics
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let logger = client.callbacks.logger
        let health = self.health
        client.loop.execute { [client] in
            client.close(finish: { handle in
                health.close()
                if rd_kafka_flush(handle, milliseconds) != RD_KAFKA_RESP_ERR_NO_ERROR {
                    logger.warning("Kafka producer closed with \(rd_kafka_outq_len(handle)) records not acknowledged")
                }
                // Fail what flush left, so no caller waits for ever.
                rd_kafka_purge(handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
                rd_kafka_poll(handle, 0)
                topics.withLock { topics in
                    for topic in topics.values { rd_kafka_topic_destroy(topic.pointer) }
                    topics.removeAll()
                }
            }, done: done)
        }
    }
}

/// A librdkafka handle passed between threads: a topic (created once per producer and topic,
/// a lookup per record otherwise) or a client instance; librdkafka's handles are thread-safe.
struct KafkaHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

func withOptionalBytes<Result>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
    guard let bytes else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
    return bytes.withUnsafeBytes(body)
}
