/// The syntax tree of a CESQL expression.
indirect enum CESQLNode: Sendable {
    case literal(CESQLLiteralValue)
    case attribute([UInt8])
    case exists([UInt8])
    case not(CESQLNode)
    case negate(CESQLNode)
    case binary(CESQLBinaryOperator, CESQLNode, CESQLNode)
    case like(CESQLNode, CESQLLikePattern, negated: Bool)
    case `in`(CESQLNode, [CESQLNode], negated: Bool)
    case call(CESQLFunction, [CESQLNode])
    /// A call no built-in answers (unknown name or arity): false with a MissingFunctionError.
    case missingFunction(String)
}

enum CESQLLiteralValue: Sendable {
    case boolean(Bool)
    case integer(Int32)
    case string([UInt8])
}

enum CESQLBinaryOperator: Sendable {
    case and, or, xor
    case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual
    case plus, minus, multiply, divide, modulo

    /// The precedence climbing levels (higher binds tighter) and associativity.
    var precedence: Int {
        switch self {
        case .and, .or, .xor: return 1
        case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual: return 2
        case .plus, .minus: return 3
        case .multiply, .divide, .modulo: return 4
        }
    }

    var rightAssociative: Bool { precedence == 1 }
}

/// A recursive-descent parser with precedence climbing over the CESQL grammar
/// (cesql/spec.md §2 and CESQLParser.g4). From loosest to tightest: AND/OR/XOR (right
/// associative), comparisons, + -, * / %, IN, LIKE, unary NOT and -, then primaries (literals,
/// identifiers, EXISTS, function calls, parentheses).
struct CESQLParser {
    private let tokens: [(token: CESQLToken, column: Int)]
    private var position = 0
    private static let inLevel = 5
    private static let likeLevel = 6
    private static let unaryLevel = 7
    private static let maxDepth = 200
    private var depth = 0

    static func parse(_ expression: String) throws(CESQLParseError) -> CESQLNode {
        var parser = CESQLParser(tokens: try CESQLLexer.tokenize(expression))
        let node = try parser.expression(minimumPrecedence: 1)
        guard case .end = parser.current else { throw parser.error("unexpected \(parser.describe(parser.current))") }
        return node
    }

    private init(tokens: [(token: CESQLToken, column: Int)]) {
        self.tokens = tokens
    }

    private var current: CESQLToken { tokens[position].token }

    private func error(_ message: String) -> CESQLParseError {
        CESQLParseError(message: message, column: tokens[position].column)
    }

    private mutating func advance() { if position < tokens.count - 1 { position += 1 } }

    private mutating func expression(minimumPrecedence: Int) throws(CESQLParseError) -> CESQLNode {
        depth += 1
        defer { depth -= 1 }
        guard depth < CESQLParser.maxDepth else { throw error("expression nested too deeply") }
        var left = try unary()
        while true {
            // Postfix LIKE and IN (each optionally preceded by NOT) bind tighter than the
            // binary operators.
            if let postfix = try postfix(left, minimumPrecedence: minimumPrecedence) {
                left = postfix
                continue
            }
            guard let op = binaryOperator(current), op.precedence >= minimumPrecedence else { return left }
            advance()
            let right = try expression(minimumPrecedence: op.rightAssociative ? op.precedence : op.precedence + 1)
            left = .binary(op, left, right)
        }
    }

    private mutating func postfix(_ left: CESQLNode, minimumPrecedence: Int) throws(CESQLParseError) -> CESQLNode? {
        var negated = false
        var lookahead = position
        if case .keyword(.not) = tokens[lookahead].token {
            negated = true
            lookahead += 1
        }
        switch tokens[lookahead].token {
        case .keyword(.like) where CESQLParser.likeLevel >= minimumPrecedence:
            position = lookahead
            advance()
            guard case .string(let pattern) = current else { throw error("LIKE needs a string literal pattern") }
            advance()
            return .like(left, CESQLLikePattern(pattern), negated: negated)
        case .keyword(.in) where CESQLParser.inLevel >= minimumPrecedence:
            position = lookahead
            advance()
            guard case .symbol(.open) = current else { throw error("IN needs a parenthesised list") }
            advance()
            var elements: [CESQLNode] = []
            repeat {
                if !elements.isEmpty { advance() }
                elements.append(try expression(minimumPrecedence: 1))
            } while current == .symbol(.comma)
            guard case .symbol(.close) = current else { throw error("expected \")\" to close the IN list") }
            advance()
            return .in(left, elements, negated: negated)
        default:
            return nil
        }
    }

    private mutating func unary() throws(CESQLParseError) -> CESQLNode {
        switch current {
        case .keyword(.not):
            advance()
            return .not(try expression(minimumPrecedence: CESQLParser.unaryLevel))
        case .symbol(.minus):
            advance()
            return .negate(try expression(minimumPrecedence: CESQLParser.unaryLevel))
        default:
            return try primary()
        }
    }

    private mutating func primary() throws(CESQLParseError) -> CESQLNode {
        let token = current
        switch token {
        case .integer(let value):
            advance()
            return .literal(.integer(value))
        case .string(let value):
            advance()
            return .literal(.string(value))
        case .boolean(let value):
            advance()
            return .literal(.boolean(value))
        case .identifier(let name):
            advance()
            return .attribute(name)
        case .keyword(.exists):
            advance()
            guard case .identifier(let name) = current else { throw error("EXISTS needs an attribute name") }
            advance()
            return .exists(name)
        case .function(let name):
            advance()
            guard case .symbol(.open) = current else { throw error("expected \"(\" after \(name)") }
            advance()
            var arguments: [CESQLNode] = []
            if current != .symbol(.close) {
                repeat {
                    if !arguments.isEmpty { advance() }
                    arguments.append(try expression(minimumPrecedence: 1))
                } while current == .symbol(.comma)
            }
            guard case .symbol(.close) = current else { throw error("expected \")\" to close the call of \(name)") }
            advance()
            guard let function = CESQLFunction.resolve(name, arity: arguments.count) else { return .missingFunction(name) }
            return .call(function, arguments)
        case .symbol(.open):
            advance()
            let inner = try expression(minimumPrecedence: 1)
            guard case .symbol(.close) = current else { throw error("expected \")\"") }
            advance()
            return inner
        default:
            throw error("unexpected \(describe(token))")
        }
    }

    private func binaryOperator(_ token: CESQLToken) -> CESQLBinaryOperator? {
        switch token {
        case .keyword(.and): return .and
        case .keyword(.or): return .or
        case .keyword(.xor): return .xor
        case .symbol(.equal): return .equal
        case .symbol(.notEqual), .symbol(.lessGreater): return .notEqual
        case .symbol(.less): return .less
        case .symbol(.lessOrEqual): return .lessOrEqual
        case .symbol(.greater): return .greater
        case .symbol(.greaterOrEqual): return .greaterOrEqual
        case .symbol(.plus): return .plus
        case .symbol(.minus): return .minus
        case .symbol(.star): return .multiply
        case .symbol(.slash): return .divide
        case .symbol(.percent): return .modulo
        default: return nil
        }
    }

    private func describe(_ token: CESQLToken) -> String {
        switch token {
        case .integer(let value): return "integer \(value)"
        case .string: return "string literal"
        case .boolean(let value): return value ? "TRUE" : "FALSE"
        case .identifier(let name): return "identifier \(String(decoding: name, as: UTF8.self))"
        case .function(let name): return "function \(name)"
        case .keyword(let keyword): return keyword.rawValue
        case .symbol(let symbol): return "\"\(symbol.rawValue)\""
        case .end: return "end of expression"
        }
    }
}
