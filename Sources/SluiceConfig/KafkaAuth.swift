/// Knative's Kafka auth settings (the Secret of a KafkaSink or Kafka broker, and a
/// KafkaSource's `net`) as Kafka client properties: `security.protocol`, `sasl.*`, `ssl.*.pem`.
public enum KafkaAuthSecret {
    static let protocols = ["PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"]
    static let mechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

    /// What is wrong with a Secret in Knative's format (`protocol`, `sasl.mechanism`, `user`,
    /// `password`, `ca.crt`, `user.crt`, `user.key`, `user.skip`).
    static func problems(_ data: [String: [UInt8]]) -> [String] {
        let text = { (key: String) in data[key].map { String(decoding: $0, as: UTF8.self) } }
        guard let proto = text("protocol") else { return ["has no key \"protocol\" (PLAINTEXT, SASL_PLAINTEXT, SSL or SASL_SSL)"] }
        guard protocols.contains(proto) else { return ["protocol \"\(proto)\" is not PLAINTEXT, SASL_PLAINTEXT, SSL or SASL_SSL"] }
        var problems: [String] = []
        if proto.hasPrefix("SASL") {
            let mechanism = text("sasl.mechanism") ?? "PLAIN"
            if !mechanisms.contains(mechanism) { problems.append("sasl.mechanism \"\(mechanism)\" is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512") }
            for key in ["user", "password"] where data[key] == nil { problems.append("has no key \"\(key)\" (needed for \(proto))") }
        }
        if proto.hasSuffix("SSL") && text("user.skip") != "true" && (data["user.crt"] == nil) != (data["user.key"] == nil) {
            problems.append("needs both user.crt and user.key for TLS client authentication (or user.skip: \"true\")")
        }
        return problems
    }

    /// The client properties of a Secret in Knative's format (already checked by `problems`).
    public static func properties(_ data: [String: [UInt8]]) -> [(key: String, value: String)] {
        let text = { (key: String) in data[key].map { String(decoding: $0, as: UTF8.self) } }
        guard let proto = text("protocol") else { return [] }
        var properties: [(key: String, value: String)] = [("security.protocol", proto.lowercased())]
        if proto.hasPrefix("SASL") {
            properties.append(("sasl.mechanisms", text("sasl.mechanism") ?? "PLAIN"))
            if let user = text("user") { properties.append(("sasl.username", user)) }
            if let password = text("password") { properties.append(("sasl.password", password)) }
        }
        if proto.hasSuffix("SSL") {
            if let ca = text("ca.crt") { properties.append(("ssl.ca.pem", ca)) }
            if text("user.skip") != "true", let cert = text("user.crt"), let key = text("user.key") {
                properties.append(("ssl.certificate.pem", cert))
                properties.append(("ssl.key.pem", key))
            }
        }
        return properties
    }

    /// A KafkaSource's `net`, its values read from the manifests' Secrets (checked at load).
    public static func properties(_ net: KafkaNetSpec, namespace: String, in manifests: ManifestSet) -> [(key: String, value: String)] {
        func value(_ reference: SecretKeyReference?) -> String? {
            guard let reference, let bytes = manifests.secret(namespace: namespace, name: reference.name)?.data[reference.key] else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }
        let proto = switch (net.saslEnabled, net.tlsEnabled) {
        case (true, true): "sasl_ssl"
        case (true, false): "sasl_plaintext"
        case (false, true): "ssl"
        case (false, false): "plaintext"
        }
        var properties: [(key: String, value: String)] = [("security.protocol", proto)]
        if net.saslEnabled {
            properties.append(("sasl.mechanisms", value(net.saslType) ?? "PLAIN"))
            if let user = value(net.saslUser) { properties.append(("sasl.username", user)) }
            if let password = value(net.saslPassword) { properties.append(("sasl.password", password)) }
        }
        if net.tlsEnabled {
            if let ca = value(net.tlsCACert) { properties.append(("ssl.ca.pem", ca)) }
            if let cert = value(net.tlsCert), let key = value(net.tlsKey) {
                properties.append(("ssl.certificate.pem", cert))
                properties.append(("ssl.key.pem", key))
            }
        }
        return properties
    }
}
