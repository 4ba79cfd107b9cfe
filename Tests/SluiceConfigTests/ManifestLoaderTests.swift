import Foundation
import SluiceConfig
import Testing

// MARK: Helpers

/// Loads one file; the test fails (and rethrows) when the manifests have problems.
private func load(_ yaml: String, file: String = "m.yaml") throws -> ManifestSet {
    try ManifestLoader.load(files: [(name: file, contents: yaml)])
}

/// The problems loading `files` reports (empty when it loads).
private func problems(_ files: [(name: String, contents: String)]) -> [ConfigProblem] {
    do { _ = try ManifestLoader.load(files: files) } catch { return error.problems }
    return []
}

private func problems(_ yaml: String, file: String = "m.yaml") -> [ConfigProblem] {
    problems([(name: file, contents: yaml)])
}

/// The 1-based line of the first line of `text` containing `marker`.
private func line(of marker: String, in text: String) -> Int {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    return (lines.firstIndex { $0.contains(marker) } ?? -1) + 1
}

private let broker = """
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    metadata:
      name: default
    ---

    """

/// A broker named `default` then a trigger `t` whose spec (after `broker:`) is `spec`, indented
/// by the caller at two spaces. The trigger's first line carries the comment `# trigger-t`.
private func triggerDocument(_ spec: String, broker brokerName: String = "default") -> String {
    broker + """
        apiVersion: eventing.knative.dev/v1  # trigger-t
        kind: Trigger
        metadata:
          name: t
        spec:
          broker: \(brokerName)  # trigger-broker

        """ + spec
}

private let subscriber = "  subscriber:\n    uri: http://sub.example/\n"

// MARK: Parsing

@Suite("ManifestLoader: parsing")
struct ManifestParsingTests {
    @Test func brokerWithDeliveryAndClass() throws {
        let set = try load("""
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata:
              name: orders
              namespace: shop
              annotations:
                eventing.knative.dev/broker.class: MTChannelBasedBroker
            spec:
              config:
                apiVersion: v1
                kind: ConfigMap
                name: config-br-default-channel
                namespace: knative-eventing
              delivery:
                retry: 5
                backoffPolicy: linear
                backoffDelay: PT0.2S
                timeout: PT1M30S
                retryAfterMax: P1D
                deadLetterSink:
                  uri: http://dls.example/dead
            """)
        let broker = try #require(set.broker(namespace: "shop", name: "orders"))
        #expect(broker.brokerClass == "MTChannelBasedBroker")
        #expect(broker.meta.location == SourceLocation(file: "m.yaml", line: 1))
        #expect(broker.config.map(describe) == "v1 ConfigMap config-br-default-channel knative-eventing")
        let delivery = try #require(broker.delivery)
        #expect(delivery.retry == 5)
        #expect(delivery.backoffPolicy == .linear)
        #expect(delivery.backoffDelay == .milliseconds(200))
        #expect(delivery.timeout == .seconds(90))
        #expect(delivery.retryAfterMax == .seconds(86_400))
        #expect(delivery.deadLetterSink?.uri == "http://dls.example/dead")
        #expect(delivery.deadLetterSink?.ref == nil)
        #expect(delivery.location.line == 15)
        #expect(set.warnings.isEmpty)
    }

