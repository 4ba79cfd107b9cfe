import SluiceCloudEvents

/// A compiled CESQL expression. Compile once (`CESQLExpression(_:)` reports parse errors with
/// their column), evaluate per event; evaluation reads the event's bytes in place and
/// allocates only when a function builds a new string or a cast turns a number into text.
public struct CESQLExpression: Sendable, EventPredicate {
    let root: CESQLNode
    public let source: String

    public init(_ expression: String) throws(CESQLParseError) {
        root = try CESQLParser.parse(expression)
        source = expression
    }

    /// The result of an evaluation: the value and the first error raised, if any.
    public struct Result: Sendable {
        public let value: CESQLValue
        public let error: CESQLErrorKind?
    }

    public func evaluate(_ event: EventView) -> Result {
        let (value, error) = Evaluator(event: event).evaluate(root)
        return Result(value: value, error: error)
    }

    /// The filter semantics: Boolean true without error.
    public func matches(_ event: EventView) -> Bool {
        let (value, error) = Evaluator(event: event).evaluate(root)
        guard error == nil, case .boolean(let result) = value.storage else { return false }
        return result
    }
}

/// Walks the tree over one event, fail-fast: a failing child makes its parent return the zero
/// value of the parent's own type with the child's error.
struct Evaluator {
    let event: EventView
    typealias Outcome = (CESQLValue, CESQLErrorKind?)

    func evaluate(_ node: CESQLNode) -> Outcome {
        switch node {
        case .literal(let literal):
            switch literal {
            case .boolean(let value): return (.boolean(value), nil)
            case .integer(let value): return (.integer(value), nil)
            case .string(let bytes): return (.string(bytes), nil)
            }
        case .attribute(let name):
            return attribute(name)
        case .exists(let name):
            return (.boolean(exists(name)), nil)
        case .not(let operand):
            let (value, error) = evaluate(operand)
            if error != nil { return (.boolean(false), error) }
            let (boolean, castError) = value.toBoolean()
            if castError != nil { return (.boolean(false), castError) }
            return (.boolean(!boolean), nil)
        case .negate(let operand):
            let (value, error) = evaluate(operand)
            if error != nil { return (.integer(0), error) }
            let (integer, castError) = value.toInteger()
            if castError != nil { return (.integer(0), castError) }
            return (.integer(0 &- integer), nil)
        case .binary(let op, let left, let right):
            return binary(op, left, right)
        case .like(let operand, let pattern, let negated):
            let (value, error) = evaluate(operand)
            if error != nil { return (.boolean(false), error) }
            let matched = value.toStringValue().withBytes { pattern.matches($0) }
            return (.boolean(matched != negated), nil)
        case .in(let operand, let elements, let negated):
            let (value, error) = evaluate(operand)
            if error != nil { return (.boolean(false), error) }
            for element in elements {
                let (candidate, elementError) = evaluate(element)
                if elementError != nil { return (.boolean(false), elementError) }
                let (cast, castError) = candidate.cast(to: value.type)
                if castError != nil { return (.boolean(false), castError) }
                if value.equals(cast) { return (.boolean(!negated), nil) }
            }
            return (.boolean(negated), nil)
        case .call(let function, let argumentNodes):
            var arguments: [CESQLValue] = []
            arguments.reserveCapacity(argumentNodes.count)
            for (index, argumentNode) in argumentNodes.enumerated() {
                let (value, error) = evaluate(argumentNode)
                if error != nil { return (.zero(function.returnType), error) }
                guard let type = function.parameterType(index) else {
                    arguments.append(value)
                    continue
                }
                let (cast, castError) = value.cast(to: type)
                if castError != nil { return (.zero(function.returnType), castError) }
                arguments.append(cast)
            }
            return function.apply(arguments)
        case .missingFunction:
            return (.boolean(false), .missingFunction)
        }
    }

