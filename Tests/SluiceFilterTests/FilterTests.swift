import SluiceCloudEvents
import SluiceConfig
import SluiceFilter
import Testing

// MARK: Helpers

/// An event with id "1" and `attributes`; `source` and `type` default when not given.
private func makeEvent(_ attributes: [(String, String)] = [], version: SpecVersion = .v1_0) throws -> CloudEvent {
    var builder = CloudEventBuilder()
    builder.specVersion = version
    try builder.add(name: "id", value: "1")
    if !attributes.contains(where: { $0.0 == "source" }) { try builder.add(name: "source", value: "/src/a") }
    if !attributes.contains(where: { $0.0 == "type" }) { try builder.add(name: "type", value: "com.example.created") }
    for (name, value) in attributes { try builder.add(name: name, value: value) }
    return builder.build(data: nil as [UInt8]?)
}

private func matches(_ filter: Filter, _ event: CloudEvent) -> Bool {
    event.withView { filter.matches($0) }
}

/// The trigger a manifest declares, with `spec` (two-space indented) after `broker: default`.
private func loadTrigger(_ spec: String) throws -> TriggerManifest {
    let yaml = """
        apiVersion: eventing.knative.dev/v1
        kind: Broker
        metadata:
          name: default
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata:
          name: t
        spec:
          broker: default
          subscriber:
            uri: http://sub.example/

        """ + spec
    let set = try ManifestLoader.load(files: [(name: "t.yaml", contents: yaml)])
    return try #require(set.triggers.first)
}

/// A trigger spec, an event and whether the event passes.
struct FilterCase: Sendable, CustomTestStringConvertible {
    let name: String
    let spec: String
    let attributes: [(String, String)]
    let version: SpecVersion
    let expected: Bool

    init(_ name: String, _ spec: String, _ attributes: [(String, String)], version: SpecVersion = .v1_0, _ expected: Bool) {
        self.name = name
        self.spec = spec
        self.attributes = attributes
        self.version = version
        self.expected = expected
    }

    init(_ name: String, _ spec: String, version: SpecVersion = .v1_0, _ expected: Bool) {
        self.init(name, spec, [], version: version, expected)
    }

    var testDescription: String { name }
}

private func attributes(_ pairs: String) -> String {
    "  filter:\n    attributes:\n" + pairs.split(separator: ";").map { "      \($0)\n" }.joined()
}

private func filters(_ body: String) -> String { "  filters:\n" + body }

// MARK: Knative semantics, through manifests

private let attributeCases: [FilterCase] = [
    FilterCase("no filter matches everything", "", true),
    FilterCase("empty attributes map matches everything", "  filter:\n    attributes: {}\n", true),
    FilterCase("exact type", attributes("type: com.example.created"), true),
    FilterCase("exact type, other value", attributes("type: com.example.deleted"), false),
    FilterCase("exact is case-sensitive", attributes("type: COM.EXAMPLE.CREATED"), false),
    FilterCase("exact is not a prefix match", attributes("type: com.example"), false),
    FilterCase("two keys, both match", attributes("type: com.example.created;source: /src/a"), true),
    FilterCase("two keys, one differs", attributes("type: com.example.created;source: /src/b"), false),
    FilterCase("empty value: type is always present", attributes("type: \"\""), true),
    FilterCase("empty value: absent subject fails", attributes("subject: \"\""), false),
    FilterCase("empty value: present subject passes", attributes("subject: \"\""), [("subject", "s1")], true),
    FilterCase("empty value: absent extension fails", attributes("myext: \"\""), false),
    FilterCase("empty value: extension with any value", attributes("myext: \"\""), [("myext", "anything")], true),
    FilterCase("empty value: extension set to empty fails", attributes("myext: \"\""), [("myext", "")], false),
    FilterCase("every key must exist", attributes("type: com.example.created;myext: v"), false),
    FilterCase("extension exact", attributes("myext: v"), [("myext", "v")], true),
    FilterCase("extension names are exact", attributes("myext: v"), [("myext2", "v")], false),
    FilterCase("specversion 1.0", attributes("specversion: \"1.0\""), true),
    FilterCase("specversion 1.0 vs a 0.3 event", attributes("specversion: \"1.0\""), version: .v0_3, false),
    FilterCase("specversion 0.3", attributes("specversion: \"0.3\""), version: .v0_3, true),
    FilterCase("specversion present", attributes("specversion: \"\""), version: .v0_3, true),
]

