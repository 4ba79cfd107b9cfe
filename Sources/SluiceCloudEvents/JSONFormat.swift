/// The CloudEvents JSON format (json-format.md): one event as a JSON object, a batch as an
/// array of them. Decoding keeps `data` as the raw JSON text of its value when the content
/// type is JSON (so binary-mode delivery sends exactly that text), decodes a string `data`
/// for other content types, and `data_base64` to bytes.
public enum JSONFormat {
    /// Decodes one event from a JSON object.
    public static func decodeEvent(_ bytes: UnsafeRawBufferPointer, builder: inout CloudEventBuilder,
                                   prepare: Prepare? = nil) throws(CloudEventError) -> CloudEvent {
        var scanner = JSONScanner(bytes)
        let event = try decodeObject(&scanner, builder: &builder, expectedVersion: nil, prepare: prepare)
        try scanner.expectEnd()
        return event
    }

    /// Decodes a batch (a JSON array of event objects). One bad element rejects the batch, and
    /// all elements must share one specversion.
    public static func decodeBatch(_ bytes: UnsafeRawBufferPointer, builder: inout CloudEventBuilder,
                                   maxEvents: Int = 10_000, prepare: Prepare? = nil) throws(CloudEventError) -> [CloudEvent] {
        var scanner = JSONScanner(bytes)
        guard try scanner.peekKind() == .array else { throw .invalidBatch("the body is not a JSON array") }
        scanner.index += 1
        var events: [CloudEvent] = []
        if scanner.consume(0x5D) {
            try scanner.expectEnd()
            return events
        }
        var version: SpecVersion?
        repeat {
            guard events.count < maxEvents else { throw .invalidBatch("more than \(maxEvents) events") }
            guard try scanner.peekKind() == .object else { throw .invalidBatch("element \(events.count) is not a JSON object") }
            let event: CloudEvent
            do {
                event = try decodeObject(&scanner, builder: &builder, expectedVersion: version, prepare: prepare)
            } catch {
                throw .invalidBatch("element \(events.count): \(error)")
            }
            version = event.specVersion
            events.append(event)
        } while scanner.consume(0x2C)
        try scanner.expect(0x5D, "']'")
        try scanner.expectEnd()
        return events
    }

    private struct Member {
        var name: Range<Int>
        var kind: JSONScanner.ValueKind
        /// Decoded string, number lexeme or literal text, in the scratch buffer.
        var value: Range<Int>
        /// The value's bytes in the input.
        var raw: Range<Int>
    }

    /// Runs on the builder after the attributes are read and checked, just before the event is
    /// laid out: the place to add extensions a receiver stamps on every event.
    public typealias Prepare = (inout CloudEventBuilder) throws(CloudEventError) -> Void

