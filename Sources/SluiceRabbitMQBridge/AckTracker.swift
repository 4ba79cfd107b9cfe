import DequeModule

/// Turns settled deliveries of one channel into as few `basic.ack` frames as is safe.
///
/// Delivery tags count up from 1 per channel, and RabbitMQ sends no more than the prefetch
/// unacknowledged. Deliveries finish out of order (retries, parallel subscribers), so:
/// - every ack below the oldest unsettled delivery goes out as one `multiple` ack of the
///   highest of them (all of those are still unacknowledged on the server, and nothing else
///   below it is);
/// - an ack above it goes out alone at once, so a delivery stuck in retries does not hold the
///   prefetch window of those behind it;
/// - a nack always goes out alone (`requeue: false`), before the acks;
/// - a released delivery (the source stops before delivering it) gets no frame: the server
///   requeues it when the connection closes. Once one was released, `multiple` is no longer
///   used, since it would ack the released ones too.
struct AckTracker {
    enum Frame: Equatable {
        case ack(UInt64, multiple: Bool)
        case nack(UInt64)
    }

    enum Settlement {
        case ack
        case nack
        case release
    }

    /// Tags handed on, in delivery order; settled ones leave from the front.
    private var order: Deque<UInt64> = []
    /// Tags handed on and not settled.
    private var open: Set<UInt64> = []
    private var released = false

    /// Deliveries handed on and not settled yet.
    var outstanding: Int { open.count }

    mutating func delivered(_ tag: UInt64) {
        order.append(tag)
        open.insert(tag)
    }

    /// The frames that settle `batch` (tags not handed on, or settled before, are ignored).
    mutating func settle(_ batch: [(tag: UInt64, settlement: Settlement)]) -> [Frame] {
        var frames: [Frame] = []
        var acks: [UInt64] = []
        for (tag, settlement) in batch where open.remove(tag) != nil {
            switch settlement {
            case .ack: acks.append(tag)
            case .nack: frames.append(.nack(tag))
            case .release: released = true
            }
        }
        while let first = order.first, !open.contains(first) { order.removeFirst() }
        let oldestOpen = order.first ?? .max
        var below: [UInt64] = []
        for tag in acks {
            if tag < oldestOpen && !released { below.append(tag) } else { frames.append(.ack(tag, multiple: false)) }
        }
        if let highest = below.max() { frames.append(.ack(highest, multiple: below.count > 1)) }
        return frames
    }
}