    private func binary(_ op: CESQLBinaryOperator, _ leftNode: CESQLNode, _ rightNode: CESQLNode) -> Outcome {
        switch op {
        case .and, .or:
            let (left, leftError) = evaluate(leftNode)
            if leftError != nil { return (.boolean(false), leftError) }
            let (leftValue, leftCast) = left.toBoolean()
            if leftCast != nil { return (.boolean(false), leftCast) }
            // Short-circuit: the right side is not evaluated, so it raises nothing.
            if op == .and && !leftValue { return (.boolean(false), nil) }
            if op == .or && leftValue { return (.boolean(true), nil) }
            let (right, rightError) = evaluate(rightNode)
            if rightError != nil { return (.boolean(false), rightError) }
            let (rightValue, rightCast) = right.toBoolean()
            if rightCast != nil { return (.boolean(false), rightCast) }
            return (.boolean(rightValue), nil)
        case .xor:
            let (left, leftError) = evaluate(leftNode)
            if leftError != nil { return (.boolean(false), leftError) }
            let (right, rightError) = evaluate(rightNode)
            if rightError != nil { return (.boolean(false), rightError) }
            let (leftValue, leftCast) = left.toBoolean()
            if leftCast != nil { return (.boolean(false), leftCast) }
            let (rightValue, rightCast) = right.toBoolean()
            if rightCast != nil { return (.boolean(false), rightCast) }
            return (.boolean(leftValue != rightValue), nil)
        case .equal, .notEqual:
            let (left, leftError) = evaluate(leftNode)
            if leftError != nil { return (.boolean(false), leftError) }
            let (right, rightError) = evaluate(rightNode)
            if rightError != nil { return (.boolean(false), rightError) }
            // The right operand's type picks the overload; the left is cast to it (§3.7).
            let (cast, castError) = left.cast(to: right.type)
            if castError != nil { return (.boolean(false), castError) }
            return (.boolean(cast.equals(right) == (op == .equal)), nil)
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let (left, leftError) = integerOperand(leftNode)
            if leftError != nil { return (.boolean(false), leftError) }
            let (right, rightError) = integerOperand(rightNode)
            if rightError != nil { return (.boolean(false), rightError) }
            switch op {
            case .less: return (.boolean(left < right), nil)
            case .lessOrEqual: return (.boolean(left <= right), nil)
            case .greater: return (.boolean(left > right), nil)
            default: return (.boolean(left >= right), nil)
            }
        case .plus, .minus, .multiply, .divide, .modulo:
            let (left, leftError) = integerOperand(leftNode)
            if leftError != nil { return (.integer(0), leftError) }
            let (right, rightError) = integerOperand(rightNode)
            if rightError != nil { return (.integer(0), rightError) }
            switch op {
            case .plus: return (.integer(left &+ right), nil)
            case .minus: return (.integer(left &- right), nil)
            case .multiply: return (.integer(left &* right), nil)
            case .divide:
                if right == 0 { return (.integer(0), .math) }
                return (.integer(left.dividedReportingOverflow(by: right).partialValue), nil)
            default:
                if right == 0 { return (.integer(0), .math) }
                return (.integer(left.remainderReportingOverflow(dividingBy: right).partialValue), nil)
            }
        }
    }

    /// Evaluates and casts to Integer, for the operators that take integers only.
    @inline(__always)
    private func integerOperand(_ node: CESQLNode) -> (Int32, CESQLErrorKind?) {
        let (value, error) = evaluate(node)
        if error != nil { return (0, error) }
        return value.toInteger()
    }

    // MARK: Attributes

    /// An attribute's value with its CESQL type: extensions typed Integer or Boolean (from the
    /// JSON format) keep their type; everything else reads as String (§3.2).
    private func attribute(_ name: [UInt8]) -> Outcome {
        name.withUnsafeBytes { bytes in
            if isSpecVersion(bytes) {
                let text: StaticString = event.specVersion == .v1_0 ? "1.0" : "0.3"
                return (.string(borrowing: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)), nil)
            }
            guard let index = event.index(ofBytes: bytes) else { return (.boolean(false), .missingAttribute) }
            let value = event.value(at: index)
            switch event.kind(at: index) {
            case .integer:
                return (.integer(AttributeValidationBridge.parseInt32(value) ?? 0), nil)
            case .boolean:
                return (.boolean(SluiceFilterBytes.equal(value, UnsafeRawBufferPointer(start: StaticString("true").utf8Start, count: 4))), nil)
            default:
                return (.string(borrowing: value), nil)
            }
        }
    }

    private func exists(_ name: [UInt8]) -> Bool {
        name.withUnsafeBytes { bytes in isSpecVersion(bytes) || event.index(ofBytes: bytes) != nil }
    }

    @inline(__always)
    private func isSpecVersion(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count == 11 && SluiceCloudEvents.bytesEqual(bytes, AttributeName.specversion)
    }
}