    @Test func triggerFiltersAllDialects() throws {
        let yaml = triggerDocument("""
              filter:
                attributes:
                  type: com.example.created
                  source: ""
                  myext1: v
              filters:
                - exact: {type: com.example.created, source: /a}
                - prefix: {type: com.}
                - suffix: {source: /a}
                - all:
                    - exact: {subject: x}
                    - any:
                        - prefix: {type: org.}
                        - not: {suffix: {type: .deleted}}
                - cesql: "type = 'x' AND source LIKE '/a%'"

            """ + subscriber)
        let set = try load(yaml)
        let trigger = try #require(set.triggers.first)
        #expect(trigger.broker == "default")
        #expect(trigger.meta.location.line == line(of: "# trigger-t", in: yaml))
        #expect(trigger.attributesFilter.map(\.name) == ["type", "source", "myext1"])
        #expect(trigger.attributesFilter.map(\.value) == ["com.example.created", "", "v"])
        #expect(trigger.filters.count == 5)
        #expect(describe(trigger.filters) ==
            "exact(type=com.example.created,source=/a) prefix(type=com.) suffix(source=/a) "
            + "all(exact(subject=x),any(prefix(type=org.),not(suffix(type=.deleted)))) "
            + "cesql(type = 'x' AND source LIKE '/a%')")
        if case .cesql(_, let location) = trigger.filters[4] {
            #expect(location.line == line(of: "cesql:", in: yaml))
        } else {
            Issue.record("the fifth filter is not cesql")
        }
    }

    @Test func emptyFiltersListKeepsAttributes() throws {
        let set = try load(triggerDocument("  filters: []\n  filter:\n    attributes:\n      type: a\n" + subscriber))
        let trigger = try #require(set.triggers.first)
        #expect(trigger.filters.isEmpty)
        #expect(trigger.attributesFilter.count == 1)
    }

    struct DestinationCase: Sendable, CustomTestStringConvertible {
        let yaml: String
        let uri: String?
        let ref: String?
        var testDescription: String { yaml.replacingOccurrences(of: "\n", with: " ") }
    }

    @Test(arguments: [
        DestinationCase(yaml: "    uri: http://display.example:8080/events\n", uri: "http://display.example:8080/events", ref: nil),
        DestinationCase(yaml: "    ref:\n      apiVersion: serving.knative.dev/v1\n      kind: Service\n      name: display\n",
                        uri: nil, ref: "serving.knative.dev/v1 Service display -"),
        DestinationCase(yaml: "    ref:\n      kind: Service\n      name: display\n      namespace: other\n    uri: /extra/path\n",
                        uri: "/extra/path", ref: "- Service display other"),
    ])
    func subscriberDestinations(_ test: DestinationCase) throws {
        let set = try load(triggerDocument("  subscriber:\n" + test.yaml))
        let subscriber = try #require(set.triggers.first?.subscriber)
        #expect(subscriber.uri == test.uri)
        #expect(subscriber.ref.map(describe) == test.ref)
    }

    @Test func brokerDefaultsConfigMap() throws {
        let set = try load("""
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: config-br-defaults
              namespace: knative-eventing
            data:
              default-br-config: |
                clusterDefault:
                  brokerClass: MTChannelBasedBroker
                  delivery:
                    retry: 10
                    backoffPolicy: exponential
                    backoffDelay: PT0.2S
                namespaceDefaults:
                  team-a:
                    delivery:
                      retry: 3
                      backoffPolicy: linear
                      backoffDelay: PT2S
            """)
        #expect(set.configMaps.map(\.meta.name) == ["config-br-defaults"])
        let cluster = try #require(set.brokerDefaults.clusterDefault)
        #expect(cluster.retry == 10)
        #expect(cluster.backoffPolicy == .exponential)
        #expect(cluster.backoffDelay == .milliseconds(200))
        let teamA = try #require(set.brokerDefaults.delivery(forNamespace: "team-a"))
        #expect(teamA.retry == 3)
        #expect(teamA.backoffPolicy == .linear)
        #expect(teamA.backoffDelay == .seconds(2))
        #expect(set.brokerDefaults.delivery(forNamespace: "elsewhere")?.retry == 10)
    }

    @Test func multiDocumentFilesAndSeveralFiles() throws {
        let first = """
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata:
              name: a
            ---
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata:
              name: b
              namespace: other
            ---
            """
        let second = "# a comment-only preamble\napiVersion: eventing.knative.dev/v1\nkind: Trigger\n"
            + "metadata: {name: on-b, namespace: other}\nspec:\n  broker: b\n  subscriber: {uri: http://x.example/}\n"
        let set = try ManifestLoader.load(files: [(name: "one.yaml", contents: first), (name: "two.yml", contents: second)])
        #expect(set.brokers.map(\.meta.name) == ["a", "b"])
        #expect(set.brokers.map(\.meta.location) == [SourceLocation(file: "one.yaml", line: 2), SourceLocation(file: "one.yaml", line: 8)])
        #expect(set.triggers.map(\.meta.location) == [SourceLocation(file: "two.yml", line: 2)])
        #expect(set.broker(namespace: "default", name: "b") == nil)
        let a = try #require(set.broker(namespace: "default", name: "a"))
        #expect(a.brokerClass == nil && a.delivery == nil && a.config == nil, "no annotations, no spec")
    }

    @Test(arguments: [
        ("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n", "unknown kind Widget (example.com/v1); skipped"),
    ])
    func unknownKindsAreSkippedWithAWarning(document: String, warning: String) throws {
        let yaml = broker + "# skipped\n" + document
        let set = try load(yaml)
        #expect(set.brokers.count == 1)
        #expect(set.warnings.count == 1)
        let problem = try #require(set.warnings.first)
        #expect(problem.location == SourceLocation(file: "m.yaml", line: line(of: "# skipped", in: yaml) + 1))
        #expect(problem.message.contains(warning), "\(problem)")
    }
}

