import SluiceBroker
import SluiceDelivery
import SluiceHTTP
import SluiceIO
import SluiceStorage

/// Process, broker and trigger figures in the Prometheus text format.
enum ProcessMetrics {
    static func render(ingress: HTTPServer, plane: DataPlane) -> String {
        var text = """
            # HELP process_resident_memory_bytes Resident memory size in bytes.
            # TYPE process_resident_memory_bytes gauge
            process_resident_memory_bytes \(ProcessMemory.residentBytes())
            # HELP sluice_http_open_connections Open client connections on the ingress port.
            # TYPE sluice_http_open_connections gauge
            sluice_http_open_connections \(ingress.connectionCount)

            """
        let brokers = plane.brokers.values.sorted { $0.key < $1.key }
        func family(_ name: String, _ type: String, _ help: String, _ rows: [(labels: String, value: Int)]) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for row in rows { text += "\(name){\(row.labels)} \(row.value)\n" }
        }
        func brokerLabels(_ broker: BrokerRuntime) -> String { "namespace=\"\(broker.namespace)\",broker=\"\(broker.name)\"" }
        family("sluice_broker_events_accepted_total", "counter", "Events stored and answered 202.",
               brokers.map { (brokerLabels($0), $0.metrics.accepted.load(ordering: .relaxed)) })
        family("sluice_broker_events_unmatched_total", "counter", "Accepted events no trigger matched.",
               brokers.map { (brokerLabels($0), $0.metrics.unmatched.load(ordering: .relaxed)) })
        family("sluice_broker_events_rejected_total", "counter", "Requests refused: invalid events (400) or a full broker (503).",
               brokers.flatMap { [(brokerLabels($0) + ",reason=\"invalid\"", $0.metrics.refusedInvalid.load(ordering: .relaxed)),
                                  (brokerLabels($0) + ",reason=\"full\"", $0.metrics.refusedFull.load(ordering: .relaxed))] })
        let durable = brokers.compactMap { broker in broker.backend.storageMetrics.map { (broker, $0) } }
        func storage(_ name: String, _ type: String, _ help: String, _ value: (StorageMetrics) -> Int) {
            if durable.isEmpty { return }
            family(name, type, help, durable.map { (brokerLabels($0.0), value($0.1)) })
        }
        storage("sluice_storage_events_written_total", "counter", "Events written to the log and made durable.") { $0.eventsWritten.load(ordering: .relaxed) }
        storage("sluice_storage_syncs_total", "counter", "fdatasync calls on the log.") { $0.syncs.load(ordering: .relaxed) }
        storage("sluice_storage_failures_total", "counter", "Log writes or syncs that failed (their requests got 503).") { $0.failures.load(ordering: .relaxed) }
        storage("sluice_storage_disk_bytes", "gauge", "Bytes of log segments on disk.") { $0.diskBytes.load(ordering: .relaxed) }
        storage("sluice_storage_segments_reclaimed_total", "counter", "Segments deleted once every trigger was done with them.") { $0.segmentsReclaimed.load(ordering: .relaxed) }
        let triggers = plane.dispatchers.sorted { $0.key < $1.key }
        func triggerLabels(_ key: String) -> String {
            let parts = key.split(separator: "/", maxSplits: 1)
            return "namespace=\"\(parts.first ?? "")\",trigger=\"\(parts.last ?? "")\""
        }
        func counter(_ name: String, _ help: String, _ value: (DeliverySnapshot) -> Int) {
            family(name, "counter", help, triggers.map { (triggerLabels($0.key), value(DeliverySnapshot($0.value))) })
        }
        counter("sluice_trigger_delivery_attempts_total", "HTTP attempts to subscribers.") { $0.attempts }
        counter("sluice_trigger_events_delivered_total", "Events a subscriber accepted (2xx).") { $0.delivered }
        counter("sluice_trigger_retries_total", "Retries scheduled.") { $0.retries }
        counter("sluice_trigger_events_dead_lettered_total", "Events sent to the dead-letter sink.") { $0.deadLettered }
        counter("sluice_trigger_dead_letter_failures_total", "Events the dead-letter sink also refused (dropped).") { $0.deadLetterFailures }
        counter("sluice_trigger_events_dropped_total", "Failed events without a dead-letter sink (dropped).") { $0.dropped }
        counter("sluice_trigger_replies_total", "Reply events sent back into the broker.") { $0.replies }
        family("sluice_trigger_queue_depth", "gauge", "Events waiting or in flight.",
               triggers.map { (triggerLabels($0.key), $0.value.queue.depth) })
        return text
    }
}


/// A snapshot of a dispatcher's counters.
struct DeliverySnapshot {
    let attempts, delivered, retries, deadLettered, deadLetterFailures, dropped, replies: Int

    init(_ dispatcher: QueueDelivery) {
        let metrics = dispatcher.monitor.counters
        attempts = metrics.attempts.load(ordering: .relaxed)
        delivered = metrics.delivered.load(ordering: .relaxed)
        retries = metrics.retries.load(ordering: .relaxed)
        deadLettered = metrics.deadLettered.load(ordering: .relaxed)
        deadLetterFailures = metrics.deadLetterFailures.load(ordering: .relaxed)
        dropped = metrics.dropped.load(ordering: .relaxed)
        replies = metrics.replies.load(ordering: .relaxed)
    }
}
