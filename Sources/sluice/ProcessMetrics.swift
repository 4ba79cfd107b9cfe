import CSluice
import SluiceHTTP

/// Process-level figures in the Prometheus text format.
enum ProcessMetrics {
    static func render(ingress: HTTPServer) -> String {
        """
        # HELP process_resident_memory_bytes Resident memory size in bytes.
        # TYPE process_resident_memory_bytes gauge
        process_resident_memory_bytes \(csluice_resident_bytes())
        # HELP sluice_http_open_connections Open client connections on the ingress port.
        # TYPE sluice_http_open_connections gauge
        sluice_http_open_connections \(ingress.connectionCount)
        
        """
    }
}
