import SluiceCloudEvents

/// CloudEvents SQL (CESQL v1): expressions compiled once and evaluated per event.
///
/// Choices the specification leaves open, made to match the reference SDKs (sdk-go, which
/// Knative uses, and sdk-java):
/// - **Characters** for LENGTH, LEFT, RIGHT, SUBSTRING and LIKE's `_` are Unicode scalars (code
///   points), not bytes (as sdk-go counts) and not grapheme clusters (as Swift's `String.count`).
/// - **AND, OR and XOR** share one precedence level and associate to the right, as in the
///   grammar shipped with the spec (`CESQLParser.g4`): `a AND b OR c` is `a AND (b OR c)`.
/// - **Integer literals** carry their sign in the token, as the ANTLR lexer does: `4 - 1` is a
///   subtraction but `4 -1` is two literals in a row, a parse error.
/// - **Overflow** of `+ - *` and of unary minus wraps (two's complement, like Go); it never
///   traps. `Int32.min / -1` wraps to `Int32.min`; `ABS(Int32.min)` is `Int32.max` with a
///   MathError, as the spec says.
/// - **IN** evaluates its elements left to right and stops at the first match; an element that
///   fails (cast, missing attribute) ends the evaluation with that error (fail-fast).
/// - **Identifiers** are case-insensitive (lowercased), so `EXISTS SOURCE` is true.
///
/// Evaluation is fail-fast: when a sub-expression raises an error, each enclosing node returns
/// the zero value of its own type and passes the error up. A filter passes only on Boolean
/// true without error.
enum CESQLToken: Equatable, Sendable {
    case integer(Int32)
    case string([UInt8])
    case boolean(Bool)
    case identifier([UInt8])
    /// A name followed by "(": a function call.
    case function(String)
    case keyword(Keyword)
    case symbol(Symbol)
    case end

    enum Keyword: String, Sendable {
        case and = "AND", or = "OR", xor = "XOR", not = "NOT", like = "LIKE", exists = "EXISTS", `in` = "IN"
    }

    enum Symbol: String, Sendable {
        case plus = "+", minus = "-", star = "*", slash = "/", percent = "%"
        case equal = "=", notEqual = "!=", lessGreater = "<>", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
        case open = "(", close = ")", comma = ","
    }
}

/// A parse error with the 1-based column where it was found.
public struct CESQLParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public let column: Int

    public var description: String { "\(message) at column \(column)" }
}

/// Splits an expression into tokens, each with its 1-based column.
struct CESQLLexer {
    let text: [UInt8]
    var index = 0

    init(_ expression: String) {
        text = Array(expression.utf8)
    }

    static func tokenize(_ expression: String) throws(CESQLParseError) -> [(token: CESQLToken, column: Int)] {
        var lexer = CESQLLexer(expression)
        var tokens: [(token: CESQLToken, column: Int)] = []
        while true {
            let (token, column) = try lexer.next()
            tokens.append((token, column))
            if token == .end { return tokens }
        }
    }

    private var column: Int {
        // Columns count characters, not bytes.
        text[..<index].reduce(1) { $1 & 0xC0 == 0x80 ? $0 : $0 + 1 }
    }

    mutating func next() throws(CESQLParseError) -> (CESQLToken, Int) {
        while index < text.count && (text[index] == 0x20 || text[index] == 0x09 || text[index] == 0x0A || text[index] == 0x0D) {
            index += 1
        }
        let start = column
        guard index < text.count else { return (.end, start) }
        let byte = text[index]
        if isDigit(byte) || ((byte == 0x2B || byte == 0x2D) && index + 1 < text.count && isDigit(text[index + 1])) {
            return (try integer(start), start)
        }
        if byte == 0x27 || byte == 0x22 { return (try string(quote: byte, start), start) }
        if isWordByte(byte) { return (try word(start), start) }
        index += 1
        let nextByte: UInt8? = index < text.count ? text[index] : nil
        switch byte {
        case 0x2B: return (.symbol(.plus), start)
        case 0x2D: return (.symbol(.minus), start)
        case 0x2A: return (.symbol(.star), start)
        case 0x2F: return (.symbol(.slash), start)
        case 0x25: return (.symbol(.percent), start)
        case 0x3D: return (.symbol(.equal), start)
        case 0x28: return (.symbol(.open), start)
        case 0x29: return (.symbol(.close), start)
        case 0x2C: return (.symbol(.comma), start)
        case 0x21 where nextByte == 0x3D:
            index += 1
            return (.symbol(.notEqual), start)
        case 0x3C:
            if nextByte == 0x3E { index += 1; return (.symbol(.lessGreater), start) }
            if nextByte == 0x3D { index += 1; return (.symbol(.lessOrEqual), start) }
            return (.symbol(.less), start)
        case 0x3E:
            if nextByte == 0x3D { index += 1; return (.symbol(.greaterOrEqual), start) }
            return (.symbol(.greater), start)
        default:
            throw CESQLParseError(message: "unexpected character \"\(String(decoding: [byte], as: UTF8.self))\"", column: start)
        }
    }

