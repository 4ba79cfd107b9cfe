@testable import SluiceKafkaBridge
import Testing

/// The retry-state topic's records, as every Sluice process serving a broker reads them.
@Suite("Retry-state records")
struct RetryStateFormatTests {
    private func decodeKey(_ text: String) -> KafkaRetryState.Key? {
        Array(text.utf8).withUnsafeBytes { KafkaRetryState.decode(key: $0) }
    }

    private func decodeSchedule(_ text: String) -> KafkaRetryState.Schedule? {
        Array(text.utf8).withUnsafeBytes { KafkaRetryState.decode(schedule: $0) }
    }

    @Test("a key names the group, partition and offset, and comes back the same")
    func keys() {
        let key = KafkaRetryState.Key(group: "knative-trigger-demo-slow", partition: 3, offset: 12_345)
        #expect(String(decoding: KafkaRetryState.encode(key), as: UTF8.self) == "knative-trigger-demo-slow/3/12345")
        #expect(decodeKey("knative-trigger-demo-slow/3/12345") == key)
        // A group prefix of the user's may hold slashes: the last two fields are the position.
        #expect(decodeKey("team/a/0/7") == KafkaRetryState.Key(group: "team/a", partition: 0, offset: 7))
    }

    @Test("a value is the attempts made and when the next is due; anything else is ignored")
    func schedules() {
        #expect(decodeSchedule("2 1796185502312") == KafkaRetryState.Schedule(attempts: 2, nextAttemptAt: 1_796_185_502_312))
        for bad in ["", "2", "x 1", "0 5", "-1 5", "1 2 3", "1 soon"] {
            #expect(decodeSchedule(bad) == nil, "\(bad)")
        }
        for bad in ["", "g", "g/1", "g/x/1", "g/1/y", "/"] {
            #expect(decodeKey(bad) == nil, "\(bad)")
        }
    }
}
