import Foundation
import SluiceCloudEvents
@testable import SluiceFilter
import Testing
import Yams

/// Runs every case of the official CESQL TCK (vendored unedited in `CESQLTCK/`). Scalars are
/// read as their raw YAML text (`TRUE` stays `TRUE`, timestamps keep their offset), as the
/// kit's README asks.
struct TCKCase: CustomStringConvertible, Sendable {
    enum Expected: Sendable {
        case boolean(Bool), integer(Int32), string(String)
    }

    let file: String
    let name: String
    let expression: String
    let result: Expected?
    let error: CESQLErrorKind?
    /// Attributes as (name, raw text, kind); nil means the default event.
    let event: [(String, String, AttributeKind)]?
    let overrides: [(String, String, AttributeKind)]

    var description: String { "\(file): \(name): \(expression)" }
}

/// Cases whose upstream expectation contradicts the spec, with what we expect instead.
/// "Invalid int cast" (`NOT 10`) predates the spec's Integer→Boolean cast (spec commit
/// 66c067b, PR #1281): 10 casts to true, so `NOT 10` is false with no error — what the spec,
/// BOOL(100) in the same kit, sdk-go and sdk-java all say.
let deviations: [String: (TCKCase.Expected, CESQLErrorKind?)] = [
    "not_operator.yaml: Invalid int cast": (.boolean(false), nil),
]

func loadTCK() throws -> [TCKCase] {
    let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("CESQLTCK")
    let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
    var cases: [TCKCase] = []
    for file in files {
        let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
        guard let root = try Yams.compose(yaml: text), let tests = root["tests"]?.sequence else { continue }
        for test in tests {
            guard let name = test["name"]?.scalar?.string, let expression = test["expression"]?.scalar?.string else { continue }
            cases.append(TCKCase(file: file, name: name, expression: expression,
                                 result: test["result"].flatMap(expected), error: test["error"]?.scalar.flatMap { CESQLErrorKind(rawValue: $0.string) },
                                 event: test["event"].map(attributes), overrides: test["eventOverrides"].map(attributes) ?? []))
        }
    }
    return cases
}

/// A raw scalar as the value the kit means: quoted text is a String; plain true/false (any
/// case) a Boolean; a plain integer an Integer; anything else its text.
private func expected(_ node: Node) -> TCKCase.Expected? {
    guard let scalar = node.scalar else { return nil }
    let text = scalar.string
    if scalar.style != .plain { return .string(text) }
    if text.lowercased() == "true" { return .boolean(true) }
    if text.lowercased() == "false" { return .boolean(false) }
    if let value = Int32(text) { return .integer(value) }
    return .string(text)
}

private func attributes(_ node: Node) -> [(String, String, AttributeKind)] {
    guard let mapping = node.mapping else { return [] }
    return mapping.compactMap { pair in
        guard let key = pair.key.scalar?.string, let scalar = pair.value.scalar else { return nil }
        let kind: AttributeKind
        switch expected(pair.value) {
        case .boolean?: kind = .boolean
        case .integer?: kind = .integer
        default: kind = .string
        }
        let text = kind == .boolean ? scalar.string.lowercased() : scalar.string
        return (key, text, kind)
    }
}

/// sdk-go's `test.FullEvent()`, the default event of the kit's upstream runner.
let defaultEvent: [(String, String, AttributeKind)] = [
    ("specversion", "1.0", .string), ("id", "full-event", .string), ("source", "http://example.com/source", .string),
    ("type", "com.example.FullEvent", .string), ("time", "2020-03-21T12:34:56.78Z", .string),
    ("dataschema", "http://example.com/schema", .string), ("subject", "topic", .string), ("datacontenttype", "text/json", .string),
    ("exbool", "true", .boolean), ("exint", "42", .integer), ("exstring", "exstring", .string), ("exbinary", "AAECAw==", .string),
    ("exurl", "http://example.com/source", .string), ("extime", "2020-03-21T12:34:56.78Z", .string),
]

func makeEvent(_ attributes: [(String, String, AttributeKind)]) throws -> CloudEvent {
    var builder = CloudEventBuilder()
    for (name, value, _) in attributes where name == "specversion" {
        builder.specVersion = SpecVersion(text: Array(value.utf8)) ?? .v1_0
    }
    for (name, value, kind) in attributes where name != "specversion" {
        try builder.add(name: name, value: value, kind: kind)
    }
    return builder.build(data: nil as [UInt8]?)
}

@Suite("CESQL TCK")
struct CESQLTCKTests {
    @Test func allCasesAreLoaded() throws {
        let cases = try loadTCK()
        #expect(cases.count == 275)
        #expect(cases.filter { $0.error != nil }.count == 35)
    }

    @Test(arguments: try loadTCK())
    func tckCase(_ test: TCKCase) throws {
        let compiled: CESQLExpression
        do {
            compiled = try CESQLExpression(test.expression)
        } catch {
            #expect(test.error == .parse, "unexpected parse error: \(error)")
            return
        }
        #expect(test.error != .parse, "expected a parse error")
        if test.error == .parse { return }

        var attributes = test.event ?? defaultEvent
        for override in test.overrides {
            attributes.removeAll { $0.0 == override.0 }
            attributes.append(override)
        }
        let event = try makeEvent(attributes)
        let outcome = event.withView { compiled.evaluate($0) }
        var expectedResult = test.result
        var expectedError = test.error
        if let deviation = deviations["\(test.file): \(test.name)"] {
            (expectedResult, expectedError) = (deviation.0, deviation.1)
        }
        #expect(outcome.error == expectedError, "error")
        if let expectedResult { #expect(describe(outcome.value) == describe(expectedResult), "result") }
    }

    private func describe(_ value: CESQLResultValue) -> String {
        switch value {
        case .boolean(let value): return "boolean \(value)"
        case .integer(let value): return "integer \(value)"
        case .string(let value): return "string \(value)"
        }
    }

    private func describe(_ expected: TCKCase.Expected) -> String {
        switch expected {
        case .boolean(let value): return "boolean \(value)"
        case .integer(let value): return "integer \(value)"
        case .string(let value): return "string \(value)"
        }
    }
}
