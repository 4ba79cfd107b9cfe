import ArgumentParser
import Dispatch
import Glibc
import Logging
import SluiceBroker
import SluiceConfig
import SluiceDelivery
import SluiceHTTP
import SluiceIdentity
import SluiceIO
import SluiceKafkaBridge
import SluiceObservability
import SluiceRabbitMQBridge
import SluiceSources
import SluiceStorage
import SluiceTLS
import Synchronization

/// The running process: event loops, the data plane built from the manifests, the ingress
/// server with its probes, the metrics server, and the signal handlers that stop or reload.
final class Runtime: @unchecked Sendable {  // signalSources is written once, before any handler runs
    let logger: Logger
    let configPath: String
    let options: DataPlaneOptions
    let group: EventLoopGroup
    let client: HTTPClient
    let controller: DataPlaneController
    let ingress: HTTPServer
    /// The TLS ingress (`--tls-port`) and the certificate it serves.
    let tlsIngress: HTTPServer?
    private let certificate: ServedCertificate?
    /// `--oidc`: the token verifier, its JWKS file watched.
    private let verifier: OIDCVerifier?
    let metrics: HTTPServer
    let exporter = PrometheusExporter()
    private let readiness = ReadinessProbe()
    private let done = DispatchSemaphore(value: 0)
    private let signalQueue = DispatchQueue(label: "sluice.signals")
    private var signalSources: [any DispatchSourceSignal] = []
    private var certificateWatch: (any DispatchSourceTimer)?
    /// `--watch`: the manifests looked at once a second, and reloaded when they change.
    private let watchesConfig: Bool
    private var configWatch: (any DispatchSourceTimer)?
    /// Gives the heap's free pages back to the kernel once a second.
    private var heapTrim: (any DispatchSourceTimer)?

