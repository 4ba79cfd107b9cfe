internal import CRabbitMQ

/// Field tables of string values for declare and bind arguments (`x-queue-type: quorum`,
/// `x-match: all`), alive for the length of one call.
enum AMQPTable {
    static func with<Result>(_ entries: [(String, String)], _ body: (amqp_table_t) -> Result) -> Result {
        guard !entries.isEmpty else { return body(amqp_empty_table) }
        let texts = entries.flatMap { [Array($0.0.utf8), Array($0.1.utf8)] }
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, texts.reduce(0) { $0 + $1.count }), alignment: 1)
        let table = UnsafeMutableBufferPointer<amqp_table_entry_t>.allocate(capacity: entries.count)
        defer {
            bytes.deallocate()
            table.deallocate()
        }
        var offset = 0
        func place(_ text: [UInt8]) -> amqp_bytes_t {
            let slot = UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<offset + text.count])
            slot.copyBytes(from: text)
            offset += text.count
            return amqp_bytes_t(len: text.count, bytes: slot.baseAddress)
        }
        for index in entries.indices {
            var value = amqp_field_value_t()
            value.kind = UInt8(ascii: "S")
            let key = place(texts[2 * index])
            value.value.bytes = place(texts[2 * index + 1])
            table.initializeElement(at: index, to: amqp_table_entry_t(key: key, value: value))
        }
        return body(amqp_table_t(num_entries: Int32(entries.count), entries: table.baseAddress))
    }
}
