/// A fatal start-up problem: printed as one line, exit code 1.
struct ExitError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
