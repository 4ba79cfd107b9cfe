import ArgumentParser
import Glibc
import Logging
import SluiceHTTP
import SluiceIO
import SluiceKafka
import SluiceTLS

/// Knative's `transport-encryption` feature flag: which of the two ports take events.
enum TransportEncryption: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Events over plain HTTP only; the TLS port, if there is one, answers 404.
    case disabled
    /// Both ports take events.
    case permissive
    /// Events over TLS only; the plain port answers 404 but for its probes.
    case strict

    var plainPortTakesEvents: Bool { self != .strict }
    var tlsPortTakesEvents: Bool { self != .disabled }
}

extension TLSVersion: ExpressibleByArgument {}

/// The certificate and key the TLS port serves, read again on SIGHUP and when the files change
/// (a Kubernetes Secret volume swaps them in place). New connections take the new pair;
/// open ones keep theirs. A pair that fails to load is logged and the previous one kept.
final class ServedCertificate: Sendable {
    private let current: Locked<(context: TLSServerContext, stamp: [FileStamp])>
    private let minimumVersion: TLSVersion
    private let logger: Logger

    init(certificatePath: String, keyPath: String, minimumVersion: TLSVersion, logger: Logger) throws(TLSError) {
        let stamp = [FileStamp(certificatePath), FileStamp(keyPath)]
        let context = try TLSServerContext(certificatePath: certificatePath, keyPath: keyPath, minimumVersion: minimumVersion)
        current = Locked((context, stamp))
        self.minimumVersion = minimumVersion
        self.logger = logger
    }

    var context: TLSServerContext { current.withLock { $0.context } }

    /// Loads the pair again when its files changed, or always when `force` (SIGHUP).
    func reload(force: Bool) {
        let (old, stamp) = current.withLock { ($0.context, $0.stamp) }
        let now = [FileStamp(old.certificatePath), FileStamp(old.keyPath)]
        guard force || now != stamp else { return }
        do {
            let context = try TLSServerContext(certificatePath: old.certificatePath, keyPath: old.keyPath, minimumVersion: minimumVersion)
            current.withLock { $0 = (context, now) }
            logger.info("TLS certificate loaded", metadata: ["certificate": "\(old.certificatePath)"])
        } catch {
            // Remember the stamp: a half-written pair is tried again once it changes again.
            current.withLock { $0.stamp = now }
            logger.error("TLS certificate not reloaded; serving the previous one: \(error)")
        }
    }
}

/// TLS for deliveries to `https://` destinations: every connection verifies its server against
/// the system's roots and `--trust-bundle-dir` (and the destination's `CACerts`, when it has
/// them), by host name (SNI) or IP address.
enum ClientTransportSecurity {
    /// What Kafka clients over TLS trust beyond their Secrets: the same bundle, and the
    /// system's roots.
    static func kafkaTrust(trustDirectory: String?) throws -> KafkaTrust {
        guard let trustDirectory else { return KafkaTrust() }
        do {
            return KafkaTrust(bundle: try TrustBundle(directory: trustDirectory).pem, systemRootsFile: TrustBundle.systemRootsFile)
        } catch {
            throw ExitError(message: "--trust-bundle-dir: \(error)")
        }
    }

    static func configuration(trustDirectory: String?) throws -> HTTPClientConfiguration {
        let base: TLSClientContext
        do {
            base = try TLSClientContext(trustDirectory: trustDirectory)
        } catch {
            throw ExitError(message: "--trust-bundle-dir: \(error)")
        }
        // One context per set of CACerts, made on first use.
        let contexts = Locked<[Int: Result<TLSClientContext, TLSError>]>([0: .success(base)])
        var configuration = HTTPClientConfiguration()
        configuration.makeTransport = { socket, origin -> any StreamTransport in
            guard origin.secure else { return SocketTransport(descriptor: socket) }
            let context = contexts.withLock { known in
                if let made = known[origin.trust] { return made }
                let made = Result { () throws(TLSError) in
                    try TLSClientContext(trustDirectory: trustDirectory, authorities: TrustedAuthorities.shared.pem(origin.trust))
                }
                known[origin.trust] = made
                return made
            }
            switch context {
            case .success(let context): return TLSTransport(connected: socket, context: context, serverName: origin.host)
            case .failure(let error): return TLSTransport(refusing: socket, reason: "destination CACerts: \(error)")
            }
        }
        return configuration
    }
}