private func describe(_ ref: KReference) -> String {
    "\(ref.apiVersion ?? "-") \(ref.kind) \(ref.name) \(ref.namespace ?? "-")"
}

/// A compact rendering of filter specs to compare whole trees.
private func describe(_ filters: [FilterSpec]) -> String { filters.map(describe).joined(separator: " ") }

private func describe(_ filter: FilterSpec) -> String {
    func pairs(_ list: [(name: String, value: String)]) -> String { list.map { "\($0.name)=\($0.value)" }.joined(separator: ",") }
    switch filter {
    case .exact(let list): return "exact(\(pairs(list)))"
    case .prefix(let list): return "prefix(\(pairs(list)))"
    case .suffix(let list): return "suffix(\(pairs(list)))"
    case .all(let children): return "all(\(children.map(describe).joined(separator: ",")))"
    case .any(let children): return "any(\(children.map(describe).joined(separator: ",")))"
    case .not(let child): return "not(\(describe(child)))"
    case .cesql(let expression, _): return "cesql(\(expression))"
    }
}

// MARK: Problems

/// A `config-br-defaults` ConfigMap whose `default-br-config` block is `block`.
private func brokerDefaults(_ block: String) -> String {
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-br-defaults\ndata:\n  default-br-config: |\n"
        + block.split(separator: "\n").map { "    \($0)\n" }.joined()
}

/// One faulty manifest: the problem must be reported once, at the line of `marker`.
struct ErrorCase: Sendable, CustomTestStringConvertible {
    let name: String
    let yaml: String
    let marker: String
    let message: String
    var testDescription: String { name }
}

