import Dispatch
import Foundation
import JWTKit
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
/// (RS256, ES256 and the other algorithms jwt-kit knows; never `none`), then `iss`, `exp`,
/// `nbf` with a small clock skew, and that `aud` holds the target's audience.
///
/// A verified token's claims are cached until it expires, so a sender reusing its token costs
/// one hash lookup per request (`cached`); only a token not seen yet takes the asynchronous
/// path (`verify`). The JWKS file is read again when it changes (`reloadIfChanged`).
public final class OIDCVerifier: Sendable {
    public let issuer: String
    public let jwksPath: String
    /// Clock skew allowed on `exp` and `nbf`.
    public let skew: TimeInterval
    private let keys: Locked<(collection: JWTKeyCollection, stamp: FileStamp)>
    private let cache = Locked<[String: Claims]>([:])
    private static let cacheLimit = 10_000
    private let logger: Logger

    /// What a verified token said, kept per token.
    private struct Claims: Sendable {
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
        let (collection, stamp) = try OIDCVerifier.load(jwksPath)
        keys = Locked((collection, stamp))
    }

    /// The answer for `token` and `audience` when the token was verified before: its sender,
    /// or why it is not accepted now (expired, another audience). Nil when not seen yet.
    public func cached(_ token: String, audience: String, now: Date = Date()) -> Result<SenderIdentity, OIDCFailure>? {
        guard let claims = cache.withLock({ $0[token] }) else { return nil }
        return check(claims, audience: audience, now: now)
    }

    /// Verifies `token` for `audience`: signature, issuer, times and audience.
    public func verify(_ token: String, audience: String, now: Date = Date()) async -> Result<SenderIdentity, OIDCFailure> {
        let collection = keys.withLock { $0.collection }
        let payload: TokenPayload
        do {
            payload = try await collection.verify(token, as: TokenPayload.self)
        } catch {
            return .failure(.invalid(OIDCVerifier.reason(error)))
        }
        guard payload.iss.value == issuer else { return .failure(.invalid("issuer \"\(payload.iss.value)\" is not \"\(issuer)\"")) }
        let claims = Claims(subject: payload.sub.value, audiences: payload.aud.value, expires: payload.exp.value, notBefore: payload.nbf?.value)
        let answer = check(claims, audience: audience, now: now)
        if case .success = answer {
            cache.withLock { cache in
                if cache.count >= OIDCVerifier.cacheLimit { cache = cache.filter { $0.value.expires > now } }
                if cache.count < OIDCVerifier.cacheLimit { cache[token] = claims }
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

    private static func load(_ path: String) throws(OIDCFailure) -> (JWTKeyCollection, FileStamp) {
        let stamp = FileStamp(path)
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .keys("\(path): cannot be read")
        }
        // The collection is an actor; adding keys needs no suspension in practice, but its
        // API is async: wait for it here (start-up and reloads only, off the event loops).
        let result = Locked<Result<JWTKeyCollection, OIDCFailure>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let collection = JWTKeyCollection()
            do {
                try await collection.add(jwksJSON: text)
                result.withLock { $0 = .success(collection) }
            } catch {
                result.withLock { $0 = .failure(.keys("\(path): not a JWKS: \(reason(error))")) }
            }
            done.signal()
        }
        done.wait()
        switch result.withLock({ $0 }) {
        case .success(let collection)?: return (collection, stamp)
        case .failure(let failure)?: throw failure
        case nil: throw .keys("\(path): not loaded")
        }
    }

    private static func reason(_ error: any Error) -> String {
        if let jwt = error as? JWTError { return jwt.reason ?? "\(jwt.errorType)" }
        return "\(error)"
    }
}

/// The claims Sluice reads; checked by `OIDCVerifier` with its own clock and skew.
struct TokenPayload: JWTPayload {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim?

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