    init(options serve: Serve, logger: Logger) throws {
        self.logger = logger
        configPath = serve.config
        watchesConfig = serve.watch
        var options = DataPlaneOptions()
        options.clusterDomain = serve.clusterDomain
        options.maxEventsPerTrigger = serve.maxEventsPerTrigger
        options.maxBrokerBytes = serve.maxBrokerBytes
        options.deliveryWindow = serve.deliveryWindow
        options.maxDiskBytes = serve.maxDiskBytes
        options.segmentBytes = serve.segmentBytes
        options.metricsFactory = exporter.factory
        options.metrics = MetricsOptions(labelsEventType: serve.metricsEventType)
        switch serve.storage {
        case .memory:
            options.storage = .memory
        case .disk:
            try DataDirectory.prepare(serve.dataDir)
            options.storage = .disk(directory: serve.dataDir)
        }
        self.options = options
        let manifests: ManifestSet
        switch ConfigurationLoader.load(path: serve.config, options: options) {
        case .failure(let error):
            throw ExitError(message: error.description)
        case .success(let loaded):
            manifests = loaded
        }
        for warning in manifests.warnings { logger.warning("\(warning.location): \(warning.message)") }

        group = try EventLoopGroup(loopCount: serve.loops ?? LoopThread.processorCount)
        client = HTTPClient(group: group, configuration: try ClientTransportSecurity.configuration(trustDirectory: serve.trustBundleDir))
        let kafkaTrust = try ClientTransportSecurity.kafkaTrust(trustDirectory: serve.trustBundleDir)
        let loops = group.loops
        controller = DataPlaneController(options: options, group: group, client: client) { classes in
            classes.register(KafkaBrokerSettings.brokerClass, KafkaBrokerFactory(loops: loops, trust: kafkaTrust, metricsFactory: options.metricsFactory))
        }
        BearerTokens.shared.configure(directory: serve.oidcTokenDir)
        if serve.oidc, let jwks = serve.oidcJwks, let issuer = serve.oidcIssuer {
            do {
                verifier = try OIDCVerifier(jwksPath: jwks, issuer: issuer)
            } catch {
                group.shutdown()
                throw ExitError(message: "--oidc-jwks: \(error)")
            }
        } else {
            verifier = nil
        }
        let authenticator = verifier.map(OIDCIngressAuthenticator.init)
        let kafka = KafkaBridge(controller: controller, group: group, client: client, trust: kafkaTrust, authenticator: authenticator)
        controller.add(kafka)
        controller.add(RabbitmqBridge(controller: controller, group: group, client: client))
        controller.add(PingSources(controller: controller, group: group, client: client))
        let ingressHandler = Ingress(controller: controller, group: group, authenticator: authenticator)
        do throws(StorageError) {
            try controller.openStores(for: manifests)
        } catch {
            group.shutdown()
            throw ExitError(message: "cannot open the event log in \(serve.dataDir): \(error)")
        }
        do {
            try controller.apply(manifests)
        } catch {
            group.shutdown()
            throw ExitError(message: error.description)
        }

        var ingressConfiguration = HTTPServerConfiguration()
        ingressConfiguration.host = serve.host
        ingressConfiguration.port = serve.port
        ingressConfiguration.maxBodyBytes = serve.maxBodyBytes
        let readiness = self.readiness
        let controller = self.controller
        var probes = Router()
        probes.get("/healthz") { _, responder in responder.respond(Probes.alive) }
        probes.get("/readyz") { _, responder in
            guard readiness.isReady else { return responder.respond(Probes.notReady) }
            let problems = controller.readinessProblems
            responder.respond(problems.isEmpty ? Probes.ready : Probes.notReady(problems))
        }
        var router = probes
        kafka.install(on: &router)
        ingressHandler.install(on: &router)
        // A port that takes no events in this transport-encryption mode answers 404, as Knative's.
        let encryption = serve.transportEncryption ?? (serve.tlsPort == nil ? .disabled : .permissive)
        probes.fallback = { _, responder in
            responder.respond(status: .notFound, text: "this port takes no events: transport encryption is \(encryption.rawValue)\n")
        }
        ingress = HTTPServer(configuration: ingressConfiguration, router: encryption.plainPortTakesEvents ? router : probes, group: group)
        if let port = serve.tlsPort, let certificatePath = serve.tlsCert, let keyPath = serve.tlsKey {
            let served: ServedCertificate
            do {
                served = try ServedCertificate(certificatePath: certificatePath, keyPath: keyPath, minimumVersion: serve.tlsMinVersion, logger: logger)
            } catch {
                group.shutdown()
                throw ExitError(message: "cannot serve TLS: \(error)")
            }
            var tlsConfiguration = ingressConfiguration
            tlsConfiguration.port = port
            tlsConfiguration.firstRequestTimeout = .seconds(serve.tlsHandshakeTimeout)
            tlsConfiguration.makeTransport = { socket in TLSTransport(accepted: socket, context: served.context) }
            certificate = served
            tlsIngress = HTTPServer(configuration: tlsConfiguration, router: encryption.tlsPortTakesEvents ? router : probes, group: group)
        } else {
            certificate = nil
            tlsIngress = nil
        }

        var metricsConfiguration = HTTPServerConfiguration()
        metricsConfiguration.host = serve.host
        metricsConfiguration.port = serve.metricsPort
        metricsConfiguration.maxConnections = 64
        var metricsRouter = Router()
        MetricsEndpoint(exporter: exporter, controller: controller, ingress: ingress).install(on: &metricsRouter)
        metrics = HTTPServer(configuration: metricsConfiguration, router: metricsRouter, group: group)
    }

    func start() throws {
        do {
            try ingress.start()
            try tlsIngress?.start()
            try metrics.start()
        } catch {
            group.shutdown()
            throw ExitError(message: "cannot listen: \(error)")
        }
        readiness.markReady()
        logger.info("listening", metadata: [
            "ingress": "\(ingress.localAddress.map(\.description) ?? "?")",
            "tls": "\(tlsIngress?.localAddress.map(\.description) ?? "off")",
            "metrics": "\(metrics.localAddress.map(\.description) ?? "?")",
            "loops": "\(group.loops.count)",
            "brokers": "\(controller.current.brokers.count)", "channels": "\(controller.current.channels.count)",
            "deliveries": "\(controller.current.dispatchers.count)",
        ])
        installSignalHandlers()
        releaseStartupPages()
    }

