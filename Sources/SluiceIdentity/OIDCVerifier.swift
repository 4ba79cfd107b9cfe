import FoundationEssentials
import Glibc
import Logging
import SluiceIO

/// Who sent a request, as its verified token says.
public struct SenderIdentity: Sendable, Equatable {
    /// The token's `sub`: for a Kubernetes service account, `system:serviceaccount:<ns>:<name>`.
    public let subject: String
}

/// Why a request's token was not accepted: the one error type of the identity module, its
/// description the reason a 401 answer gives.
public enum OIDCFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case missingToken
    case invalid(String)
    /// The JWKS file cannot be read or holds no usable key.
    case keys(String)

    public var description: String {
        switch self {
        case .missingToken: return "missing Authorization: Bearer token"
        case .invalid(let reason): return "invalid token: \(reason)"
        case .keys(let reason): return reason
        }
    }
}

/// Verifies OIDC tokens offline (Knative's sender identity): the signature against a JWKS file
/// (RS256/384/512, PS256/384/512, ES256/384/512 and EdDSA, on OpenSSL; never `none`), then
/// `iss`, `exp`, `nbf` with a small clock skew, and that `aud` holds the target's audience.
///
/// A verified token's claims are cached until it expires, so a sender reusing its token costs
/// one checksum and one lookup per request (`cached`); only a token not seen yet takes the
/// slower path (`verify`), off the event loops. The JWKS file is read again when it changes (`reloadIfChanged`).
public final class OIDCVerifier: Sendable {
    public let issuer: String
    public let jwksPath: String
    /// Clock skew allowed on `exp` and `nbf`.
    public let skew: TimeInterval
    private let keys: Locked<(set: JSONWebKeySet, stamp: FileStamp)>
    /// Verified tokens by their CRC-32C (cheap to compute over a token's ~1 KiB, and checked
    /// against the whole token, so a collision only costs a verification).
    private let cache = Locked<[UInt32: Claims]>([:])
    private static let cacheLimit = 10_000
    private let logger: Logger

    /// What a verified token said, kept per token.
    private struct Claims: Sendable {
        let token: [UInt8]
        let subject: String
        let audiences: [String]
        let expires: Date
        let notBefore: Date?
    }

    /// Reads the JWKS file; throws a reason naming it when it cannot be read or holds no key.
    public init(jwksPath: String, issuer: String, skew: TimeInterval = 30, logger: Logger = Logger(label: "sluice.oidc")) throws(OIDCFailure) {
        self.issuer = issuer
        self.jwksPath = jwksPath
        self.skew = skew
        self.logger = logger
        let (set, stamp) = try OIDCVerifier.load(jwksPath)
        keys = Locked((set, stamp))
    }

    /// The answer for `token` and `audience` when the token was verified before: its sender,
    /// or why it is not accepted now (expired, another audience). Nil when not seen yet.
    public func cached(token: UnsafeRawBufferPointer, audience: String, now: Date = Date()) -> Result<SenderIdentity, OIDCFailure>? {
        guard let base = token.baseAddress, let claims = cache.withLock({ $0[CRC32C.update(0, base, count: token.count)] }),
              claims.token.count == token.count,
              claims.token.withUnsafeBytes({ stored in stored.baseAddress.map { memcmp($0, base, token.count) == 0 } ?? false }) else { return nil }
        return check(claims, audience: audience, now: now)
    }

    /// The cache's key for a token: its CRC-32C.
    private static func key(_ token: UnsafeRawBufferPointer) -> UInt32 {
        token.baseAddress.map { CRC32C.update(0, $0, count: token.count) } ?? 0
    }

    /// `cached(token:audience:now:)` for a token held as a String.
    public func cached(_ token: String, audience: String, now: Date = Date()) -> Result<SenderIdentity, OIDCFailure>? {
        var token = token
        return token.withUTF8 { cached(token: UnsafeRawBufferPointer($0), audience: audience, now: now) }
    }

    /// Verifies `token` for `audience`: signature, issuer, times and audience. Runs OpenSSL's
    /// signature check (tens of microseconds for RSA): call it off the event loops.
    public func verify(_ token: String, audience: String, now: Date = Date()) -> Result<SenderIdentity, OIDCFailure> {
        let set = keys.withLock { $0.set }
        let verified: JSONWebToken
        do {
            verified = try JSONWebToken(verifying: token, with: set)
        } catch {
            return .failure(error)
        }
        guard verified.issuer == issuer else { return .failure(.invalid("issuer \"\(verified.issuer)\" is not \"\(issuer)\"")) }
        let bytes = Array(token.utf8)
        let claims = Claims(token: bytes, subject: verified.subject, audiences: verified.audiences, expires: Date(timeIntervalSince1970: verified.expires),
                            notBefore: verified.notBefore.map { Date(timeIntervalSince1970: $0) })
        let answer = check(claims, audience: audience, now: now)
        if case .success = answer {
            cache.withLock { cache in
                if cache.count >= OIDCVerifier.cacheLimit { cache = cache.filter { $0.value.expires > now } }
                if cache.count < OIDCVerifier.cacheLimit { cache[bytes.withUnsafeBytes(OIDCVerifier.key)] = claims }
            }
        }
        return answer
    }

    /// Reads the JWKS file again if it changed; a file that no longer loads is logged and the
    /// keys in use are kept.
    public func reloadIfChanged() {
        let stamp = FileStamp(jwksPath)
        guard keys.withLock({ $0.stamp }) != stamp else { return }
        do {
            let loaded = try OIDCVerifier.load(jwksPath)
            keys.withLock { $0 = loaded }
            cache.withLock { $0.removeAll() }  // tokens of removed keys must not pass
            logger.info("OIDC keys loaded", metadata: ["jwks": "\(jwksPath)"])
        } catch {
            keys.withLock { $0.stamp = stamp }
            logger.error("OIDC keys not reloaded; keeping the previous ones: \(error)")
        }
    }

    private func check(_ claims: Claims, audience: String, now: Date) -> Result<SenderIdentity, OIDCFailure> {
        if claims.expires.addingTimeInterval(skew) <= now { return .failure(.invalid("expired")) }
        if let notBefore = claims.notBefore, notBefore.addingTimeInterval(-skew) > now { return .failure(.invalid("not valid yet")) }
        guard claims.audiences.contains(audience) else { return .failure(.invalid("audience is not \(audience)")) }
        return .success(SenderIdentity(subject: claims.subject))
    }

    private static func load(_ path: String) throws(OIDCFailure) -> (JSONWebKeySet, FileStamp) {
        let stamp = FileStamp(path)
        guard let file = fopen(path, "rb") else { throw .keys("\(path): cannot be read") }
        defer { fclose(file) }
        var bytes = [UInt8](repeating: 0, count: 1024 * 1024)  // a JWKS is a few KiB
        let count = fread(&bytes, 1, bytes.count, file)
        guard count < bytes.count else { throw .keys("\(path): larger than 1 MiB") }
        do {
            return (try JSONWebKeySet(json: Array(bytes[0..<count])), stamp)
        } catch {
            throw .keys("\(path): \(error)")
        }
    }
}
