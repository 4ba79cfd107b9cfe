import SluiceConfig
import SluiceIO

/// How hard to try one delivery: Knative's DeliverySpec resolved to numbers.
///
/// Retry n (1-based) waits `backoffDelay × n` (linear) or `backoffDelay × 2^(n-1)`
/// (exponential), plus up to 10% jitter, capped at `maximumBackoff`. On 429 and 503 a
/// `Retry-After` answer is honoured (it can lengthen the wait, never shorten it), capped by
/// `retryAfterMax` when set and by `maximumBackoff` otherwise.
public struct DeliveryPolicy: Sendable {
    public var retry: Int
    public var backoffPolicy: BackoffPolicy
    public var backoffDelay: Duration
    public var timeout: Duration
    public var retryAfterMax: Duration?
    public var deadLetter: DeliveryTarget?

    public static let defaultBackoffDelay: Duration = .seconds(1)
    public static let defaultTimeout: Duration = .seconds(30)
    public static let maximumBackoff: Duration = .seconds(600)

    public init(retry: Int = 0, backoffPolicy: BackoffPolicy = .exponential, backoffDelay: Duration = defaultBackoffDelay,
                timeout: Duration = defaultTimeout, retryAfterMax: Duration? = nil, deadLetter: DeliveryTarget? = nil) {
        self.retry = retry
        self.backoffPolicy = backoffPolicy
        self.backoffDelay = backoffDelay
        self.timeout = timeout
        self.retryAfterMax = retryAfterMax
        self.deadLetter = deadLetter
    }

    /// The policy a spec describes; absent fields take Sluice's defaults (no retry, 1 s
    /// exponential backoff, 30 s per attempt).
    public init(_ spec: DeliverySpec?, deadLetter: DeliveryTarget?) {
        self.init(retry: spec?.retry ?? 0, backoffPolicy: spec?.backoffPolicy ?? .exponential,
                  backoffDelay: spec?.backoffDelay ?? DeliveryPolicy.defaultBackoffDelay,
                  timeout: spec?.timeout ?? DeliveryPolicy.defaultTimeout, retryAfterMax: spec?.retryAfterMax,
                  deadLetter: deadLetter)
    }

    /// Total attempts: the first plus `retry`.
    public var attempts: Int { 1 + retry }

    /// The wait before retry `retry` (1-based), before jitter and Retry-After.
    public func backoff(beforeRetry retry: Int) -> Duration {
        let delay = Double(backoffDelay.nanoseconds)
        let cap = Double(DeliveryPolicy.maximumBackoff.nanoseconds)
        guard delay > 0, retry > 0 else { return .zero }
        let factor: Double
        switch backoffPolicy {
        case .linear: factor = Double(retry)
        case .exponential: factor = retry > 62 ? cap : Double(UInt64(1) << UInt64(retry - 1))
        }
        return .nanoseconds(Int64(min(delay * factor, cap)))
    }

    /// The wait before retry `retry`, given what the subscriber said.
    public func wait(beforeRetry retry: Int, status: Int?, retryAfter: Duration?, jitter: Double) -> Duration {
        var wait = backoff(beforeRetry: retry)
        wait += .nanoseconds(Int64(Double(wait.nanoseconds) * min(max(jitter, 0), 1) * 0.1))
        wait = min(wait, DeliveryPolicy.maximumBackoff)
        if let retryAfter, status == 429 || status == 503 {
            // An explicit retryAfterMax is the user's cap and may exceed the backoff cap.
            wait = max(wait, min(retryAfter, retryAfterMax ?? DeliveryPolicy.maximumBackoff))
        }
        return wait
    }

    /// Whether Knative retries an answer: 5xx, 404, 408, 409, 429; transport errors always.
    public static func isRetryable(status: Int) -> Bool {
        status >= 500 || status == 404 || status == 408 || status == 409 || status == 429
    }
}
