/// The duck types every kind shares: destinations, references, delivery specs.
extension ResourceDecoder {
    static func destination(_ node: YAMLNode, context: String) -> Destination? {
        let diagnostics = node.diagnostics
        let ref = node.mapping("ref", context: context).flatMap { reference($0, context: "\(context) ref") }
        let uri = node.string("uri", context: context)
        if ref == nil && uri == nil {
            diagnostics.error(node.location, "\(context): needs a ref or a uri")
            return nil
        }
        if let uri {
            let isAbsolute = uri.hasPrefix("http://") || uri.hasPrefix("https://")
            if !isAbsolute && ref == nil {
                diagnostics.error(node["uri"]?.location ?? node.location, "\(context): uri \"\(uri)\" must be absolute (http://...) without a ref")
            } else if isAbsolute && ref != nil {
                diagnostics.error(node["uri"]?.location ?? node.location, "\(context): with a ref, uri must be relative")
            } else if uri.contains(where: { $0 == " " || $0 == "\n" }) {
                diagnostics.error(node["uri"]?.location ?? node.location, "\(context): uri \"\(uri)\" is not a valid URL")
            }
        }
        let caCerts = node.string("CACerts", context: context)
        if let caCerts, !caCerts.contains("-----BEGIN CERTIFICATE-----") {
            diagnostics.error(node["CACerts"]?.location ?? node.location, "\(context): CACerts must hold PEM certificates (-----BEGIN CERTIFICATE-----)")
        }
        let audience = node.string("audience", context: context)
        if let audience, audience.isEmpty || audience.split(separator: "/").contains("..") {
            diagnostics.error(node["audience"]?.location ?? node.location, "\(context): audience \"\(audience)\" cannot name a token file")
        }
        return Destination(ref: ref, uri: uri, location: node.location, caCerts: caCerts, audience: audience)
    }

    static func reference(_ node: YAMLNode, context: String) -> KReference? {
        guard let kind = node.string("kind", required: true, context: context),
              let name = node.string("name", required: true, context: context) else { return nil }
        return KReference(apiVersion: node.string("apiVersion", context: context), kind: kind, name: name,
                          namespace: node.string("namespace", context: context))
    }

    static func deliverySpec(_ node: YAMLNode, context: String) -> DeliverySpec {
        let diagnostics = node.diagnostics
        let context = "\(context) delivery"
        var spec = DeliverySpec(location: node.location)
        if let dls = node.mapping("deadLetterSink", context: context) {
            spec.deadLetterSink = destination(dls, context: "\(context) deadLetterSink")
        }
        if let retry = node.int("retry", context: context) {
            if retry < 0 || retry > 10_000 {
                diagnostics.error(node["retry"]?.location ?? node.location, "\(context): retry must be between 0 and 10000")
            }
            spec.retry = retry
        }
        if let policy = node.string("backoffPolicy", context: context) {
            if let parsed = BackoffPolicy(rawValue: policy) {
                spec.backoffPolicy = parsed
            } else {
                diagnostics.error(node["backoffPolicy"]?.location ?? node.location, "\(context): backoffPolicy must be linear or exponential, not \"\(policy)\"")
            }
        }
        spec.backoffDelay = duration(node, "backoffDelay", context: context, allowZero: true)
        spec.timeout = duration(node, "timeout", context: context, allowZero: false)
        spec.retryAfterMax = duration(node, "retryAfterMax", context: context, allowZero: true)
        if let format = node.string("format", context: context) {
            if let parsed = DeliveryFormat(rawValue: format) {
                spec.format = parsed
            } else {
                diagnostics.error(node["format"]?.location ?? node.location, "\(context): format must be json or binary, not \"\(format)\"")
            }
        }
        return spec
    }

    private static func duration(_ node: YAMLNode, _ key: String, context: String, allowZero: Bool) -> Duration? {
        guard let text = node.string(key, context: context) else { return nil }
        let location = node[key]?.location ?? node.location
        guard let value = ISO8601Duration.parse(text) else {
            node.diagnostics.error(location, "\(context): \(key) \"\(text)\" is not an ISO-8601 duration (e.g. PT0.5S)")
            return nil
        }
        if value < .zero || (!allowZero && value == .zero) {
            node.diagnostics.error(location, "\(context): \(key) must be \(allowZero ? "zero or more" : "more than zero")")
            return nil
        }
        return value
    }
}
