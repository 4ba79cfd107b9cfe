import Logging
import SluiceHTTP
import SluiceIO
import SluiceStorage

/// A queue's delivery across every event loop: one dispatcher per loop, sharing the queue and
/// the window. The store wakes the dispatcher of the loop it is called on (the ingress loop
/// that stored the event), so a delivery usually starts on the core that received the event,
/// with no thread hop; a dispatcher whose window is full wakes the next one, so a busy
/// queue's deliveries spread over every core.
public final class QueueDelivery: Sendable {
    public let queue: any TriggerQueue
    public let monitor: DeliveryMonitor
    let shards: [QueueDispatcher]
    private let loops: [EventLoop]

    /// `deliverers` holds one deliverer per loop, aligned with the loops' indexes.
    public init(route: DeliveryRoute, queue: any TriggerQueue, deliverers: [Deliverer], loops: [EventLoop], window: Int) {
        self.queue = queue
        monitor = route.monitor
        self.loops = loops
        let share = max(1, (window + deliverers.count - 1) / deliverers.count)
        shards = deliverers.map { QueueDispatcher(route: route, queue: queue, deliverer: $0, window: share) }
        for (position, shard) in shards.enumerated() {
            let next = shards[(position + 1) % shards.count]
            if next !== shard { shard.onBacklog = { [weak next] in next?.wake() } }
        }
    }

    public func start() {
        queue.setWaker { [weak self] in self?.wakeNearest() }
        for shard in shards { shard.wake() }
    }

    public func update(_ route: DeliveryRoute) {
        for shard in shards { shard.update(route) }
    }

    public func stop() {
        for shard in shards { shard.stop() }
    }

    /// Wakes the dispatcher on the calling loop, or the first one off the loops.
    private func wakeNearest() {
        if let loop = EventLoop.currentLoop, loop.index < shards.count, loops[loop.index] === loop {
            shards[loop.index].wake()
        } else {
            shards[0].wake()
        }
    }
}

extension Deliverer {
    /// The deliverers of a process: one per event loop, over the pooled HTTP client, shared by
    /// every queue delivered from that loop.
    public static func http(client: HTTPClient, loops: [EventLoop]) -> [Deliverer] {
        loops.map { Deliverer(scheduler: $0, transport: HTTPDeliveryTransport(client: client, loop: $0), shard: $0.index,
                              seed: UInt64(truncatingIfNeeded: $0.index &* 0x9E37_79B9) | 1) }
    }
}
