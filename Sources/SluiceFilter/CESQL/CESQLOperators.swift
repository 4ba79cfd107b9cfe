import SluiceCloudEvents

/// One node of a compiled expression. Subclasses override `evaluate`; the tree is immutable,
/// so it is shared by every loop thread without locks.
class CESQLOperator: @unchecked Sendable {  // immutable after compile
    /// The type of the values this node produces, known at compile time.
    let type: CESQLType

    init(type: CESQLType) {
        self.type = type
    }

    func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue {
        .zero(type)
    }

    /// Turns a syntax tree into operators, picking specialised ones where the operand kinds
    /// are known (an attribute compared with a string literal).
    static func compile(_ node: CESQLNode) -> CESQLOperator {
        switch node {
        case .literal(let literal):
            return CESQLLiteral(literal)
        case .attribute(let name):
            return CESQLAttribute(name)
        case .exists(let name):
            return CESQLExists(name)
        case .not(let operand):
            return CESQLNot(compile(operand))
        case .negate(let operand):
            return CESQLNegate(compile(operand))
        case .binary(let op, let left, let right):
            switch op {
            case .and, .or, .xor:
                return CESQLLogical(op, compile(left), compile(right))
            case .equal, .notEqual:
                if case .attribute(let name) = left, case .literal(.string(let text)) = right {
                    return CESQLAttributeEqualsText(name, text, negated: op == .notEqual)
                }
                return CESQLEquality(compile(left), compile(right), negated: op == .notEqual)
            default:
                return CESQLArithmetic(op, compile(left), compile(right))
            }
        case .like(let operand, let pattern, let negated):
            return CESQLLike(compile(operand), pattern, negated: negated)
        case .in(let operand, let elements, let negated):
            return CESQLIn(compile(operand), elements.map(compile), negated: negated)
        case .call(let function, let arguments):
            return CESQLCall(function, arguments.map(compile))
        case .missingFunction:
            return CESQLMissingFunction()
        }
    }
}

final class CESQLLiteral: CESQLOperator, @unchecked Sendable {
    private let value: CESQLValue
    private let bytes: CESQLBytes?

    init(_ literal: CESQLLiteralValue) {
        switch literal {
        case .boolean(let value):
            (self.value, bytes) = (.boolean(value), nil)
        case .integer(let value):
            (self.value, bytes) = (.integer(value), nil)
        case .string(let text):
            let bytes = CESQLBytes(text)
            (self.value, self.bytes) = (.string(bytes.buffer), bytes)
        }
        super.init(type: value.type)
    }

    override func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue { value }
}

/// An attribute's value with its CESQL type: extensions typed Integer or Boolean (from the
/// JSON format) keep their type; everything else reads as String (§3.2). The type the parent
/// sees is therefore only known per event; `type` says String, the common case.
class CESQLAttribute: CESQLOperator, @unchecked Sendable {
    let name: CESQLBytes
    let isSpecVersion: Bool

    init(_ name: [UInt8]) {
        self.name = CESQLBytes(name)
        isSpecVersion = name.elementsEqual("specversion".utf8)
        super.init(type: .string)
    }

    override func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue {
        if isSpecVersion { return evaluation.event.specVersion == .v1_0 ? .string("1.0") : .string("0.3") }
        guard let index = evaluation.event.index(ofBytes: name.buffer) else {
            evaluation.fail(.missingAttribute)
            return .boolean(false)
        }
        let value = evaluation.event.value(at: index)
        switch evaluation.event.kind(at: index) {
        case .integer: return .integer(AttributeValidationBridge.parseInt32(value) ?? 0)
        case .boolean: return .boolean(bytesEqual(value, "true"))
        default: return .string(value)
        }
    }
}

final class CESQLExists: CESQLAttribute, @unchecked Sendable {
    override func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue {
        .boolean(isSpecVersion || evaluation.event.index(ofBytes: name.buffer) != nil)
    }
}

final class CESQLNot: CESQLOperator, @unchecked Sendable {
    private let operand: CESQLOperator

    init(_ operand: CESQLOperator) {
        self.operand = operand
        super.init(type: .boolean)
    }

