import ArgumentParser
import CSluice
import Dispatch
import Glibc
import Logging
import SluiceHTTP
import SluiceIO
import Synchronization

/// The running process: event loops, the ingress server with its probes, the metrics server,
/// and the signal handlers that stop or reload them.
final class Runtime: @unchecked Sendable {  // signalSources is written once, before any handler runs
    let logger: Logger
    let group: EventLoopGroup
    let ingress: HTTPServer
    let metrics: HTTPServer
    let ready = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let signalQueue = DispatchQueue(label: "sluice.signals")
    private var signalSources: [any DispatchSourceSignal] = []

    init(options: Serve, logger: Logger) throws {
        self.logger = logger
        group = try EventLoopGroup(loopCount: options.loops ?? LoopThread.processorCount)

        var ingressConfiguration = HTTPServerConfiguration()
        ingressConfiguration.host = options.host
        ingressConfiguration.port = options.port
        ingressConfiguration.maxBodyBytes = options.maxBodyBytes
        let readiness = ReadinessProbe()
        var router = Router()
        router.get("/healthz") { _, responder in responder.respond(Probes.alive) }
        router.get("/readyz") { _, responder in
            responder.respond(readiness.isReady ? Probes.ready : Probes.notReady)
        }
        ingress = HTTPServer(configuration: ingressConfiguration, router: router, group: group)

        var metricsConfiguration = HTTPServerConfiguration()
        metricsConfiguration.host = options.host
        metricsConfiguration.port = options.metricsPort
        metricsConfiguration.maxConnections = 64
        var metricsRouter = Router()
        let ingressServer = ingress
        metricsRouter.get("/metrics") { _, responder in
            responder.respond(HTTPResponse(status: .ok, headers: [("Content-Type", "text/plain; version=0.0.4")],
                                           body: Array(ProcessMetrics.render(ingress: ingressServer).utf8)))
        }
        metrics = HTTPServer(configuration: metricsConfiguration, router: metricsRouter, group: group)
        self.readiness = readiness
    }

    private let readiness: ReadinessProbe

    func start() throws {
        do {
            try ingress.start()
            try metrics.start()
        } catch {
            group.shutdown()
            throw ExitError(message: "cannot listen: \(error)")
        }
        readiness.markReady()
        logger.info("listening", metadata: [
            "ingress": "\(ingress.localAddress.map(\.description) ?? "?")",
            "metrics": "\(metrics.localAddress.map(\.description) ?? "?")",
            "loops": "\(group.loops.count)",
        ])
        installSignalHandlers()
        releaseStartupPages()
    }

    /// Start-up (argument parsing, the runtime's first protocol-conformance scans, config
    /// loading) touches megabytes of code that idle serving never runs again. They are clean
    /// file pages the kernel would reclaim under pressure anyway; releasing them now makes the
    /// resident size show the real working set (a few MB) instead of start-up's footprint.
    private func releaseStartupPages() {
        let before = csluice_resident_bytes()
        _ = csluice_release_file_pages()
        logger.debug("released start-up pages", metadata: [
            "rssBefore": "\(before / 1024) kB", "rssAfter": "\(csluice_resident_bytes() / 1024) kB",
        ])
    }

    func waitForTermination() {
        done.wait()
    }

    private func installSignalHandlers() {
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: signalQueue)
            source.setEventHandler { [self] in self.terminate(signal: signalNumber) }
            source.resume()
            sources.append(source)
        }
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: signalQueue)
        hangup.setEventHandler { [self] in self.logger.info("SIGHUP: nothing to reload yet") }
        hangup.resume()
        sources.append(hangup)
        signalSources = sources
    }

    private func terminate(signal: Int32) {
        guard readiness.markNotReady() else { return }
        logger.info("signal \(signal): draining connections")
        ingress.shutdown(grace: .seconds(10))
        metrics.shutdown(grace: .seconds(1))
        group.shutdown()
        done.signal()
    }
}

/// Readiness as /readyz reports it: true once everything listens, false again while stopping.
final class ReadinessProbe: Sendable {
    private let state = Atomic<Bool>(false)
    var isReady: Bool { state.load(ordering: .relaxed) }
    func markReady() { state.store(true, ordering: .relaxed) }
    /// Returns false when it was already not ready (a second stop signal).
    func markNotReady() -> Bool { state.exchange(false, ordering: .relaxed) }
}

enum Probes {
    static let alive = PreparedResponse(status: .ok, headers: [("Content-Type", "text/plain")], body: Array("ok\n".utf8))
    static let ready = PreparedResponse(status: .ok, headers: [("Content-Type", "text/plain")], body: Array("ready\n".utf8))
    static let notReady = PreparedResponse(status: .serviceUnavailable, headers: [("Content-Type", "text/plain")],
                                           body: Array("not ready\n".utf8))
}

/// A fatal start-up problem: printed as one line, exit code 1.
struct ExitError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
