/// What can be wrong with an event we were given: the one error type of the CloudEvents
/// module. Every case reads as the reason a 400 answer gives the producer.
public enum CloudEventError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not a CloudEvent at all (no ce-specversion in binary mode).
    case notACloudEvent
    case unsupportedSpecVersion(String)
    case missingAttribute(String)
    case emptyAttribute(String)
    case invalidAttribute(name: String, reason: String)
    case invalidAttributeName(String)
    case duplicateAttribute(String)
    case reservedAttributeName(String)
    case invalidJSON(String)
    case invalidBatch(String)
    case unsupportedFormat(String)
    case tooLarge(String)
    /// Refused by a rule of the receiver, such as Knative's TTL loop guard.
    case rejected(String)

    public var description: String {
        switch self {
        case .notACloudEvent: return "not a CloudEvent: no ce-specversion header and no CloudEvents content type"
        case .unsupportedSpecVersion(let version): return "unsupported specversion \"\(version)\" (1.0 and 0.3 are supported)"
        case .missingAttribute(let name): return "missing required attribute \(name)"
        case .emptyAttribute(let name): return "attribute \(name) must not be empty"
        case .invalidAttribute(let name, let reason): return "invalid attribute \(name): \(reason)"
        case .invalidAttributeName(let name): return "invalid attribute name \"\(name)\": names are 1 to 255 of [a-z0-9]"
        case .duplicateAttribute(let name): return "attribute \(name) appears more than once"
        case .reservedAttributeName(let name): return "\"\(name)\" cannot be used as an attribute name"
        case .invalidJSON(let reason): return "invalid JSON event: \(reason)"
        case .invalidBatch(let reason): return "invalid batch: \(reason)"
        case .unsupportedFormat(let type): return "unsupported event format \(type)"
        case .tooLarge(let what): return "\(what) too large"
        case .rejected(let reason): return reason
        }
    }
}
