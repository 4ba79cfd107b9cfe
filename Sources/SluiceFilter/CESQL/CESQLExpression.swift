import SluiceCloudEvents

/// A compiled CESQL expression. Compile once (`CESQLExpression(_:)` reports parse errors with
/// their column), evaluate per event: the syntax tree becomes a tree of operator objects whose
/// literals and names sit at fixed addresses, values are plain bits pointing into the event,
/// and an evaluation allocates only when a function builds a new string or an integer is cast
/// to text.
public struct CESQLExpression: Sendable, EventPredicate {
    let root: CESQLOperator
    public let source: String

    public init(_ expression: String) throws(CESQLParseError) {
        root = CESQLOperator.compile(try CESQLParser.parse(expression))
        source = expression
    }

    /// The result of an evaluation: the value and the first error raised, if any.
    public struct Result: Sendable {
        public let value: CESQLResultValue
        public let error: CESQLErrorKind?
    }

    public func evaluate(_ event: EventView) -> Result {
        var evaluation = CESQLEvaluation(event: event)
        let value = root.evaluate(&evaluation)
        return Result(value: value.result, error: evaluation.error)
    }

    /// The filter semantics: Boolean true without error.
    public func matches(_ event: EventView) -> Bool {
        var evaluation = CESQLEvaluation(event: event)
        let value = root.evaluate(&evaluation)
        guard evaluation.error == nil, case .boolean(let result) = value.storage else { return false }
        return result
    }
}

/// The state of one evaluation. Errors are fail-fast: the first one is kept, and every
/// enclosing operator, seeing it, returns the zero value of its own type without evaluating
/// further operands.
struct CESQLEvaluation: ~Copyable {
    let event: EventView
    private(set) var error: CESQLErrorKind?
    var arena = CESQLArena()

    init(event: EventView) {
        self.event = event
    }

    @inline(__always)
    var failed: Bool { error != nil }

    mutating func fail(_ kind: CESQLErrorKind) {
        if error == nil { error = kind }
    }

    /// Evaluates `node` and casts the result to Boolean; nil once an error is raised.
    @inline(__always)
    mutating func boolean(_ node: CESQLOperator) -> Bool? {
        let value = node.evaluate(&self)
        if failed { return nil }
        let (boolean, castError) = value.toBoolean()
        if let castError { fail(castError); return nil }
        return boolean
    }

    /// Evaluates `node` and casts the result to Integer; nil once an error is raised.
    @inline(__always)
    mutating func integer(_ node: CESQLOperator) -> Int32? {
        let value = node.evaluate(&self)
        if failed { return nil }
        let (integer, castError) = value.toInteger()
        if let castError { fail(castError); return nil }
        return integer
    }

    /// Casts `value` to `type`, recording a failed cast.
    @inline(__always)
    mutating func cast(_ value: CESQLValue, to type: CESQLType) -> CESQLValue {
        let (cast, castError) = value.cast(to: type, &arena)
        if let castError { fail(castError) }
        return cast
    }
}
