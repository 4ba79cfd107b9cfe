import SluiceConfig

extension FilterCompiler {
    /// The `cesql` dialect. The CESQL engine is not part of this build yet, so a trigger that
    /// uses it is refused at load time rather than silently matching everything or nothing.
    static func compileCESQL(_ expression: String, location: SourceLocation) throws(Problem) -> Filter {
        throw Problem(location: location, message: "cesql: filters are not supported by this version of Sluice yet")
    }
}
