import Glibc
import SluiceCloudEventsAMQP
import SluiceDelivery
import SluiceIO
import SluiceRabbitMQ

/// The AMQP side of a RabbitmqSource, on its own thread: connects (declaring the exchange,
/// queue and binding unless `predeclared`), consumes with a prefetch of `parallelism`, turns
/// messages into events for the loop, and acks or nacks what the loop finished. A failed
/// connection is reopened after a capped, jittered backoff, for as long as the source exists.
///
/// The thread waits in `poll` on the socket and on the runtime's eventfd at once, at most half
/// a heartbeat, so it hears RabbitMQ, the loop and `stop` without delay and keeps the
/// heartbeats going. Everything here is confined to that thread.
final class RabbitmqSourceConsumer: @unchecked Sendable {
    private let runtime: RabbitmqSourceRuntime
    private var decoder: AMQPEventDecoder
    private var tracker = AckTracker()
    private var headers: [AMQPHeader] = []
    /// Messages read while the inbox was full (it is sized so this does not happen).
    private var held: [RabbitmqSourceRuntime.Received] = []
    private var generation: UInt32 = 0
    private var random = SystemRandomNumberGenerator()
    private let failureLog = RateLimitedLog(interval: .seconds(30))
    private let nackLog = RateLimitedLog(interval: .seconds(10))
    private let invalidLog = RateLimitedLog(interval: .seconds(10))

    /// Reconnect delays: from 100 ms, doubling, at most 2 s (jittered down by up to half), so a
    /// server that comes back is found within about two seconds.
    static let firstDelay: Duration = .milliseconds(100)
    static let longestDelay: Duration = .seconds(2)

    init(runtime: RabbitmqSourceRuntime) {
        self.runtime = runtime
        decoder = AMQPEventDecoder(source: runtime.eventSource)
    }

    private var stopping: Bool { runtime.stopping.load(ordering: .acquiring) }

    func run() {
        var delay = Self.firstDelay
        var everConnected = false
        while !stopping {
            do throws(AMQPError) {
                let connection = try connect()
                if everConnected { runtime.metrics.reconnects.increment() }
                everConnected = true
                delay = Self.firstDelay
                runtime.connected()
                runtime.logger.info("connected to RabbitMQ", metadata: ["endpoint": "\(runtime.endpoint)", "queue": "\(runtime.manifest.queueName)"])
                try serve(connection)
                connection.close()
            } catch {
                runtime.disconnected(error)
                failureLog.record { suppressed in
                    runtime.logger.warning("RabbitMQ connection failed; reconnecting", metadata: [
                        "endpoint": "\(runtime.endpoint)", "error": "\(error)", "suppressed": "\(suppressed)",
                    ])
                }
                let jittered = delay * Double.random(in: 0.5...1, using: &random)
                waitForWake(timeout: jittered)
                delay = min(delay * 2, Self.longestDelay)
            }
        }
        runtime.disconnected(AMQPError(.library(status: 0), "the source stopped"))
        runtime.stopped.withLock { $0.done }?()
    }

    /// Opens a connection ready to consume: declarations, prefetch, `basic.consume`.
    private func connect() throws(AMQPError) -> AMQPConnection {
        let manifest = runtime.manifest
        let connection = try AMQPConnection(runtime.endpoint)
        if manifest.predeclared {
            try connection.checkQueue(manifest.queueName)
        } else {
            // Knative's RabbitmqSource reconciler declares these: a durable headers exchange,
            // a durable quorum queue, and a binding that matches every message.
            try connection.declareExchange(manifest.exchangeName, type: "headers")
            try connection.declareQueue(manifest.queueName, arguments: [("x-queue-type", "quorum")])
            try connection.bind(queue: manifest.queueName, exchange: manifest.exchangeName, arguments: [("x-match", "all")])
        }
        try connection.setPrefetch(manifest.parallelism)
        try connection.consume(queue: manifest.queueName)
        // Tags start again at 1 on the new channel: what the loop still holds of the old one
        // is neither delivered nor settled here (the server gives it out again).
        generation &+= 1
        runtime.generation.store(generation, ordering: .releasing)
        tracker = AckTracker()
        held.removeAll()
        return connection
    }

    /// Reads, hands on and settles until the connection fails (throws) or the source stops
    /// and what was in flight is settled or out of time (returns).
    private func serve(_ connection: AMQPConnection) throws(AMQPError) {
        var descriptors = [pollfd(fd: connection.socketDescriptor, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: runtime.wake.fd, events: Int16(POLLIN), revents: 0)]
        let heartbeatWait = Int32(max(1, runtime.endpoint.heartbeat) * 500)
        var stopDeadline: UInt64?
        // librabbitmq notices missing heartbeats only inside a blocking wait, and this thread
        // never waits inside it: silence for two heartbeats means the server is gone.
        var lastInput = Monotonic.now()
        let silenceLimit = UInt64(max(1, runtime.endpoint.heartbeat)) * 2_000_000_000
        while true {
            try readAvailable(connection)
            try settleFinished(connection)
            if stopping {
                let now = Monotonic.now()
                let deadline = stopDeadline ?? now &+ runtime.stopped.withLock { $0.grace }.nanoseconds
                stopDeadline = deadline
                if tracker.outstanding == 0 { return }
                if now >= deadline {
                    runtime.logger.warning("stopping with \(tracker.outstanding) messages in flight; RabbitMQ will deliver them again")
                    return
                }
            }
            let timeout = held.isEmpty ? (stopping ? min(heartbeatWait, 50) : heartbeatWait) : 1
            _ = poll(&descriptors, 2, timeout)
            if descriptors[1].revents != 0 { runtime.wake.drain() }
            if descriptors[0].revents != 0 {
                lastInput = Monotonic.now()
            } else if runtime.endpoint.heartbeat > 0 && Monotonic.now() &- lastInput > silenceLimit {
                throw AMQPError(.library(status: 0), "no heartbeat from the server for \(2 * runtime.endpoint.heartbeat) s")
            }
        }
    }

