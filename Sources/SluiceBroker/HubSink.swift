import SluiceCloudEvents
import SluiceDelivery

/// A broker or channel of this process as a delivery target: replies and Broker, Channel,
/// Sequence and Parallel refs go through it without the HTTP hop. A broker stamps events as
/// its HTTP ingress does (TTL, arrival time) and matches them; a channel takes them as they
/// are, as Knative's channels do.
struct HubSink: EventSink {
    let kind: HubKind
    let namespace: String
    let name: String
    let controller: DataPlaneController

    var address: String { "\(kind == .broker ? "broker" : "channel"):\(namespace)/\(name)" }

    func accept(_ events: [CloudEvent], completion: @escaping @Sendable (SinkRejection?) -> Void) {
        let plane = controller.current
        guard let hub = kind == .broker ? plane.broker(namespace: namespace, name: name) : plane.channel(namespace: namespace, name: name) else {
            completion(SinkRejection(status: 404, reason: "\(kind) \(namespace)/\(name) not found", retryable: true))
            return
        }
        var stamped = events
        if kind == .broker {
            let clock = ArrivalClock()
            for index in stamped.indices {
                var failure: CloudEventError?
                stamped[index] = events[index].modified { builder in
                    do throws(CloudEventError) { try IngressStamp.apply(to: &builder, clock: clock) } catch { failure = error }
                }
                if let failure {
                    hub.metrics.refusedInvalid.increment()
                    completion(SinkRejection(status: 400, reason: "\(failure)", retryable: false))
                    return
                }
            }
        }
        var scratch: [Int] = []
        let count = stamped.count
        hub.store(stamped, scratch: &scratch) { error in
            hub.count(error, events: count)
            completion(error.map { SinkRejection(status: 503, reason: "\($0)", retryable: true) })
        }
    }
}
