import CoreMetrics
import SluiceBroker
import SluiceHTTP
import SluiceIO
import SluiceObservability

/// `GET /metrics` on `--metrics-port`: what the exporter holds, after the figures read at
/// scrape time (queue depths, the stores' counters, resident memory, open connections) are
/// brought up to date.
struct MetricsEndpoint: Sendable {
    let exporter: PrometheusExporter
    let controller: DataPlaneController
    let ingress: HTTPServer
    private let residentMemory: CoreMetrics.Gauge
    private let openConnections: CoreMetrics.Gauge

    init(exporter: PrometheusExporter, controller: DataPlaneController, ingress: HTTPServer) {
        self.exporter = exporter
        self.controller = controller
        self.ingress = ingress
        residentMemory = CoreMetrics.Gauge(label: MetricNames.residentMemory, factory: exporter.factory)
        openConnections = CoreMetrics.Gauge(label: MetricNames.openConnections, factory: exporter.factory)
    }

    func install(on router: inout Router) {
        router.get("/metrics") { _, responder in
            responder.respond(HTTPResponse(status: .ok, headers: [("Content-Type", PrometheusExporter.contentType)], body: render()))
        }
    }

    func render() -> [UInt8] {
        controller.current.collectMetrics()
        for component in controller.components { component.collectMetrics() }
        residentMemory.record(ProcessMemory.residentBytes())
        openConnections.record(ingress.connectionCount)
        return exporter.render()
    }
}