private let dialectCases: [FilterCase] = [
    FilterCase("filters: [] falls back to attributes (fail)", "  filters: []\n" + attributes("type: other"), false),
    FilterCase("filters: [] falls back to attributes (pass)", "  filters: []\n" + attributes("type: com.example.created"), true),
    FilterCase("filters override attributes (pass)", filters("    - exact: {source: /src/a}\n") + attributes("type: other"), true),
    FilterCase("filters override attributes (fail)", filters("    - exact: {source: /src/b}\n") + attributes("type: com.example.created"), false),
    FilterCase("exact", filters("    - exact: {type: com.example.created}\n"), true),
    FilterCase("exact, keys ANDed", filters("    - exact: {type: com.example.created, source: /src/b}\n"), false),
    FilterCase("exact on a missing attribute", filters("    - exact: {subject: x}\n"), false),
    FilterCase("exact on specversion", filters("    - exact: {specversion: \"0.3\"}\n"), version: .v0_3, true),
    FilterCase("prefix", filters("    - prefix: {type: com.example.}\n"), true),
    FilterCase("prefix equal to the whole value", filters("    - prefix: {type: com.example.created}\n"), true),
    FilterCase("prefix longer than the value", filters("    - prefix: {type: com.example.created.v2}\n"), false),
    FilterCase("prefix is case-sensitive", filters("    - prefix: {type: Com.}\n"), false),
    FilterCase("prefix on a missing attribute", filters("    - prefix: {myext: a}\n"), false),
    FilterCase("prefix on an extension", filters("    - prefix: {myext: ab}\n"), [("myext", "abc")], true),
    FilterCase("suffix", filters("    - suffix: {type: .created}\n"), true),
    FilterCase("suffix, other ending", filters("    - suffix: {type: .deleted}\n"), false),
    FilterCase("suffix longer than the value", filters("    - suffix: {source: x/src/a}\n"), false),
    FilterCase("suffix on a missing attribute", filters("    - suffix: {subject: a}\n"), false),
    FilterCase("suffix on specversion", filters("    - suffix: {specversion: \".0\"}\n"), true),
    FilterCase("top-level entries are ANDed (pass)", filters("    - prefix: {type: com.}\n    - suffix: {source: /a}\n"), true),
    FilterCase("top-level entries are ANDed (fail)", filters("    - prefix: {type: com.}\n    - suffix: {source: /b}\n"), false),
    FilterCase("all passes", filters("    - all:\n        - exact: {type: com.example.created}\n        - prefix: {source: /src}\n"), true),
    FilterCase("all fails on one child", filters("    - all:\n        - exact: {type: com.example.created}\n        - prefix: {source: /other}\n"), false),
    FilterCase("any passes on one child", filters("    - any:\n        - exact: {type: nope}\n        - suffix: {source: /a}\n"), true),
    FilterCase("any fails when none pass", filters("    - any:\n        - exact: {type: nope}\n        - exact: {subject: x}\n"), false),
    FilterCase("not inverts a pass", filters("    - not:\n        exact: {type: com.example.created}\n"), false),
    FilterCase("not inverts a fail", filters("    - not:\n        exact: {type: nope}\n"), true),
    FilterCase("not of a missing attribute passes", filters("    - not:\n        exact: {myext: v}\n"), true),
    FilterCase("not not", filters("    - not:\n        not:\n          prefix: {type: com.}\n"), true),
    FilterCase("nested all/any/not (pass)", filters("""
            - all:
                - any:
                    - exact: {type: a}
                    - prefix: {type: com.example}
                - not:
                    any:
                      - exact: {myext: blocked}
                      - suffix: {source: /z}

        """), [("myext", "ok")], true),
    FilterCase("nested all/any/not (fail)", filters("""
            - all:
                - any:
                    - exact: {type: a}
                    - prefix: {type: com.example}
                - not:
                    any:
                      - exact: {myext: blocked}
                      - suffix: {source: /z}

        """), [("myext", "blocked")], false),
]