    private static func decodeObject(_ scanner: inout JSONScanner, builder: inout CloudEventBuilder,
                                     expectedVersion: SpecVersion?, prepare: Prepare?) throws(CloudEventError) -> CloudEvent {
        builder.reset()
        try scanner.expect(0x7B, "'{'")
        var scratch: [UInt8] = []
        var members: [Member] = []
        if !scanner.consume(0x7D) {
            repeat {
                let nameStart = scratch.count
                try scanner.readString(into: &scratch)
                let name = nameStart..<scratch.count
                try scanner.expect(0x3A, "':'")
                let kind = try scanner.peekKind()
                let rawStart = scanner.index
                let valueStart = scratch.count
                switch kind {
                case .string:
                    try scanner.readString(into: &scratch)
                case .number:
                    let lexeme = try scanner.readNumber()
                    scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: scanner.bytes[lexeme]))
                case .true, .false, .null:
                    _ = try scanner.skipValue()
                    scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: scanner.bytes[rawStart..<scanner.index]))
                case .object, .array:
                    _ = try scanner.skipValue()
                }
                let member = Member(name: name, kind: kind, value: valueStart..<scratch.count, raw: rawStart..<scanner.index)
                let duplicate = scratch.withUnsafeBytes { raw in
                    members.contains { bytesEqual(UnsafeRawBufferPointer(rebasing: raw[$0.name]), UnsafeRawBufferPointer(rebasing: raw[name])) }
                }
                if duplicate { throw .duplicateAttribute(String(decoding: scratch[name], as: UTF8.self)) }
                members.append(member)
            } while scanner.consume(0x2C)
            try scanner.expect(0x7D, "'}'")
        }
        return try withBytes(of: scratch) { scratchBytes throws(CloudEventError) -> CloudEvent in
            try assemble(members, scratch: scratchBytes, input: scanner.bytes, builder: &builder, expectedVersion: expectedVersion, prepare: prepare)
        }
    }

    private static func assemble(_ members: [Member], scratch: UnsafeRawBufferPointer, input: UnsafeRawBufferPointer,
                                 builder: inout CloudEventBuilder, expectedVersion: SpecVersion?, prepare: Prepare?) throws(CloudEventError) -> CloudEvent {
        func name(_ member: Member) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: scratch[member.name]) }
        func value(_ member: Member) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: scratch[member.value]) }

        guard let versionMember = members.first(where: { bytesEqual(name($0), AttributeName.specversion) }),
              versionMember.kind != .null
        else { throw .missingAttribute("specversion") }
        guard versionMember.kind == .string else { throw .invalidAttribute(name: "specversion", reason: "must be a string") }
        guard let version = SpecVersion(text: value(versionMember)) else {
            throw .unsupportedSpecVersion(String(decoding: value(versionMember), as: UTF8.self))
        }
        if let expectedVersion, expectedVersion != version { throw .invalidBatch("events with different specversions") }
        builder.specVersion = version

        var dataMember: Member?
        var base64Member: Member?
        for member in members {
            let memberName = name(member)
            if bytesEqual(memberName, AttributeName.specversion) || member.kind == .null {
                continue  // null means absent (json-format §2.2)
            }
            if bytesEqual(memberName, "data") {
                dataMember = member
                continue
            }
            if version == .v1_0 && bytesEqual(memberName, "data_base64") {
                guard member.kind == .string else { throw .invalidAttribute(name: "data_base64", reason: "must be a string") }
                base64Member = member
                continue
            }
            let kind: AttributeKind
            switch member.kind {
            case .string: kind = .string
            case .true, .false: kind = .boolean
            case .number:
                guard AttributeValidation.isCanonicalInt32(value(member)) else {
                    throw .invalidAttribute(name: String(decoding: memberName, as: UTF8.self), reason: "numbers must be 32-bit integers")
                }
                kind = .integer
            case .object, .array, .null:
                throw .invalidAttribute(name: String(decoding: memberName, as: UTF8.self), reason: "objects and arrays are not attribute values")
            }
            try builder.add(name: memberName, value: value(member), kind: kind)
        }
        try builder.validateRequired()
        if dataMember != nil && base64Member != nil { throw .invalidJSON("both data and data_base64") }
        try prepare?(&builder)

        if let base64Member {
            guard let bytes = Base64.decode(value(base64Member)) else { throw .invalidAttribute(name: "data_base64", reason: "not base64") }
            return builder.build(data: bytes)
        }
        guard let dataMember else { return builder.build(data: nil as [UInt8]?) }
        let contentType = builder.value(of: AttributeName.datacontenttype)
        if version == .v0_3, builder.value(of: AttributeName.datacontentencoding) != nil {
            guard dataMember.kind == .string, let bytes = Base64.decode(value(dataMember)) else {
                throw .invalidAttribute(name: "data", reason: "datacontentencoding base64 needs base64 string data")
            }
            return builder.build(data: bytes)
        }
        if contentType == nil || MediaType.isJSON(contentType ?? []) || dataMember.kind != .string {
            // The JSON value itself is the data: keep its exact text.
            builder.dataIsImpliedJSON = contentType == nil
            return builder.build(data: UnsafeRawBufferPointer(rebasing: input[dataMember.raw]))
        }
        return builder.build(data: value(dataMember))
    }

    // MARK: Encoding

    /// Encodes `event` as a JSON object (structured mode).
    public static func encode(_ event: CloudEvent) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(event.byteCount + 128)
        event.withView { view in
            output.append(contentsOf: #"{"specversion":""#.utf8)
            output.append(contentsOf: view.specVersion.description.utf8)
            output.append(0x22)
            var contentType: UnsafeRawBufferPointer?
            for index in 0..<view.attributeCount {
                let name = view.name(at: index)
                if bytesEqual(name, AttributeName.datacontenttype) { contentType = view.value(at: index) }
                output.append(contentsOf: #",""#.utf8)
                output.append(contentsOf: name)
                output.append(contentsOf: #"":"#.utf8)
                switch view.kind(at: index) {
                case .integer, .boolean: output.append(contentsOf: view.value(at: index))
                default: appendJSONString(view.value(at: index), to: &output)
                }
            }
            event.data?.withUnsafeBytes { data in
                appendData(data, contentType: contentType, impliedJSON: view.dataIsImpliedJSON,
                           version: view.specVersion, to: &output)
            }
            output.append(0x7D)
        }
        return output
    }

    private static func appendData(_ data: UnsafeRawBufferPointer, contentType: UnsafeRawBufferPointer?, impliedJSON: Bool,
                                   version: SpecVersion, to output: inout [UInt8]) {
        let isJSON = impliedJSON || contentType.map { MediaType.isJSON(Array($0)) } ?? false
        if isJSON {
            var scanner = JSONScanner(data)
            if (try? scanner.skipValue()) != nil, (try? scanner.expectEnd()) != nil {
                output.append(contentsOf: #","data":"#.utf8)
                output.append(contentsOf: data)
                return
            }
        }
        if let contentType, MediaType.isText(Array(contentType)), AttributeValidation.isValidUTF8(data) {
            output.append(contentsOf: #","data":"#.utf8)
            appendJSONString(data, to: &output)
            return
        }
        if version == .v0_3 {
            output.append(contentsOf: #","datacontentencoding":"base64","data":""#.utf8)
        } else {
            output.append(contentsOf: #","data_base64":""#.utf8)
        }
        Base64.encode(data, into: &output)
        output.append(0x22)
    }

    static func appendJSONString(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        output.append(0x22)
        for byte in bytes {
            switch byte {
            case 0x22: output.append(contentsOf: [0x5C, 0x22])
            case 0x5C: output.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: output.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: output.append(contentsOf: [0x5C, 0x72])
            case 0x09: output.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20:
                output.append(contentsOf: [0x5C, 0x75, 0x30, 0x30])
                output.append(hex.utf8Start[Int(byte >> 4)])
                output.append(hex.utf8Start[Int(byte & 0x0F)])
            default: output.append(byte)
            }
        }
        output.append(0x22)
    }
}

/// Media type classification used by the formats.
public enum MediaType {
    /// `*/json` or `*/*+json`, parameters ignored, case-insensitive (json-format §3.1).
    public static func isJSON(_ value: [UInt8]) -> Bool {
        let essence = self.essence(value)
        guard let slash = essence.firstIndex(of: 0x2F) else { return false }
        let subtype = essence[(slash + 1)...]
        return subtype.elementsEqual("json".utf8) || (subtype.count > 5 && subtype.suffix(5).elementsEqual("+json".utf8))
    }

    /// Text that can travel as a JSON string: `text/*`, XML, or any type with a charset.
    public static func isText(_ value: [UInt8]) -> Bool {
        let essence = self.essence(value)
        if essence.starts(with: "text/".utf8) || essence.elementsEqual("application/xml".utf8) || essence.hasSuffix("+xml") {
            return true
        }
        return value.map(asciiLowercase).split(separator: 0x3B).dropFirst().contains { parameter in
            parameter.drop(while: { $0 == 0x20 }).starts(with: "charset=".utf8)
        }
    }

    /// The lowercased `type/subtype` without parameters or whitespace.
    static func essence(_ value: [UInt8]) -> [UInt8] {
        let end = value.firstIndex(of: 0x3B) ?? value.count
        return value[..<end].filter { $0 != 0x20 && $0 != 0x09 }.map(asciiLowercase)
    }
}

extension Array where Element == UInt8 {
    func hasSuffix(_ suffix: String) -> Bool {
        let tail = Array(suffix.utf8)
        return count >= tail.count && self[(count - tail.count)...].elementsEqual(tail)
    }
}

extension AttributeValidation {
    public static func isValidUTF8(_ value: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index < value.count {
            if value[index] < 0x80 {
                index += 1
                continue
            }
            guard let (_, length) = decodeUTF8(value, at: index) else { return false }
            index += length
        }
        return true
    }
}
