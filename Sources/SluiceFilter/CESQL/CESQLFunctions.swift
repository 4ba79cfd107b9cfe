/// The built-in functions (spec §3.5, plus INT, BOOL, STRING that the TCK requires and IS_INT,
/// IS_BOOL that the SDKs ship). A call resolves by name and arity; anything else is a
/// MissingFunctionError at evaluation time.
enum CESQLFunction: Sendable {
    case length, concat, concatWithSeparator, lower, upper, trim, left, right, substring, substringLength
    case abs, int, bool, string, isInt, isBool

    static func resolve(_ name: String, arity: Int) -> CESQLFunction? {
        switch (name, arity) {
        case ("LENGTH", 1): return .length
        case ("CONCAT", _): return .concat
        case ("CONCAT_WS", let count) where count >= 1: return .concatWithSeparator
        case ("LOWER", 1): return .lower
        case ("UPPER", 1): return .upper
        case ("TRIM", 1): return .trim
        case ("LEFT", 2): return .left
        case ("RIGHT", 2): return .right
        case ("SUBSTRING", 2): return .substring
        case ("SUBSTRING", 3): return .substringLength
        case ("ABS", 1): return .abs
        case ("INT", 1): return .int
        case ("BOOL", 1): return .bool
        case ("STRING", 1): return .string
        case ("IS_INT", 1): return .isInt
        case ("IS_BOOL", 1): return .isBool
        default: return nil
        }
    }

    var returnType: CESQLType {
        switch self {
        case .length, .abs, .int: return .integer
        case .bool, .isInt, .isBool: return .boolean
        default: return .string
        }
    }

    /// The type each argument is cast to; nil means any (no cast).
    func parameterType(_ index: Int) -> CESQLType? {
        switch self {
        case .length, .concat, .concatWithSeparator, .lower, .upper, .trim: return .string
        case .left, .right, .substring, .substringLength: return index == 0 ? .string : .integer
        case .abs: return .integer
        case .int, .bool, .string, .isInt, .isBool: return nil
        }
    }

    /// Applies the function to arguments already cast to their parameter types. New strings
    /// live in the evaluation's arena.
    func apply(_ arguments: UnsafeBufferPointer<CESQLValue>, _ evaluation: inout CESQLEvaluation) -> CESQLValue {
        switch self {
        case .length:
            return .integer(Int32(clamping: scalars(arguments[0]).count))
        case .concat:
            var result: [UInt8] = []
            for argument in arguments { result.append(contentsOf: argument.bytes) }
            return .string(evaluation.arena.store(result))
        case .concatWithSeparator:
            var result: [UInt8] = []
            for (index, argument) in arguments.dropFirst().enumerated() {
                if index > 0 { result.append(contentsOf: arguments[0].bytes) }
                result.append(contentsOf: argument.bytes)
            }
            return .string(evaluation.arena.store(result))
        case .lower:
            return .string(evaluation.arena.store(text(arguments[0]).lowercased().utf8))
        case .upper:
            return .string(evaluation.arena.store(text(arguments[0]).uppercased().utf8))
        case .trim:
            var characters = Substring.UnicodeScalarView(text(arguments[0]).unicodeScalars)
            while let first = characters.first, first.properties.isWhitespace { characters.removeFirst() }
            while let last = characters.last, last.properties.isWhitespace { characters.removeLast() }
            return .string(evaluation.arena.store(String(characters).utf8))
        case .left, .right:
            let characters = scalars(arguments[0])
            let (count, _) = arguments[1].toInteger()
            if count < 0 {
                evaluation.fail(.functionEvaluation)
                return arguments[0]
            }
            let taken = self == .left ? characters.prefix(Int(count)) : characters.suffix(Int(count))
            return .string(evaluation.arena.store(utf8(taken)))
        case .substring, .substringLength:
            return substring(arguments, &evaluation)
        case .abs:
            let (value, _) = arguments[0].toInteger()
            if value == Int32.min {
                evaluation.fail(.math)
                return .integer(Int32.max)
            }
            return .integer(Swift.abs(value))
        case .int:
            let (value, error) = arguments[0].toInteger()
            if let error { evaluation.fail(error) }
            return .integer(value)
        case .bool:
            let (value, error) = arguments[0].toBoolean()
            if let error { evaluation.fail(error) }
            return .boolean(value)
        case .string:
            return arguments[0].toStringValue(&evaluation.arena)
        case .isInt:
            return .boolean(arguments[0].toInteger().1 == nil)
        case .isBool:
            return .boolean(arguments[0].toBoolean().1 == nil)
        }
    }

    /// SUBSTRING(x, pos[, len]): 1-based, negative positions count from the end, position 0
    /// gives "" without error, positions beyond the string and negative lengths are errors.
    private func substring(_ arguments: UnsafeBufferPointer<CESQLValue>, _ evaluation: inout CESQLEvaluation) -> CESQLValue {
        let characters = scalars(arguments[0])
        let count = characters.count
        let position = Int(arguments[1].toInteger().0)
        if position == 0 { return .emptyString }
        if position > count || position < -count {
            evaluation.fail(.functionEvaluation)
            return .emptyString
        }
        let start = position > 0 ? position - 1 : count + position
        var end = count
        if self == .substringLength {
            let length = Int(arguments[2].toInteger().0)
            if length < 0 {
                evaluation.fail(.functionEvaluation)
                return .emptyString
            }
            end = min(count, start + length)
        }
        return .string(evaluation.arena.store(utf8(characters[start..<end])))
    }

    private func text(_ value: CESQLValue) -> String {
        String(decoding: value.bytes, as: UTF8.self)
    }

    private func scalars(_ value: CESQLValue) -> [Unicode.Scalar] {
        Array(text(value).unicodeScalars)
    }

    private func utf8<S: Sequence>(_ scalars: S) -> [UInt8] where S.Element == Unicode.Scalar {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return Array(String(view).utf8)
    }
}
