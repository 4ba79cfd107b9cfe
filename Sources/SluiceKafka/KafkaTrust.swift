/// What Kafka clients that connect over TLS trust beyond their auth Secret's `ca.crt`: the
/// process's trust bundle (`--trust-bundle-dir`) and, since librdkafka stops loading the
/// system's roots once it is given any authority, the system's roots file.
public struct KafkaTrust: Sendable, Equatable {
    /// PEM certificates (empty: nothing beyond what each client is configured with).
    public var bundle: String
    /// The system's root certificates file, loaded as `ssl.ca.location` beside the bundle.
    public var systemRootsFile: String?

    public init(bundle: String = "", systemRootsFile: String? = nil) {
        self.bundle = bundle
        self.systemRootsFile = systemRootsFile
    }

    /// `properties` with the bundle added to `ssl.ca.pem` when they connect over TLS
    /// (`security.protocol` ssl or sasl_ssl); other properties are returned as they are.
    public func applied(to properties: KafkaProperties) -> KafkaProperties {
        guard !bundle.isEmpty, properties["security.protocol"]?.lowercased().hasSuffix("ssl") == true else { return properties }
        var trusted = properties
        trusted["ssl.ca.pem"] = [properties["ssl.ca.pem"], bundle].compactMap { $0 }.joined(separator: "\n")
        if trusted["ssl.ca.location"] == nil, let systemRootsFile { trusted["ssl.ca.location"] = systemRootsFile }
        return trusted
    }
}
