import SluiceCloudEvents

/// The event sent to a dead-letter sink: the original plus `knativeerrordest`,
/// `knativeerrorcode` and, when the failed answer had a body, `knativeerrordata` (base64 of at
/// most its first 1024 bytes).
public enum DeadLetter {
    public static let maximumErrorData = 1024

    public static func event(for original: CloudEvent, destination: String, status: Int, body: [UInt8]) -> CloudEvent {
        original.modified { builder in
            builder.set(trusted: AttributeName.knativeerrordest, value: destination, kind: .uri)
            builder.set(trusted: AttributeName.knativeerrorcode, value: String(status), kind: .integer)
            if body.isEmpty {
                builder.remove(AttributeName.knativeerrordata)
            } else {
                let encoded = body.prefix(maximumErrorData).withUnsafeBytes { Base64.encode($0) }
                builder.set(trusted: AttributeName.knativeerrordata, value: encoded, kind: .string)
            }
        }
    }
}