@Suite("Filter: Knative semantics")
struct FilterSemanticsTests {
    @Test(arguments: attributeCases + dialectCases)
    func compiledFilter(_ test: FilterCase) throws {
        let trigger = try loadTrigger(test.spec)
        let filter = try FilterCompiler.compile(trigger)
        let event = try makeEvent(test.attributes, version: test.version)
        #expect(matches(filter, event) == test.expected)
    }

    @Test func cesqlThatDoesNotParseIsRefusedAtCompileTime() throws {
        let trigger = try loadTrigger(filters("    - exact: {type: a}\n    - cesql: \"type = 'a' AND\"\n"))
        do {
            _ = try FilterCompiler.compile(trigger)
            Issue.record("a cesql filter that does not parse compiled")
        } catch {
            #expect(error.message == "cesql: unexpected end of expression at column 15", "\(error.message)")
            #expect(error.location == SourceLocation(file: "t.yaml", line: 16))
        }
        #expect(throws: Never.self) { try FilterCompiler.compile(try loadTrigger(filters("    - cesql: \"type = 'a'\"\n"))) }
    }

    @Test func cesqlNestedInsideNotIsCompiledToo() throws {
        #expect(throws: FilterCompiler.Problem.self) {
            try FilterCompiler.compile(.not(.any([.exact([("type", "a")]), .cesql(expression: "x LIKE 123", location: SourceLocation(file: "f", line: 3))])))
        }
        let filter = try FilterCompiler.compile(.not(.any([.exact([("type", "a")]), .cesql(expression: "source = '/s'", location: SourceLocation(file: "f", line: 3))])))
        #expect(matches(filter, try makeEvent([("type", "b"), ("source", "/t")], version: .v1_0)))
        #expect(!matches(filter, try makeEvent([("type", "b"), ("source", "/s")], version: .v1_0)))
    }

    @Test func compilesSpecsToTheExpectedShape() throws {
        let single = try FilterCompiler.compile(.exact([("type", "a")]))
        guard case .exact(let reference, let value) = single else { Issue.record("\(single)"); return }
        #expect(reference.description == "type")
        #expect(value == Array("a".utf8))
        let pair = try FilterCompiler.compile(.prefix([("type", "a"), ("source", "b")]))
        guard case .all(let children) = pair else { Issue.record("\(pair)"); return }
        #expect(children.count == 2)
    }

    @Test(arguments: [
        (Filter.always, true),
        (.all([]), true),
        (.any([]), true),
        (.not(.always), false),
        (.present(AttributeReference("id")), true),
        (.present(AttributeReference("dataschema")), false),
        (.exact(AttributeReference("id"), Array("1".utf8)), true),
        (.prefix(AttributeReference("source"), []), true),
        (.suffix(AttributeReference("source"), Array("/src/a".utf8)), true),
        (.any([.exact(AttributeReference("type"), Array("x".utf8)), .always]), true),
    ])
    func filterCasesDirectly(_ filter: Filter, _ expected: Bool) throws {
        #expect(matches(filter, try makeEvent()) == expected)
    }
}

// MARK: TriggerIndex