private let errorCases: [ErrorCase] = [
    ErrorCase(name: "attribute key Type", yaml: triggerDocument("  filter:\n    attributes:\n      Type: x\n" + subscriber),
              marker: "Type: x", message: "filter attribute key \"Type\" must match ^[a-z][a-z0-9]*$"),
    ErrorCase(name: "attribute key my-key", yaml: triggerDocument("  filter:\n    attributes:\n      type: x\n      my-key: y\n" + subscriber),
              marker: "my-key", message: "\"my-key\" must match"),
    ErrorCase(name: "dialect key my_key", yaml: triggerDocument("  filters:\n    - prefix:\n        my_key: y\n" + subscriber),
              marker: "my_key", message: "attribute \"my_key\" must match"),
    ErrorCase(name: "two dialects in one filter", yaml: triggerDocument("  filters:\n    - exact: {type: a}\n      prefix: {source: b}\n" + subscriber),
              marker: "- exact", message: "multiple dialects found (exact, prefix)"),
    ErrorCase(name: "two dialects nested in any", yaml: triggerDocument("  filters:\n    - any:\n        - exact: {type: a}\n        - suffix: {type: b}\n          not: {exact: {type: c}}\n" + subscriber),
              marker: "- suffix", message: "multiple dialects found"),
    ErrorCase(name: "unknown dialect", yaml: triggerDocument("  filters:\n    - regex: {type: a}\n" + subscriber),
              marker: "regex", message: "unknown filter dialect \"regex\""),
    ErrorCase(name: "exact with an empty value", yaml: triggerDocument("  filters:\n    - exact:\n        type: \"\"\n" + subscriber),
              marker: "type: \"\"", message: "exact.type must be a non-empty string"),
    ErrorCase(name: "empty all", yaml: triggerDocument("  filters:\n    - all: []\n" + subscriber),
              marker: "all: []", message: "all must be a non-empty list of filters"),
    ErrorCase(name: "bad backoffPolicy", yaml: triggerDocument(subscriber + "  delivery:\n    backoffPolicy: fibonacci\n"),
              marker: "fibonacci", message: "backoffPolicy must be linear or exponential, not \"fibonacci\""),
    ErrorCase(name: "bad duration", yaml: triggerDocument(subscriber + "  delivery:\n    retry: 2\n    backoffDelay: 2s\n"),
              marker: "2s", message: "backoffDelay \"2s\" is not an ISO-8601 duration"),
    ErrorCase(name: "zero timeout", yaml: triggerDocument(subscriber + "  delivery:\n    timeout: PT0S\n"),
              marker: "PT0S", message: "timeout must be more than zero"),
    ErrorCase(name: "negative retryAfterMax", yaml: triggerDocument(subscriber + "  delivery:\n    retryAfterMax: -PT1S\n"),
              marker: "-PT1S", message: "retryAfterMax must be zero or more"),
    ErrorCase(name: "negative retry", yaml: triggerDocument(subscriber + "  delivery:\n    retry: -1\n"),
              marker: "retry: -1", message: "retry must be between 0 and 10000"),
    ErrorCase(name: "retry not an integer", yaml: triggerDocument(subscriber + "  delivery:\n    retry: three\n"),
              marker: "three", message: "retry must be an integer"),
    ErrorCase(name: "missing subscriber", yaml: triggerDocument("  filter: {}\n"),
              marker: "broker: default", message: "missing subscriber"),
    ErrorCase(name: "subscriber with neither ref nor uri", yaml: triggerDocument("  subscriber:\n    foo: bar\n"),
              marker: "foo: bar", message: "needs a ref or a uri"),
    ErrorCase(name: "relative uri without ref", yaml: triggerDocument("  subscriber:\n    uri: /path\n"),
              marker: "/path", message: "must be absolute"),
    ErrorCase(name: "absolute uri with ref", yaml: triggerDocument("  subscriber:\n    ref: {kind: Service, name: s}\n    uri: http://a.example/\n"),
              marker: "uri: http", message: "with a ref, uri must be relative"),
    ErrorCase(name: "CACerts that are not PEM", yaml: triggerDocument("  subscriber:\n    uri: https://a.example/\n    CACerts: not-a-certificate\n"),
              marker: "not-a-certificate", message: "CACerts must hold PEM certificates"),
    ErrorCase(name: "invalid dead-letter sink", yaml: triggerDocument(subscriber + "  delivery:\n    deadLetterSink:\n      uri: dls\n"),
              marker: "uri: dls", message: "deadLetterSink: uri \"dls\" must be absolute"),
    ErrorCase(name: "invalid trigger name", yaml: broker + "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: Bad_Name\nspec:\n  broker: default\n" + subscriber,
              marker: "Bad_Name", message: "name must be a lowercase RFC 1123 label"),
    ErrorCase(name: "missing kind", yaml: broker + "apiVersion: v1  # here\nmetadata:\n  name: x\n",
              marker: "# here", message: "manifest: missing kind"),
    ErrorCase(name: "a document that is not a mapping", yaml: broker + "- just\n- a list\n",
              marker: "- just", message: "a manifest must be a mapping"),
    ErrorCase(name: "invalid YAML syntax", yaml: broker + "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x: y\n",
              marker: "x: y", message: "invalid YAML"),
    ErrorCase(name: "duplicate broker", yaml: broker + "apiVersion: eventing.knative.dev/v1  # second\nkind: Broker\nmetadata:\n  name: default\n",
              marker: "# second", message: "Broker default/default is declared twice (first at m.yaml:1)"),
    ErrorCase(name: "Kafka-class broker without its settings", yaml: "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: k\n  annotations:\n    eventing.knative.dev/broker.class: Kafka\n",
              marker: "apiVersion", message: "its Kafka settings, ConfigMap knative-eventing/kafka-broker-config, do not exist"),
    ErrorCase(name: "bad duration inside config-br-defaults", yaml: brokerDefaults("clusterDefault:\n  delivery:\n    retry: 3\n    backoffDelay: soon\n"),
              marker: "soon", message: "backoffDelay \"soon\" is not an ISO-8601 duration"),
    ErrorCase(name: "bad policy in namespaceDefaults", yaml: brokerDefaults("namespaceDefaults:\n  team-a:\n    delivery:\n      backoffPolicy: random\n"),
              marker: "random", message: "backoffPolicy must be linear or exponential"),
]