    /// Takes every message that arrived whole, as events for the loop.
    private func readAvailable(_ connection: AMQPConnection) throws(AMQPError) {
        if !held.isEmpty { passHeld() }
        var read = 0
        while try connection.nextDelivery({ delivery in receive(delivery) }) {
            read += 1
            // Let acks out between long runs of input.
            if read >= 256 { break }
        }
        if read > 0 { runtime.messagesWaiting() }
    }

    private func receive(_ delivery: AMQPDelivery) {
        runtime.metrics.consumed.increment()
        // While stopping, what arrives is left unacknowledged for the server to give out again.
        guard !stopping else { return }
        headers.removeAll(keepingCapacity: true)
        delivery.forEachHeader { name, value in headers.append(AMQPHeader(name: name, value: Self.headerValue(value))) }
        let decoded = decoder.decode(AMQPMessageParts(contentType: delivery.contentType, messageID: delivery.messageID,
                                                      timestamp: delivery.timestamp.map { Int64(clamping: $0) }, headers: headers,
                                                      body: delivery.body))
        headers.removeAll(keepingCapacity: true)
        if case .wrapped(_, let reason?) = decoded {
            runtime.metrics.wrapped.increment()
            invalidLog.record { suppressed in
                runtime.logger.info("message is not a valid CloudEvent; delivering it wrapped",
                                    metadata: ["reason": "\(reason)", "suppressed": "\(suppressed)"])
            }
        }
        tracker.delivered(delivery.deliveryTag)
        let received = RabbitmqSourceRuntime.Received(event: decoded.event, tag: delivery.deliveryTag, generation: generation)
        if !held.isEmpty {
            held.append(received)
        } else if let refused = runtime.inbox.tryEnqueue(received) {
            held.append(refused)
        }
    }

    private func passHeld() {
        var passed = 0
        for received in held {
            if runtime.inbox.tryEnqueue(received) != nil { break }
            passed += 1
        }
        held.removeFirst(passed)
        if passed > 0 { runtime.messagesWaiting() }
    }

    /// Acks and nacks what the loop finished on this connection.
    private func settleFinished(_ connection: AMQPConnection) throws(AMQPError) {
        runtime.lookingAtOutbox()
        var batch: [(tag: UInt64, settlement: AckTracker.Settlement)] = []
        let take = { [generation] (settled: RabbitmqSourceRuntime.Settled) in
            if settled.generation == generation { batch.append((settled.tag, settled.settlement)) }
        }
        _ = runtime.outbox.drain(take)
        for settled in runtime.overflow.withLock({ overflow in defer { overflow.removeAll() }; return overflow }) { take(settled) }
        guard !batch.isEmpty else { return }
        for frame in tracker.settle(batch) {
            switch frame {
            case .ack(let tag, let multiple):
                try connection.ack(tag, multiple: multiple)
            case .nack(let tag):
                try connection.nack(tag, requeue: false)
                runtime.metrics.nacked.increment()
                nackLog.record { suppressed in
                    runtime.logger.warning("message not delivered and not dead-lettered: rejected without requeue (to the queue's dead-letter exchange, if any)",
                                           metadata: ["suppressed": "\(suppressed)"])
                }
            }
        }
        let acked = batch.count(where: { $0.settlement == .ack })
        if acked > 0 { runtime.metrics.acked.increment(by: Int64(acked)) }
        runtime.metrics.inFlight.record(tracker.outstanding)
    }

    /// Sleeps for `timeout`, or until `stop`. Deliveries of the failed connection that finish
    /// meanwhile wake the thread too; their settlements are dropped (the server gives those
    /// messages out again) and the sleep goes on.
    private func waitForWake(timeout: Duration) {
        let deadline = Monotonic.now() &+ timeout.nanoseconds
        while !stopping {
            let now = Monotonic.now()
            guard now < deadline else { return }
            var descriptor = pollfd(fd: runtime.wake.fd, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, Int32(max(1, (deadline - now) / 1_000_000))) > 0 { runtime.wake.drain() }
            runtime.lookingAtOutbox()
            _ = runtime.outbox.drain { _ in }
            runtime.overflow.withLock { $0.removeAll() }
        }
    }

    private static func headerValue(_ value: AMQPFieldValue) -> AMQPHeaderValue {
        switch value {
        case .bytes(let bytes): return .text(bytes)
        case .boolean(let flag): return .boolean(flag)
        case .integer(let number): return .integer(number)
        case .unsigned(let number): return number <= UInt64(Int64.max) ? .integer(Int64(number)) : .unsupported
        case .float(let number): return .float(number)
        case .timestamp(let seconds): return .timestamp(Int64(clamping: seconds))
        case .other: return .unsupported
        }
    }
}
