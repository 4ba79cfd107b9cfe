import Glibc
import Logging
import SluiceIO

/// The OIDC tokens deliveries carry to destinations that name an `audience`: one file per
/// audience under a directory (`--oidc-token-dir/<audience>`, as a projected service-account
/// token volume lays them out), read again whenever it changed, which is looked at at most
/// once a second per audience, so a token the kubelet rotates is sent before it expires.
public final class BearerTokens: Sendable {
    /// The process's tokens; `configure` sets the directory once at start-up.
    public static let shared = BearerTokens()

    private struct Entry {
        var token: String?
        var stamp: FileStamp
        var checkedAt: UInt64
    }

    private let directory = Locked<String?>(nil)
    private let entries = Locked<[String: Entry]>([:])
    private let missing = RateLimitedLog(interval: .seconds(30))
    private let logger = Logger(label: "sluice.oidc")

    public func configure(directory: String?) {
        self.directory.withLock { $0 = directory }
    }

    /// The token for `audience`, or nil when there is no directory or no readable file.
    public func token(for audience: String) -> String? {
        guard let directory = directory.withLock({ $0 }) else { return nil }
        let now = Monotonic.now()
        if let entry = entries.withLock({ $0[audience] }), now &- entry.checkedAt < 1_000_000_000 { return entry.token }
        let path = directory + "/" + audience
        let stamp = FileStamp(path)
        if let entry = entries.withLock({ $0[audience] }), entry.stamp == stamp {
            entries.withLock { $0[audience]?.checkedAt = now }
            return entry.token
        }
        let token = BearerTokens.read(path)
        if token == nil {
            missing.record { suppressed in
                logger.warning("no OIDC token for a destination's audience; sending without one",
                               metadata: ["file": "\(path)", "suppressed": "\(suppressed)"])
            }
        }
        entries.withLock { $0[audience] = Entry(token: token, stamp: stamp, checkedAt: now) }
        return token
    }

    private static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 64 * 1024 {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        let token = String(decoding: bytes, as: UTF8.self).trimmingWhitespace
        // A token goes into a header line: nothing that could end or split it.
        guard !token.isEmpty, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return token
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        let bytes = utf8.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        var end = bytes.endIndex
        while end > bytes.startIndex, let last = bytes[..<end].last, last == 0x20 || last == 0x0A || last == 0x0D || last == 0x09 {
            end = bytes.index(before: end)
        }
        return String(Substring(bytes[..<end]))
    }
}
