import SluiceCloudEvents

/// Matches an event against all of a broker's triggers, evaluating each filter once and
/// skipping most triggers without looking at them: a trigger whose filter requires an exact
/// `type` (or, failing that, an exact `source`) is filed under that value, and only the
/// triggers filed under the event's type and source, plus those with no such requirement,
/// are evaluated. The cost per event grows with the number of candidate triggers, not with
/// the number of triggers.
public struct TriggerIndex: Sendable {
    private struct Entry: Sendable {
        let trigger: Int
        /// The filter left after the indexed condition.
        let remainder: Filter
    }

    private var byType = ByteKeyTable<[Entry]>()
    private var bySource = ByteKeyTable<[Entry]>()
    private var unindexed: [Entry] = []
    public private(set) var triggerCount = 0

    public init(filters: [Filter]) {
        var typeGroups: [[UInt8]: [Entry]] = [:]
        var sourceGroups: [[UInt8]: [Entry]] = [:]
        for (trigger, filter) in filters.enumerated() {
            if let (value, remainder) = TriggerIndex.extractExact("type", from: filter) {
                typeGroups[value, default: []].append(Entry(trigger: trigger, remainder: remainder))
            } else if let (value, remainder) = TriggerIndex.extractExact("source", from: filter) {
                sourceGroups[value, default: []].append(Entry(trigger: trigger, remainder: remainder))
            } else {
                unindexed.append(Entry(trigger: trigger, remainder: filter))
            }
        }
        byType = ByteKeyTable(minimumCapacity: typeGroups.count)
        for (key, entries) in typeGroups { byType[key] = entries }
        bySource = ByteKeyTable(minimumCapacity: sourceGroups.count)
        for (key, entries) in sourceGroups { bySource[key] = entries }
        triggerCount = filters.count
    }

    /// Appends to `matched` the indexes of the triggers `event` passes, in increasing order.
    public func match(_ event: EventView, into matched: inout [Int]) {
        let start = matched.count
        if let type = event.value(of: AttributeName.type), let entries = byType[bytes: type] {
            for entry in entries where entry.remainder.matches(event) { matched.append(entry.trigger) }
        }
        if let source = event.value(of: AttributeName.source), let entries = bySource[bytes: source] {
            for entry in entries where entry.remainder.matches(event) { matched.append(entry.trigger) }
        }
        for entry in unindexed where entry.remainder.matches(event) { matched.append(entry.trigger) }
        if matched.count - start > 1 { matched[start...].sort() }
    }

    /// If `filter` requires `attribute` to equal a value, returns the value and what else the
    /// filter requires.
    static func extractExact(_ attribute: String, from filter: Filter) -> ([UInt8], Filter)? {
        let name = Array(attribute.utf8)
        switch filter {
        case .exact(let reference, let value) where reference.name == name:
            return (value, .always)
        case .all(let children):
            for (position, child) in children.enumerated() {
                if case .exact(let reference, let value) = child, reference.name == name {
                    var rest = children
                    rest.remove(at: position)
                    return (value, rest.isEmpty ? .always : (rest.count == 1 ? rest[0] : .all(rest)))
                }
            }
            return nil
        default:
            return nil
        }
    }
}
