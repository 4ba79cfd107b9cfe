import Logging
internal import CRdKafka

/// What librdkafka calls back into, through the instance's opaque pointer. librdkafka calls
/// these while the owner serves the queue (on its loop), or in the closing thread's flush and
/// close; the handlers are set before the instance is started.
final class KafkaCallbacks: @unchecked Sendable {
    let logger: Logger
    var onError: (KafkaError) -> Void = { _ in }
    var onRebalance: (OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> Void = { _, _, _ in }
    var onCommit: (rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> Void = { _, _ in }

    init(logger: Logger) {
        self.logger = logger
    }

    private static func of(_ opaque: UnsafeMutableRawPointer?) -> KafkaCallbacks? {
        opaque.map { Unmanaged<KafkaCallbacks>.fromOpaque($0).takeUnretainedValue() }
    }

    /// librdkafka's log lines, at their syslog level, through swift-log.
    static let log: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = { handle, level, facility, text in
        guard let handle, let callbacks = of(rd_kafka_opaque(handle)) else { return }
        let line = text.map { String(cString: $0) } ?? ""
        let metadata: Logger.Metadata = ["facility": "\(facility.map { String(cString: $0) } ?? "")",
                                         "client": "\(String(cString: rd_kafka_name(handle)))"]
        switch level {
        case ...2: callbacks.logger.critical("librdkafka: \(line)", metadata: metadata)
        case 3: callbacks.logger.error("librdkafka: \(line)", metadata: metadata)
        case 4: callbacks.logger.warning("librdkafka: \(line)", metadata: metadata)
        case 5, 6: callbacks.logger.info("librdkafka: \(line)", metadata: metadata)
        default: callbacks.logger.debug("librdkafka: \(line)", metadata: metadata)
        }
    }

    static let error: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = { handle, code, reason, opaque in
        guard let callbacks = of(opaque) else { return }
        let error = rd_kafka_resp_err_t(code)
        var failure = KafkaError(error, reason: reason.map { String(cString: $0) })
        if error == RD_KAFKA_RESP_ERR__FATAL, let handle {
            var text = [CChar](repeating: 0, count: 512)
            let original = rd_kafka_fatal_error(handle, &text, text.count)
            failure = KafkaError(code: original.rawValue, message: "fatal: \(cString(text))", isFatal: true)
        }
        callbacks.onError(failure)
    }

    /// A produced record's delivery report: the completion passed as its opaque, retained by
    /// `KafkaProducer.produce`, is released here.
    static let delivery: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = { _, message, _ in
        guard let message, let opaque = sluice_rdkafka_message_opaque(message) else { return }
        let report = Unmanaged<DeliveryReport>.fromOpaque(opaque).takeRetainedValue()
        let code = message.pointee.err
        report.completion(code == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(code))
    }

    static let rebalance: @convention(c) (OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
                                          UnsafeMutableRawPointer?) -> Void = { handle, code, partitions, opaque in
        guard let handle, let callbacks = of(opaque) else { return }
        callbacks.onRebalance(handle, code, partitions)
    }

    static let committed: @convention(c) (OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
                                          UnsafeMutableRawPointer?) -> Void = { _, code, offsets, opaque in
        guard let callbacks = of(opaque) else { return }
        callbacks.onCommit(code, offsets)
    }
}

/// What waits for one produced record's delivery report.
final class DeliveryReport {
    let completion: (KafkaError?) -> Void

    init(_ completion: @escaping (KafkaError?) -> Void) {
        self.completion = completion
    }
}
