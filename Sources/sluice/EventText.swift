import SluiceCloudEvents

/// A CloudEvent as readable text, laid out as Knative's `event_display` prints it: the context
/// attributes, the extensions, then the data (indented when it is JSON).
enum EventText {
    /// The spec's own attributes, in the order `event_display` shows them.
    static let contextOrder = ["specversion", "type", "source", "subject", "id", "time", "dataschema", "datacontenttype"]

    static func render(_ event: CloudEvent) -> String {
        let attributes = event.attributes
        var lines = ["☁️  cloudevents.Event", "Context Attributes,"]
        for name in contextOrder {
            if let attribute = attributes.first(where: { $0.name == name }) { lines.append("  \(name): \(attribute.value)") }
        }
        let extensions = attributes.filter { !contextOrder.contains($0.name) }.sorted { $0.name < $1.name }
        if !extensions.isEmpty {
            lines.append("Extensions,")
            for attribute in extensions { lines.append("  \(attribute.name): \(attribute.value)") }
        }
        if let data = event.data {
            lines.append("Data,")
            lines.append(contentsOf: dataLines(data, contentType: event.string(AttributeName.datacontenttype), impliedJSON: event.dataIsImpliedJSON))
        }
        return lines.joined(separator: "\n")
    }

    /// JSON indented by two spaces, other text as it is, bytes that are not UTF-8 as base64.
    static func dataLines(_ data: [UInt8], contentType: String?, impliedJSON: Bool) -> [String] {
        let json = impliedJSON || contentType.map { MediaType.isJSON(Array($0.utf8)) } ?? false
        if json, let indented = indentJSON(data) {
            return indented.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
        }
        if data.withUnsafeBytes({ AttributeValidation.isValidUTF8($0) }) {
            return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
        }
        return ["  (\(data.count) bytes, base64) " + data.withUnsafeBytes { Base64.encode($0) }]
    }

    /// `json` re-laid out, one member or element per line; nil when its brackets or strings do
    /// not balance (it is then shown as text).
    static func indentJSON(_ json: [UInt8]) -> String? {
        var output: [UInt8] = []
        output.reserveCapacity(json.count * 2)
        var depth = 0
        var inString = false
        var escaped = false
        var index = 0
        func newline() {
            output.append(0x0A)
            output.append(contentsOf: repeatElement(0x20, count: depth * 2))
        }
        while index < json.count {
            let byte = json[index]
            index += 1
            if inString {
                output.append(byte)
                if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false }
                continue
            }
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D:
                continue
            case 0x22:
                inString = true
                output.append(byte)
            case 0x7B, 0x5B:  // { [
                output.append(byte)
                var next = index
                while next < json.count, [0x20, 0x09, 0x0A, 0x0D].contains(json[next]) { next += 1 }
                if next < json.count, json[next] == byte + 2 {  // an empty {} or []
                    output.append(json[next])
                    index = next + 1
                } else {
                    depth += 1
                    newline()
                }
            case 0x7D, 0x5D:  // } ]
                depth -= 1
                if depth < 0 { return nil }
                newline()
                output.append(byte)
            case 0x2C:  // ,
                output.append(byte)
                newline()
            case 0x3A:  // :
                output.append(contentsOf: [0x3A, 0x20])
            default:
                output.append(byte)
            }
        }
        guard depth == 0, !inString else { return nil }
        return String(decoding: output, as: UTF8.self)
    }
}
