import SluiceIO
internal import CRdKafka

/// A consumer whose owner takes no records for a long while: every delivery is retrying
/// against a subscriber that is down. librdkafka takes a member that has not polled for
/// `max.poll.interval.ms` out of its group, which would hand its partitions to another member
/// (delivering the records in flight twice) and rebalance the whole group, only to join again
/// once the subscriber is back. So after `keepAliveMilliseconds` without room, the consumer pauses
/// every partition it holds and goes on polling, which keeps it a member while fetching
/// nothing. Until then it only stops polling: librdkafka drops a paused partition's prefetched
/// records and fetches them again on resume, a cost worth paying for a long stall only.
///
/// On the loop, like the rest of the consumer.
extension KafkaConsumer {
    /// The owner refused records: from now on, wait for `serveAgain`, polling only to stay in
    /// the group.
    func becameSaturated() {
        guard !saturated else { return }
        saturated = true
        saturatedSince = Monotonic.now()
        scheduleKeepAlive(afterMilliseconds: keepAliveMilliseconds)
    }

    /// One timer at a time, however often the owner fills up and drains under load.
    private func scheduleKeepAlive(afterMilliseconds delay: Int) {
        guard !keepAlivePending else { return }
        keepAlivePending = true
        loop.schedule(after: .milliseconds(delay)) { [weak self] in self?.keepAlive() }
    }

    private func keepAlive() {
        keepAlivePending = false
        guard saturated, !closing else { return }
        let waited = Int((Monotonic.now() &- saturatedSince) / 1_000_000)
        guard waited >= keepAliveMilliseconds else { return scheduleKeepAlive(afterMilliseconds: keepAliveMilliseconds - waited) }
        if idlePaused.isEmpty {
            var assignment: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
            if rd_kafka_assignment(client.handle, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR, let assignment {
                pauseWhileSaturated(KafkaConsumer.partitions(assignment))
                rd_kafka_topic_partition_list_destroy(assignment)
            }
            if !idlePaused.isEmpty {
                client.callbacks.logger.info("no room for records for a while: partitions paused, polling on to stay in the group",
                                             metadata: ["partitions": "\(idlePaused.count)"])
            }
        }
        // Records of paused partitions still queued are dropped by librdkafka; one fetched
        // before the pause took effect, or of a partition just assigned, goes to the owner over
        // its bound (at most one fetch's worth).
        for _ in 0..<batch {
            guard !closing, let message = rd_kafka_consumer_poll(client.handle, 0) else { break }
            defer { rd_kafka_message_destroy(message) }
            let code = message.pointee.err
            if code == RD_KAFKA_RESP_ERR_NO_ERROR {
                delegate?.received(KafkaRecord(message: message))
            } else if code != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                delegate?.failed(KafkaError(code, reason: message.pointee.payload.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }))
            }
        }
        scheduleKeepAlive(afterMilliseconds: keepAliveMilliseconds)
    }

    /// Pauses `partitions`, except those the owner paused itself, until `endSaturation`.
    func pauseWhileSaturated(_ partitions: [KafkaPartition]) {
        let pausing = partitions.filter { !isPausedByOwner($0) && !idlePaused.contains($0) }
        guard !pausing.isEmpty else { return }
        idlePaused.formUnion(pausing)
        withList(pausing) { _ = rd_kafka_pause_partitions(client.handle, $0) }
    }

    /// The owner has room again: resumes what saturation paused; fetching starts again from
    /// the record after the last one taken.
    func endSaturation() {
        saturated = false
        guard !idlePaused.isEmpty else { return }
        let resuming = Array(idlePaused)
        idlePaused = []
        withList(resuming) { _ = rd_kafka_resume_partitions(client.handle, $0) }
        client.callbacks.logger.info("room for records again: partitions resumed", metadata: ["partitions": "\(resuming.count)"])
    }
}