    /// `[+-]?[0-9]+`, which must fit in 32 bits. Digits followed by letters are an identifier.
    private mutating func integer(_ start: Int) throws(CESQLParseError) -> CESQLToken {
        let begin = index
        if text[index] == 0x2B || text[index] == 0x2D { index += 1 }
        while index < text.count && isDigit(text[index]) { index += 1 }
        if index < text.count && isWordByte(text[index]) && isDigit(text[begin]) {
            index = begin
            return try word(start)
        }
        let literal = text[begin..<index]
        let parsed = literal.withUnsafeBytes { AttributeValidationBridge.parseInt32($0) }
        guard let value = parsed else {
            throw CESQLParseError(message: "integer literal \(String(decoding: literal, as: UTF8.self)) does not fit in 32 bits", column: start)
        }
        return .integer(value)
    }

    /// A quoted string; inside it only the escaped quote of its own kind is unescaped, as the
    /// SDKs do (`'a\'b'` is `a'b`; any other backslash stays).
    private mutating func string(quote: UInt8, _ start: Int) throws(CESQLParseError) -> CESQLToken {
        index += 1
        var value: [UInt8] = []
        while index < text.count {
            let byte = text[index]
            if byte == 0x5C && index + 1 < text.count && text[index + 1] == quote {
                value.append(quote)
                index += 2
                continue
            }
            if byte == quote {
                index += 1
                return .string(value)
            }
            value.append(byte)
            index += 1
        }
        throw CESQLParseError(message: "unterminated string", column: start)
    }

    /// Keywords, booleans, function names (a word followed by "(") and identifiers.
    private mutating func word(_ start: Int) throws(CESQLParseError) -> CESQLToken {
        let begin = index
        while index < text.count && isWordByte(text[index]) { index += 1 }
        let word = Array(text[begin..<index])
        let upper = String(decoding: word.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
        var lookahead = index
        while lookahead < text.count && (text[lookahead] == 0x20 || text[lookahead] == 0x09 || text[lookahead] == 0x0A || text[lookahead] == 0x0D) {
            lookahead += 1
        }
        let callsFunction = lookahead < text.count && text[lookahead] == 0x28
        if let keyword = CESQLToken.Keyword(rawValue: upper), !(callsFunction && keyword == .exists) {
            return .keyword(keyword)
        }
        if upper == "TRUE" { return .boolean(true) }
        if upper == "FALSE" { return .boolean(false) }
        if callsFunction {
            guard let first = word.first, isLetter(first), word.allSatisfy({ isLetter($0) || $0 == 0x5F }) else {
                throw CESQLParseError(message: "invalid function name \(String(decoding: word, as: UTF8.self))", column: start)
            }
            return .function(upper)
        }
        guard word.allSatisfy({ isLetter($0) || isDigit($0) }) else {
            throw CESQLParseError(message: "invalid identifier \(String(decoding: word, as: UTF8.self))", column: start)
        }
        return .identifier(word.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 })
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    private func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }
    private func isWordByte(_ byte: UInt8) -> Bool { isLetter(byte) || isDigit(byte) || byte == 0x5F }
}


enum AttributeValidationBridge {
    /// `[+-]?[0-9]+` within Int32, leading zeros allowed.
    static func parseInt32(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        AttributeValidation.parseInt32(bytes, allowPlus: true, allowLeadingZeros: true)
    }
}
