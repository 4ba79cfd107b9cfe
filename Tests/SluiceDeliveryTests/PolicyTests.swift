import Foundation
import SluiceCloudEvents
import SluiceConfig
import SluiceDelivery
import Testing

// MARK: Backoff

struct BackoffCase: Sendable, CustomTestStringConvertible {
    let policy: BackoffPolicy
    let delay: Duration
    let retry: Int
    let expected: Duration
    var testDescription: String { "\(policy) \(delay) before retry \(retry)" }
}

private let cap = DeliveryPolicy.maximumBackoff

@Suite("DeliveryPolicy")
struct DeliveryPolicyTests {
    @Test(arguments: [
        // linear: d × n
        BackoffCase(policy: .linear, delay: .milliseconds(200), retry: 1, expected: .milliseconds(200)),
        BackoffCase(policy: .linear, delay: .milliseconds(200), retry: 2, expected: .milliseconds(400)),
        BackoffCase(policy: .linear, delay: .milliseconds(200), retry: 5, expected: .seconds(1)),
        BackoffCase(policy: .linear, delay: .seconds(1), retry: 10, expected: .seconds(10)),
        BackoffCase(policy: .linear, delay: .seconds(100), retry: 6, expected: .seconds(600)),
        BackoffCase(policy: .linear, delay: .seconds(100), retry: 7, expected: cap),
        BackoffCase(policy: .linear, delay: .seconds(1), retry: 10_000, expected: cap),
        BackoffCase(policy: .linear, delay: .zero, retry: 5, expected: .zero),
        // exponential: d × 2^(n-1)
        BackoffCase(policy: .exponential, delay: .milliseconds(200), retry: 1, expected: .milliseconds(200)),
        BackoffCase(policy: .exponential, delay: .milliseconds(200), retry: 2, expected: .milliseconds(400)),
        BackoffCase(policy: .exponential, delay: .milliseconds(200), retry: 3, expected: .milliseconds(800)),
        BackoffCase(policy: .exponential, delay: .milliseconds(200), retry: 10, expected: .milliseconds(102_400)),
        BackoffCase(policy: .exponential, delay: .seconds(1), retry: 10, expected: .seconds(512)),
        BackoffCase(policy: .exponential, delay: .seconds(1), retry: 11, expected: cap),
        BackoffCase(policy: .exponential, delay: .seconds(1), retry: 63, expected: cap),
        BackoffCase(policy: .exponential, delay: .seconds(1), retry: 64, expected: cap),
        BackoffCase(policy: .exponential, delay: .seconds(1), retry: 10_000, expected: cap),
        BackoffCase(policy: .exponential, delay: .zero, retry: 5, expected: .zero),
        BackoffCase(policy: .exponential, delay: .zero, retry: 63, expected: .zero),
        BackoffCase(policy: .exponential, delay: .nanoseconds(1), retry: 30, expected: .nanoseconds(1 << 29)),
    ])
    func backoffSchedule(_ test: BackoffCase) {
        let policy = DeliveryPolicy(retry: test.retry, backoffPolicy: test.policy, backoffDelay: test.delay)
        #expect(policy.backoff(beforeRetry: test.retry) == test.expected)
        #expect(policy.wait(beforeRetry: test.retry, status: 500, retryAfter: nil, jitter: 0) == test.expected)
    }

    /// Exponential backoff with a zero delay (`backoffDelay: PT0S`, which the manifests accept)
    /// computes 0 × ∞ = NaN from retry 64 on, and converting NaN to Int64 traps.
    @Test
    func zeroDelayManyRetries() {
        let policy = DeliveryPolicy(retry: 100, backoffPolicy: .exponential, backoffDelay: .zero)
        #expect(policy.backoff(beforeRetry: 64) == .zero)
    }

    @Test(arguments: [BackoffPolicy.linear, .exponential])
    func jitterAddsAtMostTenPercent(_ backoffPolicy: BackoffPolicy) {
        let policy = DeliveryPolicy(retry: 8, backoffPolicy: backoffPolicy, backoffDelay: .milliseconds(300))
        for retry in 1...8 {
            let base = policy.backoff(beforeRetry: retry)
            var previous = Duration.zero
            for step in 0...20 {
                let wait = policy.wait(beforeRetry: retry, status: nil, retryAfter: nil, jitter: Double(step) / 20)
                #expect(wait >= base && wait <= base + base / 10, "retry \(retry), jitter \(step)/20: \(wait) vs \(base)")
                #expect(wait >= previous, "more jitter never waits less")
                previous = wait
            }
            #expect(policy.wait(beforeRetry: retry, status: nil, retryAfter: nil, jitter: 1) == base + base / 10)
        }
    }

