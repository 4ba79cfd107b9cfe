import Foundation

/// A throwaway certificate authority and the certificates it signs, made with Debian's
/// `openssl` in a temporary directory for one test (EC P-256 keys, valid for a day, for
/// `localhost` and 127.0.0.1). Nothing here is committed: every run makes its own.
public final class TestCertificates: @unchecked Sendable {
    public let directory: String
    public var authority: String { directory + "/ca.crt" }

    public init() throws {
        directory = temporaryDirectory("tls")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try TestCertificates.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                      "-keyout", directory + "/ca.key", "-out", authority, "-days", "1", "-subj", "/CN=Sluice test CA"])
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A server certificate and key signed by the authority: (certificate path, key path).
    /// Each call makes a new pair (a new serial), as a rotation would.
    @discardableResult
    public func issue(_ name: String = "server", commonName: String = "localhost") throws -> (certificate: String, key: String) {
        let base = directory + "/" + name
        try TestCertificates.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                      "-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=\(commonName)"])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: base + ".ext", atomically: true, encoding: .utf8)
        try TestCertificates.openssl(["x509", "-req", "-in", base + ".csr", "-CA", authority, "-CAkey", directory + "/ca.key",
                                      "-CAcreateserial", "-out", base + ".crt", "-days", "1", "-extfile", base + ".ext"])
        return (base + ".crt", base + ".key")
    }

    private static func openssl(_ arguments: [String]) throws {
        let result = try runProgram("/usr/bin/openssl", arguments)
        guard result.status == 0 else { throw TestFailure("openssl \(arguments.first ?? ""): \(result.error)") }
    }
}

/// Runs a program to its end: (exit status, standard output, standard error).
public func runProgram(_ executable: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    let error = Pipe()
    let standardInput = Pipe()
    process.standardOutput = output
    process.standardError = error
    process.standardInput = standardInput
    try process.run()
    if let input { standardInput.fileHandleForWriting.write(Data(input.utf8)) }
    try? standardInput.fileHandleForWriting.close()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
}
