import SluiceCloudEvents

/// PingSource (`sources.knative.dev/v1`). The schedule and the time zone are checked where
/// they are served (`PingSources.check`), at their lines.
extension ResourceDecoder {
    static func pingSource(_ document: YAMLNode) -> PingSourceManifest? {
        guard let (meta, context, spec) = withSpec(document, kind: "PingSource") else { return nil }
        let diagnostics = document.diagnostics
        let schedule = spec.string("schedule", context: context).flatMap { $0.isEmpty ? nil : $0 } ?? "* * * * *"
        let timezone = spec.string("timezone", context: context).flatMap { $0.isEmpty ? nil : $0 }
        let text = spec.string("data", context: context).flatMap { $0.isEmpty ? nil : $0 }
        let encoded = spec.string("dataBase64", context: context).flatMap { $0.isEmpty ? nil : $0 }
        var data = text.map { Array($0.utf8) }
        if let encoded {
            if text != nil {
                diagnostics.error(spec["dataBase64"]?.location ?? spec.location, "\(context): data and dataBase64 are mutually exclusive")
            } else if let decoded = Base64.decode(encoded.filter { !$0.isWhitespace }) {
                data = Array(decoded)
            } else {
                diagnostics.error(spec["dataBase64"]?.location ?? spec.location, "\(context): dataBase64 is not base64")
            }
        }
        var overrides: [(name: String, value: String)] = []
        if let ce = spec.mapping("ceOverrides", context: context) {
            for entry in ce.stringMap("extensions", context: "\(context) ceOverrides") ?? [] {
                if !isAttributeKey(entry.key) {
                    diagnostics.error(entry.location, "\(context): ceOverrides extension \"\(entry.key)\" must match ^[a-z][a-z0-9]*$")
                } else if ["id", "source", "type", "specversion", "data", "time"].contains(entry.key) {
                    diagnostics.error(entry.location, "\(context): ceOverrides cannot set \(entry.key)")
                }
                overrides.append((entry.key, entry.value))
            }
        }
        guard let sinkNode = spec.mapping("sink", context: context) else {
            diagnostics.error(spec.location, "\(context): missing sink")
            return nil
        }
        guard let sink = destination(sinkNode, context: "\(context) sink") else { return nil }
        return PingSourceManifest(meta: meta, schedule: schedule, scheduleLocation: spec["schedule"]?.location ?? spec.location,
                                  timezone: timezone, timezoneLocation: spec["timezone"]?.location ?? spec.location,
                                  contentType: spec.string("contentType", context: context).flatMap { $0.isEmpty ? nil : $0 },
                                  data: data, sink: sink, ceOverrides: overrides)
    }
}