@Suite("ManifestLoader: problems as file:line")
struct ManifestProblemTests {
    @Test(arguments: errorCases)
    func reportsTheProblemAtItsLine(_ test: ErrorCase) throws {
        let found = problems(test.yaml)
        let expectedLine = line(of: test.marker, in: test.yaml)
        try #require(expectedLine > 0, "marker not found")
        #expect(found.count == 1, "\(found)")
        let problem = try #require(found.first)
        #expect(problem.description.hasPrefix("m.yaml:\(expectedLine): "), "\(problem)")
        #expect(problem.message.contains(test.message), "\(problem)")
    }

    @Test func reportsEveryProblemNotOnlyTheFirst() throws {
        let first = triggerDocument("""
              filter:
                attributes:
                  Type: x            # p1
              filters:
                - exact: {type: a}   # p2
                  suffix: {type: b}
              subscriber:
                uri: http://s.example/
              delivery:
                retry: -3            # p3
                backoffPolicy: often # p4
                timeout: 5 minutes   # p5
                format: xml          # p6
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata:
              name: orphan
            spec:
              broker: missing  # w1
              subscriber:
                uri: http://s.example/
            """)
        let other = broker.replacingOccurrences(of: "name: default", with: "name: other")
        let second = other + "# p7\n" + other
        let read = ManifestLoader.read(files: [(name: "a.yaml", contents: first), (name: "b.yaml", contents: second)])
        let found = read.problems
        #expect(read.manifests.warnings.map(\.location) == [SourceLocation(file: "a.yaml", line: line(of: "# w1", in: first))],
                "a trigger whose broker is missing is a warning: it waits for its broker")
        #expect(read.manifests.warnings.first?.message.contains("stays inactive until it appears") == true)
        let expected: [(String, Int)] = (1...6).map { ("a.yaml", line(of: "# p\($0)", in: first)) } + [("b.yaml", line(of: "# p7", in: second) + 1)]
        #expect(found.count == expected.count, "\(ConfigError(problems: found))")
        let reported = Set(found.map(\.location))
        for (file, line) in expected {
            #expect(reported.contains(SourceLocation(file: file, line: line)), "nothing reported at \(file):\(line)")
        }
        let error = ConfigError(problems: found)
        #expect(error.description.split(separator: "\n").count == expected.count)
    }

    @Test func problemsInTwoFilesNameTheirFile() {
        let found = problems([(name: "ok.yaml", contents: broker), (name: "bad.yaml", contents: triggerDocument(subscriber + "  delivery:\n    retry: x\n"))])
        #expect(found.map(\.location.file) == ["bad.yaml", "bad.yaml"], "the second broker is a duplicate and retry is bad: \(found)")
    }
}

// MARK: ISO-8601 durations

@Suite("ISO8601Duration")
struct ISO8601DurationTests {
    @Test(arguments: [
        ("PT0.2S", Duration.milliseconds(200)), ("PT1M30S", .seconds(90)), ("P1D", .seconds(86_400)),
        ("PT1H", .seconds(3600)), ("PT2H30M", .seconds(9000)), ("P1DT2H", .seconds(93_600)), ("P1W", .seconds(604_800)),
        ("PT0S", .zero), ("PT0.001S", .milliseconds(1)), ("PT1,5S", .milliseconds(1500)), ("pt10s", .seconds(10)),
        ("-PT1S", .seconds(-1)), ("PT90S", .seconds(90)),
    ])
    func parses(_ text: String, _ expected: Duration) {
        #expect(ISO8601Duration.parse(text) == expected)
    }

    /// Years and months use the average Gregorian lengths (365.2425 and 30.436875 days).
    @Test(arguments: [("P1Y", 31_556_952.0), ("P1M", 2_629_746.0), ("P2Y6M", 78_892_380.0)])
    func yearsAndMonths(_ text: String, _ seconds: Double) throws {
        let parsed = try #require(ISO8601Duration.parse(text))
        let difference = parsed - .seconds(seconds)
        #expect(difference < .microseconds(1) && difference > .microseconds(-1), "\(parsed)")
    }

    @Test(arguments: ["", "P", "PT", "-P", "1S", "T1S", "PT1", "PTS", "P1H", "P1S", "PT1D", "PT1W", "PT1Y", "P1DTT1H", "PT1X", "PT-1S", "5", "1m", "PT1.2.3S", "P99999999999999Y"])
    func rejects(_ text: String) {
        #expect(ISO8601Duration.parse(text) == nil)
    }
}