    @Test(arguments: [(-1.0, 0.0), (-0.5, 0.0), (0.5, 0.05), (1.0, 0.1), (7.0, 0.1)])
    func jitterIsClamped(_ jitter: Double, _ fraction: Double) {
        let policy = DeliveryPolicy(retry: 1, backoffPolicy: .linear, backoffDelay: .seconds(10))
        #expect(policy.wait(beforeRetry: 1, status: nil, retryAfter: nil, jitter: jitter) == .seconds(10) + .seconds(10 * fraction))
    }

    @Test func jitterNeverPassesTheCap() {
        let policy = DeliveryPolicy(retry: 20, backoffPolicy: .exponential, backoffDelay: .seconds(1))
        #expect(policy.wait(beforeRetry: 20, status: nil, retryAfter: nil, jitter: 1) == cap)
    }

    struct RetryAfterCase: Sendable, CustomTestStringConvertible {
        let status: Int?
        let retryAfter: Duration?
        let retryAfterMax: Duration?
        let expected: Duration
        var testDescription: String { "status \(status.map(String.init) ?? "none"), Retry-After \(retryAfter.map { "\($0)" } ?? "none"), max \(retryAfterMax.map { "\($0)" } ?? "none")" }
    }

    /// The backoff is 1 s (linear, retry 1, no jitter) in every case.
    @Test(arguments: [
        RetryAfterCase(status: 429, retryAfter: .seconds(10), retryAfterMax: nil, expected: .seconds(10)),
        RetryAfterCase(status: 503, retryAfter: .seconds(10), retryAfterMax: nil, expected: .seconds(10)),
        RetryAfterCase(status: 500, retryAfter: .seconds(10), retryAfterMax: nil, expected: .seconds(1)),
        RetryAfterCase(status: 502, retryAfter: .seconds(10), retryAfterMax: nil, expected: .seconds(1)),
        RetryAfterCase(status: 404, retryAfter: .seconds(10), retryAfterMax: nil, expected: .seconds(1)),
        RetryAfterCase(status: nil, retryAfter: .seconds(10), retryAfterMax: nil, expected: .seconds(1)),
        RetryAfterCase(status: 429, retryAfter: nil, retryAfterMax: nil, expected: .seconds(1)),
        RetryAfterCase(status: 429, retryAfter: .milliseconds(100), retryAfterMax: nil, expected: .seconds(1)),
        RetryAfterCase(status: 429, retryAfter: .zero, retryAfterMax: nil, expected: .seconds(1)),
        RetryAfterCase(status: 503, retryAfter: .seconds(10), retryAfterMax: .seconds(5), expected: .seconds(5)),
        RetryAfterCase(status: 503, retryAfter: .seconds(10), retryAfterMax: .seconds(30), expected: .seconds(10)),
        RetryAfterCase(status: 429, retryAfter: .seconds(10), retryAfterMax: .zero, expected: .seconds(1)),
        RetryAfterCase(status: 429, retryAfter: .seconds(10), retryAfterMax: .milliseconds(500), expected: .seconds(1)),
        RetryAfterCase(status: 429, retryAfter: .seconds(86_400), retryAfterMax: nil, expected: cap),
        RetryAfterCase(status: 429, retryAfter: .seconds(86_400), retryAfterMax: .seconds(120), expected: .seconds(120)),
    ])
    func retryAfterHonouredOnlyFor429And503(_ test: RetryAfterCase) {
        let policy = DeliveryPolicy(retry: 3, backoffPolicy: .linear, backoffDelay: .seconds(1), retryAfterMax: test.retryAfterMax)
        #expect(policy.wait(beforeRetry: 1, status: test.status, retryAfter: test.retryAfter, jitter: 0) == test.expected)
    }

    @Test(arguments: [
        (100, false), (101, false), (199, false),
        (200, false), (201, false), (202, false), (204, false), (299, false),
        (300, false), (301, false), (302, false), (304, false), (307, false),
        (400, false), (401, false), (403, false), (404, true), (405, false), (406, false), (407, false),
        (408, true), (409, true), (410, false), (411, false), (412, false), (413, false), (415, false),
        (422, false), (425, false), (428, false), (429, true), (431, false), (451, false), (499, false),
        (500, true), (501, true), (502, true), (503, true), (504, true), (505, true), (507, true), (511, true), (599, true),
    ])
    func retryableStatuses(_ status: Int, _ retryable: Bool) {
        #expect(DeliveryPolicy.isRetryable(status: status) == retryable)
    }