/// SplitMix64: a small seeded generator so the random cases are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private let types = ["com.a.created", "com.a.deleted", "com.b.created", "org.c.updated", "x"]
private let sources = ["/s/1", "/s/2", "/other/3", "urn:x"]
private let colors: [String?] = [nil, "red", "blue", ""]

private func exact(_ name: String, _ value: String) -> Filter { .exact(AttributeReference(name), Array(value.utf8)) }

private func randomLeaf(_ rng: inout SeededGenerator) -> Filter {
    switch rng.next() % 10 {
    case 0, 1: return exact("type", (types + ["never"]).randomElement(using: &rng)!)
    case 2: return exact("source", (sources + ["/nowhere"]).randomElement(using: &rng)!)
    case 3: return .prefix(AttributeReference(["type", "source"].randomElement(using: &rng)!), Array(["com.", "com.a", "/s", "org", "u"].randomElement(using: &rng)!.utf8))
    case 4: return .suffix(AttributeReference(["type", "source"].randomElement(using: &rng)!), Array([".created", "/1", "3", "x"].randomElement(using: &rng)!.utf8))
    case 5: return .present(AttributeReference(["color", "subject", "type"].randomElement(using: &rng)!))
    case 6: return exact("color", ["red", "blue"].randomElement(using: &rng)!)
    case 7: return exact("specversion", ["1.0", "0.3"].randomElement(using: &rng)!)
    case 8: return .always
    default: return exact("subject", "s")
    }
}

private func randomFilter(_ rng: inout SeededGenerator, depth: Int) -> Filter {
    if depth == 0 || rng.next() % 3 == 0 { return randomLeaf(&rng) }
    let count = 1 + Int(rng.next() % 3)
    var children = (0..<count).map { _ in randomFilter(&rng, depth: depth - 1) }
    switch rng.next() % 4 {
    case 0:
        return .any(children)
    case 1:
        return .not(children[0])
    default:
        // An `all` holding an exact type or source at any position: the shapes the index files.
        if rng.next() % 2 == 0 {
            let key = rng.next() % 2 == 0 ? exact("type", types.randomElement(using: &rng)!) : exact("source", sources.randomElement(using: &rng)!)
            children.insert(key, at: Int(rng.next() % UInt64(children.count + 1)))
        }
        return .all(children)
    }
}

private func randomEvent(_ rng: inout SeededGenerator) throws -> CloudEvent {
    var attributes: [(String, String)] = [("type", (types + ["unlisted"]).randomElement(using: &rng)!),
                                          ("source", sources.randomElement(using: &rng)!)]
    if let color = colors.randomElement(using: &rng)! { attributes.append(("color", color)) }
    if rng.next() % 3 == 0 { attributes.append(("subject", "s")) }
    return try makeEvent(attributes, version: rng.next() % 4 == 0 ? .v0_3 : .v1_0)
}

/// Whether the index can file `filter` under a type or source (an exact type or source, alone
/// or inside a top-level `all`), so the random cases exercise both paths.
private func indexableShape(_ filter: Filter) -> Bool {
    func isKey(_ filter: Filter) -> Bool {
        if case .exact(let reference, _) = filter { return ["type", "source"].contains(reference.description) }
        return false
    }
    if case .all(let children) = filter { return children.contains(where: isKey) }
    return isKey(filter)
}

private func indexed(_ index: TriggerIndex, _ event: CloudEvent) -> [Int] {
    var matched: [Int] = []
    event.withView { index.match($0, into: &matched) }
    return matched
}

private func bruteForce(_ filters: [Filter], _ event: CloudEvent) -> [Int] {
    event.withView { view in filters.indices.filter { filters[$0].matches(view) } }
}

