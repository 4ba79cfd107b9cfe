/// What a message from another protocol (a Kafka record, an AMQP message) became: the
/// CloudEvent it carried, or, when it carried none or an invalid one, the event a source wraps
/// it in, with the reason it was not taken as it is.
public enum DecodedMessage {
    case cloudEvent(CloudEvent)
    /// Not a CloudEvent, or an invalid one (`reason` says why): wrapped.
    case wrapped(CloudEvent, reason: CloudEventError?)

    public var event: CloudEvent {
        switch self {
        case .cloudEvent(let event), .wrapped(let event, _): return event
        }
    }
}