    @Test func defaultsAndAttempts() {
        let policy = DeliveryPolicy(nil, deadLetter: nil)
        #expect(policy.retry == 0)
        #expect(policy.attempts == 1)
        #expect(policy.backoffPolicy == .exponential)
        #expect(policy.backoffDelay == DeliveryPolicy.defaultBackoffDelay)
        #expect(policy.timeout == DeliveryPolicy.defaultTimeout)
        #expect(policy.retryAfterMax == nil)
        #expect(policy.deadLetter == nil)
        #expect(DeliveryPolicy(retry: 4).attempts == 5)
    }

    @Test func fromADeliverySpec() throws {
        let set = try ManifestLoader.load(files: [(name: "b.yaml", contents: """
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata:
              name: default
            spec:
              delivery:
                retry: 3
                backoffPolicy: linear
                backoffDelay: PT0.5S
                timeout: PT2S
                retryAfterMax: PT1M
            """)])
        let policy = DeliveryPolicy(set.brokers.first?.delivery, deadLetter: nil)
        #expect(policy.attempts == 4)
        #expect(policy.backoffPolicy == .linear)
        #expect(policy.backoff(beforeRetry: 3) == .milliseconds(1500))
        #expect(policy.timeout == .seconds(2))
        #expect(policy.retryAfterMax == .seconds(60))
    }
}

// MARK: Retry-After

@Suite("RetryAfter")
struct RetryAfterTests {
    static let now = 784_111_777  // Sun, 06 Nov 1994 08:49:37 GMT

    @Test(arguments: [
        ("0", Duration.zero), ("1", .seconds(1)), ("120", .seconds(120)), ("  30\t", .seconds(30)),
        ("86400", .seconds(86_400)), ("86401", .seconds(86_400)), ("100000000", .seconds(86_400)),
    ])
    func delaySeconds(_ text: String, _ expected: Duration) {
        #expect(RetryAfter.parse(text, now: Self.now) == expected)
    }

    @Test(arguments: [
        ("Sun, 06 Nov 1994 08:49:37 GMT", Duration.zero),
        ("Sun, 06 Nov 1994 08:50:07 GMT", .seconds(30)),
        ("Sun, 06 Nov 1994 09:49:37 GMT", .seconds(3600)),
        ("Mon, 07 Nov 1994 08:49:37 GMT", .seconds(86_400)),
        ("Sun, 06 Nov 1994 08:49:36 GMT", .zero),  // in the past
        ("Thu, 01 Jan 1970 00:00:00 GMT", .zero),
        ("Fri, 31 Dec 9999 23:59:59 GMT", .seconds(86_400)),  // capped at a day
        (" Sun, 06 Nov 1994 08:50:07 GMT ", .seconds(30)),
    ])
    func imfFixdate(_ text: String, _ expected: Duration) {
        #expect(RetryAfter.parse(text, now: Self.now) == expected)
    }

    /// Dates checked against known epoch seconds, including leap days and month boundaries.
    @Test(arguments: [
        ("Thu, 01 Jan 1970 00:01:40 GMT", 100),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777),
        ("Tue, 29 Feb 2000 00:00:00 GMT", 951_782_400),
        ("Wed, 01 Mar 2000 00:00:00 GMT", 951_868_800),
        ("Fri, 01 Mar 2024 00:00:00 GMT", 1_709_251_200),
        ("Sat, 01 Jan 2000 00:00:00 GMT", 946_684_800),
    ])
    func dateArithmetic(_ text: String, _ epoch: Int) {
        #expect(RetryAfter.parse(text, now: epoch - 42) == .seconds(42))
    }

    @Test(arguments: [
        "", " ", "-1", "+5", "-120", "1.5", "1e3", "abc", "12 s", "0x10", "Sun, 06 Nov 1994 08::49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37",
        "Sunday, 06-Nov-94 08:49:37 GMT",  // RFC 850
        "Sun Nov  6 08:49:37 1994",  // asctime
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08:49:37:01 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
    ])
    func invalid(_ text: String) {
        #expect(RetryAfter.parse(text, now: Self.now) == nil)
    }

    @Test func absurdDelaysAreCappedAtADay() {
        #expect(RetryAfter.parse("99999999999999999999999", now: Self.now) == .seconds(86_400))
    }
}

// MARK: Dead letters

private func event(extra: [(String, String)] = [], data: [UInt8]? = Array("payload".utf8)) throws -> CloudEvent {
    var builder = CloudEventBuilder()
    try builder.add(name: "id", value: "e-1")
    try builder.add(name: "source", value: "/orders")
    try builder.add(name: "type", value: "com.example.order")
    for (name, value) in extra { try builder.add(name: name, value: value) }
    return builder.build(data: data)
}

private func count(_ name: String, in event: CloudEvent) -> Int {
    event.attributes.filter { $0.name == name }.count
}

