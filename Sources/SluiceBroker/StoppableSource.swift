import Dispatch

/// A source the data plane stops (KafkaSource, RabbitmqSource): it stops taking work in, lets
/// what is in flight finish within `grace` (or hands it back to its broker), and then calls
/// `done`.
public protocol StoppableSource: AnyObject, Sendable {
    func stop(grace: Duration, done: @escaping @Sendable () -> Void)
}

extension Collection where Element == any StoppableSource {
    /// Stops every source at once and waits until all are done, or `grace` plus `margin` (for
    /// closing connections after the grace) has passed.
    public func stopAndWait(grace: Duration, margin: Duration = .seconds(5)) {
        let finished = DispatchGroup()
        for source in self {
            finished.enter()
            source.stop(grace: grace) { finished.leave() }
        }
        _ = finished.wait(timeout: .now() + .seconds(Int((grace + margin).components.seconds)))
    }
}
