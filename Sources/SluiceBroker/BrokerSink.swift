import SluiceCloudEvents
import SluiceDelivery

/// A broker of this process as a delivery target: replies and Broker refs go through it, with
/// the same stamping (TTL, arrival time) and matching as HTTP ingress, without the HTTP hop.
struct BrokerSink: EventSink {
    let namespace: String
    let name: String
    let controller: DataPlaneController

    var address: String { "broker:\(namespace)/\(name)" }

    func accept(_ events: [CloudEvent], completion: @escaping @Sendable (SinkRejection?) -> Void) {
        guard let broker = controller.current.broker(namespace: namespace, name: name) else {
            completion(SinkRejection(status: 404, reason: "broker \(namespace)/\(name) not found", retryable: true))
            return
        }
        var stamped: [CloudEvent] = []
        stamped.reserveCapacity(events.count)
        let clock = ArrivalClock()
        for event in events {
            do {
                var failure: CloudEventError?
                let next = event.modified { builder in
                    do throws(CloudEventError) { try IngressStamp.apply(to: &builder, clock: clock) } catch { failure = error }
                }
                if let failure { throw failure }
                stamped.append(next)
            } catch {
                broker.metrics.refusedInvalid.increment()
                completion(SinkRejection(status: 400, reason: "\(error)", retryable: false))
                return
            }
        }
        var scratch: [Int] = []
        let count = stamped.count
        broker.store(stamped, scratch: &scratch) { error in
            broker.count(error, events: count)
            completion(error.map { SinkRejection(status: 503, reason: "\($0)", retryable: true) })
        }
    }
}