    override func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue {
        guard let value = evaluation.boolean(operand) else { return .boolean(false) }
        return .boolean(!value)
    }
}

final class CESQLNegate: CESQLOperator, @unchecked Sendable {
    private let operand: CESQLOperator

    init(_ operand: CESQLOperator) {
        self.operand = operand
        super.init(type: .integer)
    }

    override func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue {
        guard let value = evaluation.integer(operand) else { return .integer(0) }
        return .integer(0 &- value)
    }
}

/// AND and OR short-circuit: the right side is not evaluated, so it raises nothing. XOR
/// needs both sides.
final class CESQLLogical: CESQLOperator, @unchecked Sendable {
    private let op: CESQLBinaryOperator
    private let left: CESQLOperator
    private let right: CESQLOperator

    init(_ op: CESQLBinaryOperator, _ left: CESQLOperator, _ right: CESQLOperator) {
        (self.op, self.left, self.right) = (op, left, right)
        super.init(type: .boolean)
    }

    override func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue {
        if op == .xor {
            // Both operands are evaluated before either is cast, as the reference SDK does.
            let leftValue = left.evaluate(&evaluation)
            if evaluation.failed { return .boolean(false) }
            let rightValue = right.evaluate(&evaluation)
            if evaluation.failed { return .boolean(false) }
            let a = evaluation.cast(leftValue, to: .boolean)
            if evaluation.failed { return .boolean(false) }
            let b = evaluation.cast(rightValue, to: .boolean)
            if evaluation.failed { return .boolean(false) }
            return .boolean(!a.equals(b))
        }
        guard let leftValue = evaluation.boolean(left) else { return .boolean(false) }
        if op == .and && !leftValue { return .boolean(false) }
        if op == .or && leftValue { return .boolean(true) }
        guard let rightValue = evaluation.boolean(right) else { return .boolean(false) }
        return .boolean(rightValue)
    }
}

/// `=` and `!=`: the right operand's type picks the overload; the left is cast to it (§3.7).
final class CESQLEquality: CESQLOperator, @unchecked Sendable {
    private let left: CESQLOperator
    private let right: CESQLOperator
    private let negated: Bool

    init(_ left: CESQLOperator, _ right: CESQLOperator, negated: Bool) {
        (self.left, self.right, self.negated) = (left, right, negated)
        super.init(type: .boolean)
    }

    override func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue {
        let leftValue = left.evaluate(&evaluation)
        if evaluation.failed { return .boolean(false) }
        let rightValue = right.evaluate(&evaluation)
        if evaluation.failed { return .boolean(false) }
        let cast = evaluation.cast(leftValue, to: rightValue.type)
        if evaluation.failed { return .boolean(false) }
        return .boolean(cast.equals(rightValue) != negated)
    }
}

/// `attribute = 'text'`, the most common comparison: a String attribute is compared in place;
/// an Integer or Boolean extension goes through the general cast to String.
final class CESQLAttributeEqualsText: CESQLOperator, @unchecked Sendable {
    private let attribute: CESQLAttribute
    private let text: CESQLBytes
    private let negated: Bool

    init(_ name: [UInt8], _ text: [UInt8], negated: Bool) {
        (attribute, self.text, self.negated) = (CESQLAttribute(name), CESQLBytes(text), negated)
        super.init(type: .boolean)
    }

    override func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue {
        let value = attribute.evaluate(&evaluation)
        if evaluation.failed { return .boolean(false) }
        if case .string(let bytes) = value.storage { return .boolean(bytesEqual(bytes, text.buffer) != negated) }
        let cast = evaluation.cast(value, to: .string)
        return .boolean(bytesEqual(cast.bytes, text.buffer) != negated)
    }
}

/// The operators on integers: comparisons (`<`, `<=`, `>`, `>=`) and arithmetic. Overflow
/// wraps; division and modulo by zero are MathErrors.
final class CESQLArithmetic: CESQLOperator, @unchecked Sendable {
    private let op: CESQLBinaryOperator
    private let left: CESQLOperator
    private let right: CESQLOperator