@Suite("DeadLetter")
struct DeadLetterTests {
    @Test(arguments: [1, 2, 3, 100, 767, 768, 769, 1023, 1024, 1025, 5000])
    func extensionsForABody(length: Int) throws {
        let original = try event()
        let body = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let letter = DeadLetter.event(for: original, destination: "http://sub.default.svc.cluster.local/", status: 503, body: body)
        #expect(letter.string(named: "knativeerrordest") == "http://sub.default.svc.cluster.local/")
        #expect(letter.kind(named: "knativeerrordest") == .uri)
        #expect(letter.string(named: "knativeerrorcode") == "503")
        #expect(letter.kind(named: "knativeerrorcode") == .integer)
        let expected = Data(body.prefix(DeadLetter.maximumErrorData)).base64EncodedString()
        #expect(letter.string(named: "knativeerrordata") == expected)
        #expect(letter.kind(named: "knativeerrordata") == .string)
        let text = try #require(letter.string(named: "knativeerrordata"))
        let decoded = try #require(Data(base64Encoded: text))
        #expect(decoded.count == min(length, 1024))
        #expect(Array(decoded) == Array(body.prefix(1024)))
    }

    @Test func emptyBodyOmitsErrorData() throws {
        let letter = DeadLetter.event(for: try event(), destination: "http://a.example/", status: 500, body: [])
        #expect(letter.string(named: "knativeerrordata") == nil)
        #expect(letter.string(named: "knativeerrorcode") == "500")
    }

    @Test func keepsTheOriginalEventAndSharesItsData() throws {
        let original = try event(extra: [("subject", "s"), ("myext", "v"), ("knativebrokerttl", "254")])
        let letter = DeadLetter.event(for: original, destination: "http://a.example/", status: 404, body: Array("not here".utf8))
        for name in ["id", "source", "type", "subject", "myext", "knativebrokerttl"] {
            #expect(letter.string(named: name) == original.string(named: name), "\(name)")
        }
        #expect(letter.specVersion == original.specVersion)
        #expect(letter.data == original.data)
        let sameBuffer = original.data!.withUnsafeBufferPointer { a in letter.data!.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress } }
        #expect(sameBuffer, "the data is shared, not copied")
        #expect(original.string(named: "knativeerrorcode") == nil, "the original is unchanged")
        #expect(letter.attributeCount == original.attributeCount + 3)
    }

    /// A dead letter of a dead letter: the extensions are replaced, never duplicated, and an
    /// empty body removes stale error data.
    @Test func replacesEarlierErrorExtensions() throws {
        let first = DeadLetter.event(for: try event(), destination: "http://first.example/", status: 500, body: [1, 2, 3])
        let second = DeadLetter.event(for: first, destination: "http://second.example/", status: 429, body: [])
        #expect(second.string(named: "knativeerrordest") == "http://second.example/")
        #expect(second.string(named: "knativeerrorcode") == "429")
        #expect(second.string(named: "knativeerrordata") == nil)
        for name in ["knativeerrordest", "knativeerrorcode"] { #expect(count(name, in: second) == 1) }
        let third = DeadLetter.event(for: first, destination: "http://third.example/", status: 500, body: [9])
        #expect(count("knativeerrordata", in: third) == 1)
        #expect(third.string(named: "knativeerrordata") == "CQ==")
    }

    @Test func eventWithoutData() throws {
        let letter = DeadLetter.event(for: try event(data: nil), destination: "http://a.example/", status: 500, body: Array("dispatch error".utf8))
        #expect(letter.data == nil)
        #expect(letter.string(named: "knativeerrordata") == "ZGlzcGF0Y2ggZXJyb3I=")
    }
}

// MARK: Pass-through headers

@Suite("PassThroughHeaders")
struct PassThroughHeadersTests {
    @Test(arguments: [
        ("traceparent", true), ("Traceparent", true), ("TRACEPARENT", true), ("tracestate", true),
        ("x-request-id", true), ("X-Request-ID", true), ("b3", true), ("B3", true),
        ("knative-foo", true), ("Knative-Serving-Namespace", true), ("knative-x", true),
        ("x-b3-traceid", true), ("X-B3-SpanId", true), ("x-b3-sampled", true),
        ("knative-", false), ("knative", false), ("x-b3-", false), ("x-b3", false),
        ("content-type", false), ("ce-id", false), ("ce-type", false), ("host", false), ("prefer", false),
        ("x-request-ids", false), ("traceparent2", false), ("b33", false), ("", false),
        ("kn-namespace", false), ("xknative-foo", false), ("authorization", false),
    ])
    func keeps(_ name: String, _ kept: Bool) {
        var name = name
        let result = name.withUTF8 { PassThroughHeaders.keeps(UnsafeRawBufferPointer($0)) }
        #expect(result == kept)
    }
}
