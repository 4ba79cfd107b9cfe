import SluiceCloudEvents

/// Events into Kafka records (Kafka protocol binding 1.0): binary mode puts each attribute in
/// a `ce_<name>` header (UTF-8, no percent-encoding) and `datacontenttype` in `content-type`,
/// with the data as the value (none: a null value); structured mode writes the JSON event with
/// `content-type: application/cloudevents+json`. The key is `partitionkey` when the event has
/// one (the binding's key mapper), else none.
public enum KafkaEventEncoder {
    static let structuredContentType = Array("application/cloudevents+json".utf8)

    public static func encode(_ event: CloudEvent, mode: KafkaContentMode) -> KafkaOutgoingRecord {
        let key = event.withView { $0.value(of: KafkaBindingNames.partitionkey).map { Array($0) } }
        switch mode {
        case .structured:
            return KafkaOutgoingRecord(key: key, value: JSONFormat.encode(event),
                                       headers: [KafkaOutgoingHeader(name: "content-type", value: structuredContentType)])
        case .binary:
            var headers: [KafkaOutgoingHeader] = [KafkaOutgoingHeader(name: "ce_specversion", value: Array(event.specVersion.description.utf8))]
            event.withView { view in
                headers.reserveCapacity(view.attributeCount + 1)
                for index in 0..<view.attributeCount {
                    let name = view.name(at: index)
                    let value = Array(view.value(at: index))
                    if bytesEqual(name, AttributeName.datacontenttype) {
                        headers.append(KafkaOutgoingHeader(name: "content-type", value: value))
                    } else {
                        headers.append(KafkaOutgoingHeader(name: "ce_" + String(decoding: name, as: UTF8.self), value: value))
                    }
                }
            }
            return KafkaOutgoingRecord(key: key, value: event.data, headers: headers)
        }
    }
}

enum KafkaBindingNames {
    static let partitionkey: StaticString = "partitionkey"
    static let key: StaticString = "key"
}
