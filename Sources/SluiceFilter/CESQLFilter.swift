import SluiceConfig

extension FilterCompiler {
    /// The `cesql` dialect: the expression is parsed once here; a parse error is reported with
    /// its column, as `file:line: cesql: <message> at column N`.
    static func compileCESQL(_ expression: String, location: SourceLocation) throws(Problem) -> Filter {
        do {
            return .expression(try CESQLExpression(expression))
        } catch {
            throw Problem(location: location, message: "cesql: \(error.message) at column \(error.column)")
        }
    }
}
