internal import CRdKafka

/// librdkafka configuration properties (`bootstrap.servers`, `security.protocol`, ...), the
/// same keys users know from Kafka clients. Later settings replace earlier ones.
public struct KafkaProperties: Sendable {
    public private(set) var entries: [(key: String, value: String)] = []

    public init(_ entries: [(key: String, value: String)] = []) {
        for entry in entries { self[entry.key] = entry.value }
    }

    public subscript(key: String) -> String? {
        get { entries.last { $0.key == key }?.value }
        set {
            entries.removeAll { $0.key == key }
            if let newValue { entries.append((key, newValue)) }
        }
    }

    /// Adds `other`'s settings over these.
    public func merging(_ other: KafkaProperties) -> KafkaProperties {
        var merged = self
        for entry in other.entries { merged[entry.key] = entry.value }
        return merged
    }

    /// Whether librdkafka knows `key` for this kind of client and accepts `value`, and why not.
    /// (Knative's data-plane ConfigMaps hold Java client properties, some unknown here.)
    public static func problem(key: String, value: String) -> String? {
        guard let conf = rd_kafka_conf_new() else { return "out of memory" }
        defer { rd_kafka_conf_destroy(conf) }
        var text = [CChar](repeating: 0, count: 512)
        if rd_kafka_conf_set(conf, key, value, &text, text.count) == RD_KAFKA_CONF_OK { return nil }
        return cString(text)
    }

    /// A librdkafka configuration holding these properties; throws the first one it refuses.
    func makeConf() throws(KafkaError) -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else { throw KafkaError(message: "out of memory") }
        var text = [CChar](repeating: 0, count: 512)
        for entry in entries where rd_kafka_conf_set(conf, entry.key, entry.value, &text, text.count) != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(message: "\(entry.key): \(cString(text))")
        }
        return conf
    }
}
