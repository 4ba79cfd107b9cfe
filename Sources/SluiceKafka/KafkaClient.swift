import Dispatch
import Logging
import SluiceIO
internal import CRdKafka

/// One librdkafka client instance (`rd_kafka_t`) served by one event loop: librdkafka writes to
/// an eventfd when the instance's queue goes from empty to non-empty, the loop wakes and serves
/// the queue without blocking, so callbacks (delivery reports, rebalances, errors, log lines)
/// run on that loop and need no locks. No thread of ours waits in librdkafka; its own threads
/// do the network I/O.
///
/// The IO trigger fires only on the empty-to-non-empty edge, so whoever serves the queue must
/// empty it, or come back to it (`serveAgainSoon`), before waiting for the next wake-up.
final class KafkaClient: EventHandler, @unchecked Sendable {  // confined to `loop` until `close`
    let handle: OpaquePointer
    let loop: EventLoop
    let callbacks: KafkaCallbacks
    private let queue: OpaquePointer
    private let counter: EventCounter
    private var serve: @Sendable () -> Void = {}
    private var registered = false

    /// Creates the instance. `consumer` makes it a group consumer whose main queue (errors,
    /// logs, rebalances) is forwarded to the consumer queue, so one queue serves all.
    init(kind: rd_kafka_type_t, properties: KafkaProperties, loop: EventLoop, logger: Logger) throws(KafkaError) {
        let conf = try properties.merging(KafkaProperties([("log.queue", "true")])).makeConf()
        let callbacks = KafkaCallbacks(logger: logger)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
        rd_kafka_conf_set_log_cb(conf, KafkaCallbacks.log)
        rd_kafka_conf_set_error_cb(conf, KafkaCallbacks.error)
        if kind == RD_KAFKA_PRODUCER {
            rd_kafka_conf_set_dr_msg_cb(conf, KafkaCallbacks.delivery)
        } else {
            rd_kafka_conf_set_rebalance_cb(conf, KafkaCallbacks.rebalance)
            rd_kafka_conf_set_offset_commit_cb(conf, KafkaCallbacks.committed)
        }
        var text = [CChar](repeating: 0, count: 512)
        // rd_kafka_new takes the configuration, also when it fails.
        guard let handle = rd_kafka_new(kind, conf, &text, text.count) else {
            throw KafkaError(message: cString(text))
        }
        let counter: EventCounter
        do {
            counter = try EventCounter()
        } catch {
            rd_kafka_destroy(handle)
            throw KafkaError(message: "\(error)")
        }
        if kind == RD_KAFKA_CONSUMER { rd_kafka_poll_set_consumer(handle) }
        // Log lines go to the main queue (served on the loop) instead of librdkafka's threads.
        rd_kafka_set_log_queue(handle, nil)
        queue = kind == RD_KAFKA_CONSUMER ? rd_kafka_queue_get_consumer(handle) : rd_kafka_queue_get_main(handle)
        self.handle = handle
        self.loop = loop
        self.callbacks = callbacks
        self.counter = counter
    }

    /// Starts serving on the loop: `serve` runs whenever the queue has something (on the loop).
    func start(serving: @escaping @Sendable () -> Void) {
        loop.execute { [self] in
            serve = serving
            do {
                try loop.register(self, fd: counter.fd, interest: .readable)
                registered = true
            } catch {
                callbacks.logger.error("cannot watch the Kafka client's queue: \(error)")
            }
            EventCounter.increment.withUnsafeBytes { bytes in
                rd_kafka_queue_io_event_enable(queue, counter.fd, bytes.baseAddress, bytes.count)
            }
            serve()
        }
    }

    func handle(_ event: ReadyEvent) {
        counter.drain()
        serve()
    }

    /// For a server that stopped before the queue was empty: runs it again after the loop's
    /// other work, since no new wake-up comes while the queue stays non-empty.
    func serveAgainSoon() {
        loop.execute { [self] in if registered { serve() } }
    }

    /// Stops the loop serving the queue, then runs `finish` (flush, leave the group) and
    /// destroys the instance on a background thread, where its blocking calls may wait.
    /// Called on the loop; `done` runs on the background thread at the end.
    func close(finish: @escaping @Sendable (OpaquePointer) -> Void, done: @escaping @Sendable () -> Void) {
        if registered {
            loop.deregister(fd: counter.fd)
            registered = false
        }
        serve = {}
        rd_kafka_queue_io_event_enable(queue, -1, nil, 0)
        DispatchQueue.global().async { [self] in
            finish(handle)
            rd_kafka_queue_destroy(queue)
            rd_kafka_destroy(handle)
            counter.close()
            done()
        }
    }
}
