import Glibc
internal import COpenSSL

/// Certificates trusted beyond the system's roots: every `*.pem` and `*.crt` file of a
/// directory (Knative's `/knative-custom-certs` convention, `--trust-bundle-dir`), as one PEM
/// text: what the HTTP client's contexts load, and what clients with their own OpenSSL context,
/// such as librdkafka's, are given.
public struct TrustBundle: Sendable {
    /// Every certificate of the files, in order, as PEM (whatever surrounded them dropped).
    public let pem: String

    /// Reads the directory; a file that holds no certificate fails the bundle, with its name.
    public init(directory: String) throws(TLSError) {
        guard let handle = opendir(directory) else {
            throw TLSError("\(directory): \(String(cString: strerror(errno)))")
        }
        defer { closedir(handle) }
        var files: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".pem") || name.hasSuffix(".crt") else { continue }
            files.append(directory + "/" + name)
        }
        files.sort()
        var pem = ""
        for file in files { pem += try TrustBundle.certificates(in: file) }
        self.pem = pem
    }

    /// OpenSSL's file of the system's root certificates (`SSL_CERT_FILE`, or the one it was
    /// built with), when it exists: what a client that is given its own authorities must load
    /// to keep trusting the system's too.
    public static var systemRootsFile: String? {
        let variable = String(cString: X509_get_default_cert_file_env())
        let path = getenv(variable).map { String(cString: $0) } ?? String(cString: X509_get_default_cert_file())
        return access(path, R_OK) == 0 ? path : nil
    }

    /// The certificates of one PEM file, re-encoded.
    private static func certificates(in file: String) throws(TLSError) -> String {
        ERR_clear_error()
        guard let input = BIO_new_file(file, "r") else { throw .drainingQueue("\(file): cannot be read") }
        defer { BIO_free(input) }
        guard let output = BIO_new(BIO_s_mem()) else { throw .drainingQueue("\(file): out of memory") }
        defer { BIO_free(output) }
        var count = 0
        while let certificate = PEM_read_bio_X509(input, nil, nil, nil) {
            defer { X509_free(certificate) }
            guard PEM_write_bio_X509(output, certificate) == 1 else { throw .drainingQueue("\(file): cannot encode certificate \(count + 1)") }
            count += 1
        }
        ERR_clear_error()  // the read that ends the loop queues "no start line"
        guard count > 0 else { throw TLSError("\(file): not a PEM certificate") }
        var bytes: UnsafeMutablePointer<CChar>?
        let length = sluice_bio_get_mem_data(output, &bytes)
        guard let bytes, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: Int(length)), as: UTF8.self)
    }
}