    /// Start-up (argument parsing, the runtime's first protocol-conformance scans, config
    /// loading) touches megabytes of code that idle serving never runs again. They are clean
    /// file pages the kernel would reclaim under pressure anyway; releasing them now makes the
    /// resident size show the real working set (a few MB) instead of start-up's footprint.
    private func releaseStartupPages() {
        let before = ProcessMemory.residentBytes()
        ProcessMemory.releaseFilePages()
        logger.debug("released start-up pages", metadata: [
            "rssBefore": "\(before / 1024) kB", "rssAfter": "\(ProcessMemory.residentBytes() / 1024) kB",
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
        hangup.setEventHandler { [self] in
            self.reload(because: "SIGHUP")
            certificate?.reload(force: true)
        }
        hangup.resume()
        sources.append(hangup)
        signalSources = sources
        // What a burst allocated and freed would otherwise stay resident: glibc returns only
        // the top of each thread's heap. `benchmarks/kafka.sh`: a KafkaSource's process 3 s
        // after 200,000 records kept 11 MB of heap without this, 5 MB with it.
        let trim = DispatchSource.makeTimerSource(queue: signalQueue)
        trim.schedule(deadline: .now() + .seconds(1), repeating: .seconds(1))
        trim.setEventHandler { ProcessMemory.releaseFreeHeap() }
        trim.resume()
        heapTrim = trim
        if certificate != nil || verifier != nil {
            // A Secret volume swaps the files without a signal: look at them every few seconds.
            let watch = DispatchSource.makeTimerSource(queue: signalQueue)
            watch.schedule(deadline: .now() + .seconds(2), repeating: .seconds(2))
            watch.setEventHandler { [certificate, verifier] in
                certificate?.reload(force: false)
                verifier?.reloadIfChanged()
            }
            watch.resume()
            certificateWatch = watch
        }
        if watchesConfig {
            var seen = ConfigStamp(path: configPath)
            let watch = DispatchSource.makeTimerSource(queue: signalQueue)
            watch.schedule(deadline: .now() + .seconds(1), repeating: .seconds(1))
            watch.setEventHandler { [self] in
                let now = ConfigStamp(path: configPath)
                guard now != seen else { return }
                seen = now
                reload(because: "\(configPath) changed")
            }
            watch.resume()
            configWatch = watch
        }
    }

    /// SIGHUP or `--watch`: read the manifests again and switch to them. A bad configuration is
    /// logged and the running one kept; queued events of brokers and triggers that remain are
    /// kept.
    private func reload(because cause: String) {
        switch ConfigurationLoader.load(path: configPath, options: options) {
        case .failure(let error):
            logger.error("\(cause): configuration not reloaded:\n\(error.description)")
        case .success(let manifests):
            for warning in manifests.warnings { logger.warning("\(warning.location): \(warning.message)") }
            do {
                try controller.apply(manifests)
                logger.info("\(cause): configuration reloaded", metadata: [
                    "brokers": "\(controller.current.brokers.count)", "channels": "\(controller.current.channels.count)",
                    "deliveries": "\(controller.current.dispatchers.count)",
                ])
            } catch {
                logger.error("\(cause): configuration not reloaded:\n\(error.description)")
            }
        }
    }

    /// SIGTERM: stop accepting, let in-flight requests finish, give queued deliveries a moment
    /// to drain, then stop.
    private func terminate(signal: Int32) {
        guard readiness.markNotReady() else { return }
        logger.info("signal \(signal): draining connections")
        certificateWatch?.cancel()
        configWatch?.cancel()
        if let tlsIngress {
            // Both listeners drain at once.
            let drained = DispatchGroup()
            DispatchQueue.global().async(group: drained) { tlsIngress.shutdown(grace: .seconds(10)) }
            ingress.shutdown(grace: .seconds(10))
            drained.wait()
        } else {
            ingress.shutdown(grace: .seconds(10))
        }
        if case .memory = options.storage {
            // Memory keeps nothing across restarts: give queued deliveries a moment to finish.
            let deadline = Monotonic.now() + 10_000_000_000
            while controller.current.pendingDeliveries > 0 && Monotonic.now() < deadline { usleep(20_000) }
            let left = controller.current.pendingDeliveries
            if left > 0 { logger.warning("stopping with \(left) events not delivered (memory storage keeps nothing across restarts)") }
        }
        controller.stopDelivery()
        controller.closeStores()
        metrics.shutdown(grace: .seconds(1))
        client.shutdown()
        group.shutdown()
        done.signal()
    }
}
