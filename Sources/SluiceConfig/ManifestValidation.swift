/// Checks that need the whole set: duplicate objects and references between objects.
enum ManifestValidation {
    static func checkReferences(_ set: ManifestSet, _ diagnostics: Diagnostics) {
        var seen: [String: SourceLocation] = [:]
        func checkUnique(_ kind: String, _ meta: ObjectMeta) {
            let key = "\(kind) \(meta.namespace)/\(meta.name)"
            if let first = seen[key] {
                diagnostics.error(meta.location, "\(key) is declared twice (first at \(first))")
            } else {
                seen[key] = meta.location
            }
        }
        for broker in set.brokers { checkUnique("Broker", broker.meta) }
        for trigger in set.triggers { checkUnique("Trigger", trigger.meta) }
        for configMap in set.configMaps { checkUnique("ConfigMap", configMap.meta) }
        for secret in set.secrets { checkUnique("Secret", secret.meta) }

        // Knative accepts such a trigger and marks it not ready; so does Sluice: it stays
        // inactive until its broker appears (on a reload).
        for trigger in set.triggers where set.broker(namespace: trigger.meta.namespace, name: trigger.broker) == nil {
            diagnostics.warning(trigger.brokerLocation,
                                "Trigger \(trigger.meta.namespace)/\(trigger.meta.name): broker \"\(trigger.broker)\" does not exist in namespace \(trigger.meta.namespace); the trigger stays inactive until it appears")
        }
    }
}
