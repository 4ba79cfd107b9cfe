import SluiceCloudEvents
import SluiceConfig

/// Compiles a trigger's manifest filters into a `Filter`.
public enum FilterCompiler {
    /// The problem a filter spec has that only compiling finds (a CESQL expression that does
    /// not parse), with where it was written.
    public struct Problem: Error, Sendable {
        public let location: SourceLocation
        public let message: String
    }

    /// `filters` (when non-empty) replaces `filter.attributes`; entries are ANDed.
    public static func compile(_ trigger: TriggerManifest) throws(Problem) -> Filter {
        if !trigger.filters.isEmpty {
            var compiled: [Filter] = []
            for spec in trigger.filters { compiled.append(try compile(spec)) }
            return compiled.count == 1 ? compiled[0] : .all(compiled)
        }
        let conditions: [Filter] = trigger.attributesFilter.map { pair in
            pair.value.isEmpty ? .present(AttributeReference(pair.name)) : .exact(AttributeReference(pair.name), Array(pair.value.utf8))
        }
        switch conditions.count {
        case 0: return .always
        case 1: return conditions[0]
        default: return .all(conditions)
        }
    }

    public static func compile(_ spec: FilterSpec) throws(Problem) -> Filter {
        switch spec {
        case .exact(let pairs):
            return conjunction(pairs.map { .exact(AttributeReference($0.name), Array($0.value.utf8)) })
        case .prefix(let pairs):
            return conjunction(pairs.map { .prefix(AttributeReference($0.name), Array($0.value.utf8)) })
        case .suffix(let pairs):
            return conjunction(pairs.map { .suffix(AttributeReference($0.name), Array($0.value.utf8)) })
        case .all(let specs):
            var children: [Filter] = []
            for child in specs { children.append(try compile(child)) }
            return .all(children)
        case .any(let specs):
            var children: [Filter] = []
            for child in specs { children.append(try compile(child)) }
            return .any(children)
        case .not(let child):
            return .not(try compile(child))
        case .cesql(let expression, let location):
            return try compileCESQL(expression, location: location)
        }
    }

    private static func conjunction(_ filters: [Filter]) -> Filter {
        filters.count == 1 ? filters[0] : .all(filters)
    }
}