    init(_ op: CESQLBinaryOperator, _ left: CESQLOperator, _ right: CESQLOperator) {
        (self.op, self.left, self.right) = (op, left, right)
        super.init(type: op.precedence == 2 ? .boolean : .integer)
    }

    override func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue {
        guard let a = evaluation.integer(left), let b = evaluation.integer(right) else { return .zero(type) }
        switch op {
        case .less: return .boolean(a < b)
        case .lessOrEqual: return .boolean(a <= b)
        case .greater: return .boolean(a > b)
        case .greaterOrEqual: return .boolean(a >= b)
        case .plus: return .integer(a &+ b)
        case .minus: return .integer(a &- b)
        case .multiply: return .integer(a &* b)
        case .divide, .modulo:
            if b == 0 {
                evaluation.fail(.math)
                return .integer(0)
            }
            return .integer(op == .divide ? a.dividedReportingOverflow(by: b).partialValue
                                          : a.remainderReportingOverflow(dividingBy: b).partialValue)
        case .and, .or, .xor, .equal, .notEqual:
            return .zero(type)  // compiled into CESQLLogical and CESQLEquality instead
        }
    }
}

final class CESQLLike: CESQLOperator, @unchecked Sendable {
    private let operand: CESQLOperator
    private let pattern: CESQLLikePattern
    private let negated: Bool

    init(_ operand: CESQLOperator, _ pattern: CESQLLikePattern, negated: Bool) {
        (self.operand, self.pattern, self.negated) = (operand, pattern, negated)
        super.init(type: .boolean)
    }

    override func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue {
        let value = operand.evaluate(&evaluation)
        if evaluation.failed { return .boolean(false) }
        let text = value.toStringValue(&evaluation.arena)
        return .boolean(pattern.matches(text.bytes) != negated)
    }
}

/// `IN`: elements are evaluated left to right, each cast to the operand's type, up to the
/// first match; a failing element ends the evaluation (fail-fast).
final class CESQLIn: CESQLOperator, @unchecked Sendable {
    private let operand: CESQLOperator
    private let elements: [CESQLOperator]
    private let negated: Bool

    init(_ operand: CESQLOperator, _ elements: [CESQLOperator], negated: Bool) {
        (self.operand, self.elements, self.negated) = (operand, elements, negated)
        super.init(type: .boolean)
    }

    override func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue {
        let value = operand.evaluate(&evaluation)
        if evaluation.failed { return .boolean(false) }
        for index in elements.indices {
            let candidate = elements[index].evaluate(&evaluation)
            if evaluation.failed { return .boolean(false) }
            let cast = evaluation.cast(candidate, to: value.type)
            if evaluation.failed { return .boolean(false) }
            if value.equals(cast) { return .boolean(!negated) }
        }
        return .boolean(negated)
    }
}

/// A built-in function call: arguments are evaluated left to right into a stack buffer, each
/// cast to its parameter type.
final class CESQLCall: CESQLOperator, @unchecked Sendable {
    private let function: CESQLFunction
    private let arguments: [CESQLOperator]

    init(_ function: CESQLFunction, _ arguments: [CESQLOperator]) {
        (self.function, self.arguments) = (function, arguments)
        super.init(type: function.returnType)
    }

    override func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue {
        withUnsafeTemporaryAllocation(of: CESQLValue.self, capacity: arguments.count) { values in
            for index in arguments.indices {
                var value = arguments[index].evaluate(&evaluation)
                if evaluation.failed { return .zero(type) }
                if let parameterType = function.parameterType(index) {
                    value = evaluation.cast(value, to: parameterType)
                    if evaluation.failed { return .zero(type) }
                }
                values.initializeElement(at: index, to: value)
            }
            return function.apply(UnsafeBufferPointer(values), &evaluation)
        }
    }
}

/// A call no built-in answers (unknown name or arity): false with a MissingFunctionError.
final class CESQLMissingFunction: CESQLOperator, @unchecked Sendable {
    init() {
        super.init(type: .boolean)
    }

    override func evaluate(_ evaluation: inout CESQLEvaluation) -> CESQLValue {
        evaluation.fail(.missingFunction)
        return .boolean(false)
    }
}
