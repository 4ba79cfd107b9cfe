import SluiceYAML
import Testing

/// The YAML layer on libyaml: documents, lines, styles, aliases, and the bounds that keep a
/// hostile file from looping or recursing without end.
@Suite("YAML tree")
struct YAMLTreeTests {
    @Test("documents, 1-based lines, scalar styles and nulls")
    func documents() throws {
        let documents = try YAMLComposer.documents("a: 1\nb: \"two\"\nc: |\n  three\nd: ~\n---\n- x\n- null\n---\n")
        #expect(documents.count == 3)
        let first = documents[0]
        #expect(first["a"]?.scalar == "1" && first["a"]?.line == 1 && first["a"]?.scalarStyle == .plain)
        #expect(first["b"]?.scalar == "two" && first["b"]?.scalarStyle == .quoted)
        #expect(first["c"]?.scalar == "three\n" && first["c"]?.scalarStyle == .block && first["c"]?.line == 3)
        #expect(first["d"]?.isNull == true && first["missing"] == nil)
        #expect(documents[1].sequence?.map(\.scalar) == ["x", "null"] && documents[1].sequence?[1].isNull == true)
        #expect(documents[2].isNull, "an empty document is null")
        #expect(try YAMLComposer.documents("b: \"null\"\n")[0]["b"]?.isNull == false, "a quoted null is a string")
    }

    @Test("an alias shares its anchor's node; one inside its own anchor is refused")
    func aliases() throws {
        let tree = try YAMLComposer.documents("base: &b {retry: 3}\none: *b\ntwo: *b\n")[0]
        #expect(tree["one"] === tree["base"] && tree["two"]?["retry"]?.scalar == "3")
        #expect(throws: YAMLSyntaxError.self) { try YAMLComposer.documents("a: &x [1, *x]\n") }
        #expect(throws: YAMLSyntaxError.self) { try YAMLComposer.documents("a: *nowhere\n") }
    }

    @Test("syntax errors name libyaml's reason and line; nesting is bounded")
    func errors() {
        do {
            _ = try YAMLComposer.documents("a: 1\nb:\n  c: d: e\n")
            Issue.record("parsed")
        } catch {
            #expect(error.line == 3 && error.message.contains("mapping values are not allowed"), "\(error)")
        }
        let deep = String(repeating: "[", count: YAMLComposer.maxDepth + 1) + String(repeating: "]", count: YAMLComposer.maxDepth + 1)
        #expect(throws: YAMLSyntaxError.self) { try YAMLComposer.documents(deep) }
        let shallow = String(repeating: "[", count: YAMLComposer.maxDepth) + String(repeating: "]", count: YAMLComposer.maxDepth)
        #expect((try? YAMLComposer.documents(shallow)) != nil)
    }
}