@Suite("TriggerIndex")
struct TriggerIndexTests {
    @Test(arguments: [UInt64(1), 2, 3, 42, 2024])
    func agreesWithEvaluatingEveryFilter(seed: UInt64) throws {
        var rng = SeededGenerator(state: seed)
        var filters = (0..<150).map { _ in randomFilter(&rng, depth: 3) }
        filters += filters.prefix(10)  // the same filters again under other trigger numbers
        let index = TriggerIndex(filters: filters)
        #expect(index.triggerCount == filters.count)
        let filed = filters.filter(indexableShape).count
        #expect(filed >= 30 && filed <= filters.count - 30, "\(filed) of \(filters.count) indexable")
        var mismatches: [String] = []
        var matchedTotal = 0
        for _ in 0..<1500 {
            let event = try randomEvent(&rng)
            let expected = bruteForce(filters, event)
            let got = indexed(index, event)
            if got != expected { mismatches.append("\(event.attributes): index \(got), every filter \(expected)") }
            matchedTotal += expected.count
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(3))")
        #expect(matchedTotal > 1500, "the random filters should match something")
    }

    /// Every combination of type × source × color, against filters indexed every way.
    @Test func exhaustiveGrid() throws {
        var filters: [Filter] = [.always]
        for type in types { filters.append(exact("type", type)) }
        for source in sources { filters.append(exact("source", source)) }
        for type in types.prefix(3) {
            for source in sources.prefix(3) {
                filters.append(.all([exact("source", source), exact("type", type)]))
                filters.append(.all([exact("color", "red"), exact("type", type), exact("source", source)]))
            }
        }
        filters.append(.all([exact("type", "com.a.created"), exact("type", "com.a.deleted")]))  // never
        filters.append(.all([exact("source", "/s/1"), .present(AttributeReference("color"))]))
        filters.append(.not(exact("type", "x")))
        filters.append(.any([exact("type", "x"), exact("source", "urn:x")]))
        let index = TriggerIndex(filters: filters)
        for type in types + ["unlisted"] {
            for source in sources + ["/unlisted"] {
                for color in colors {
                    var attributes = [("type", type), ("source", source)]
                    if let color { attributes.append(("color", color)) }
                    let event = try makeEvent(attributes)
                    #expect(indexed(index, event) == bruteForce(filters, event), "\(attributes)")
                }
            }
        }
    }

    @Test func identicalFiltersBothMatchInIncreasingOrder() throws {
        let filters: [Filter] = [exact("type", "t"), .always, exact("source", "/s"), exact("type", "t"), .always, exact("source", "/s"),
                                 .all([exact("source", "/s"), exact("type", "t")]), exact("type", "u")]
        let index = TriggerIndex(filters: filters)
        #expect(indexed(index, try makeEvent([("type", "t"), ("source", "/s")])) == [0, 1, 2, 3, 4, 5, 6])
        #expect(indexed(index, try makeEvent([("type", "u"), ("source", "/s")])) == [1, 2, 4, 5, 7])
        #expect(indexed(index, try makeEvent([("type", "v"), ("source", "/q")])) == [1, 4])
    }

    @Test func appendsAfterWhatIsAlreadyThere() throws {
        let index = TriggerIndex(filters: [.always, exact("type", "t"), .always])
        var matched = [99, 7]
        try makeEvent([("type", "t")]).withView { index.match($0, into: &matched) }
        #expect(matched == [99, 7, 0, 1, 2])
    }

    @Test func manyDistinctTypes() throws {
        let filters = (0..<500).map { exact("type", "type.\($0)") } + (0..<100).map { exact("source", "/source/\($0)") }
        let index = TriggerIndex(filters: filters)
        for probe in [0, 1, 17, 250, 499] {
            #expect(indexed(index, try makeEvent([("type", "type.\(probe)"), ("source", "/source/\(probe % 100)")])) == [probe, 500 + probe % 100])
        }
        #expect(indexed(index, try makeEvent([("type", "type.500")])).isEmpty)
    }

    @Test func emptyIndex() throws {
        let index = TriggerIndex(filters: [])
        #expect(index.triggerCount == 0)
        #expect(indexed(index, try makeEvent()).isEmpty)
    }
}
