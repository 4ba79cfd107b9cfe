import Glibc
import Logging
import SluiceIO

/// How log lines are written to standard error.
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's default: timestamp, level, label, message, metadata.
    case text
    /// One JSON object per line, for log shippers (Loki, Fluentd, Vector).
    case json
}

/// One JSON object per line on standard error: `time` (RFC 3339, UTC, milliseconds),
/// `level`, `logger`, `message`, then the metadata as string fields. Lines are written with
/// one `write` each, so lines from several threads never interleave.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable ([UInt8]) -> Void

    public init(label: String, write: @escaping @Sendable ([UInt8]) -> Void) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { $1 } }
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        write(JSONLogHandler.line(time: JSONLogHandler.timestamp(), level: event.level, logger: label,
                                  message: "\(event.message)", metadata: fields))
    }

    /// One line: the fixed fields, then the metadata sorted by key.
    static func line(time: String, level: Logger.Level, logger: String, message: String, metadata: Logger.Metadata) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out += Array("{\"time\":".utf8)
        appendString(time, to: &out)
        out += Array(",\"level\":".utf8)
        appendString(level.rawValue, to: &out)
        out += Array(",\"logger\":".utf8)
        appendString(logger, to: &out)
        out += Array(",\"message\":".utf8)
        appendString(message, to: &out)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where !["time", "level", "logger", "message"].contains(key) {
            out.append(UInt8(ascii: ","))
            appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendString("\(value)", to: &out)
        }
        out += Array("}\n".utf8)
        return out
    }

    /// A JSON string: quotes, backslashes and control characters escaped.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += Array("\\\"".utf8)
            case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
            case UInt8(ascii: "\n"): out += Array("\\n".utf8)
            case UInt8(ascii: "\r"): out += Array("\\r".utf8)
            case UInt8(ascii: "\t"): out += Array("\\t".utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Now as RFC 3339 in UTC with milliseconds.
    static func timestamp() -> String {
        let (seconds, nanoseconds) = WallClock.now()
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(nanoseconds / 1_000_000, 3))Z"
    }
}
