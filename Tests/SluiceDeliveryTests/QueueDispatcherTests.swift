import SluiceCloudEvents
@testable import SluiceDelivery
import SluiceHTTP
import SluiceIO
import SluiceStorage
import Testing

@Suite("QueueDispatcher: a queue drained through the core within a window")
struct QueueDispatcherTests {
    private func fill(_ store: MemoryStore, _ queue: RingTriggerQueue, count: Int) {
        for index in 0..<count {
            var builder = CloudEventBuilder()
            try? builder.add(name: "id", value: "\(index)")
            try? builder.add(name: "source", value: "/tests")
            try? builder.add(name: "type", value: "com.example.test")
            store.append([StoreEntry(event: builder.build(data: [UInt8]?.none), queues: [queue])]) { error in
                #expect(error == nil)
            }
        }
    }

    @Test func atMostWindowDeliveriesAreInFlightAndEveryEventIsDone() throws {
        let scheduler = ManualScheduler()
        let transport = ScriptedTransport(scheduler: scheduler, holding: true)
        let deliverer = Deliverer(scheduler: scheduler, transport: transport)
        let store = MemoryStore(maxEventsPerTrigger: 100)
        let queue = store.queue(forTrigger: "default/t")
        let monitor = DeliveryMonitor(owner: DeliveryOwner(kind: "trigger", namespace: "default", name: "t"), metrics: .discarded(),
                                      logger: .init(label: "test"))
        let route = DeliveryRoute(monitor: monitor, subscriber: .http(try #require(HTTPURL("http://subscriber/"))),
                                  policy: DeliveryPolicy(), replies: nil)
        let dispatcher = QueueDispatcher(route: route, queue: queue, deliverer: deliverer, window: 3)
        dispatcher.start()
        fill(store, queue, count: 10)
        scheduler.runReady()
        #expect(transport.heldCount == 3, "the window bounds what is in flight")
        #expect(dispatcher.deliveriesInFlight == 3)
        var rounds = 0
        while transport.heldCount > 0 && rounds < 10 {
            transport.releaseHeld()
            scheduler.runReady()
            rounds += 1
            #expect(transport.heldCount <= 3)
        }
        #expect(transport.sent.map(\.request.event.id) == (0..<10).map(String.init), "in queue order")
        #expect(queue.depth == 0, "every event reported done")
        #expect(transport.sent.count == 10)
    }

    @Test func aStoppedDispatcherTakesNothingNew() throws {
        let scheduler = ManualScheduler()
        let transport = ScriptedTransport(scheduler: scheduler)
        let store = MemoryStore()
        let queue = store.queue(forTrigger: "default/t")
        let monitor = DeliveryMonitor(owner: DeliveryOwner(kind: "trigger", namespace: "default", name: "t"), metrics: .discarded(),
                                      logger: .init(label: "test"))
        let route = DeliveryRoute(monitor: monitor, subscriber: .http(try #require(HTTPURL("http://subscriber/"))),
                                  policy: DeliveryPolicy(), replies: nil)
        let dispatcher = QueueDispatcher(route: route, queue: queue, deliverer: Deliverer(scheduler: scheduler, transport: transport))
        dispatcher.start()
        dispatcher.stop()
        scheduler.runReady()
        fill(store, queue, count: 2)
        scheduler.runReady()
        #expect(transport.sent.isEmpty)
        #expect(queue.depth == 2)
    }
}

@Suite("AdaptiveWindow: fewer deliveries at once to a failing subscriber")
struct AdaptiveWindowTests {
    @Test func failuresHalveItOncePerRoundAndSuccessesGrowItBack() {
        var window = AdaptiveWindow(limit: 100)
        #expect(window.allowed == 100)
        window.failed(at: 1_000)
        #expect(window.allowed == 50)
        for offset in 1...99 { window.failed(at: 1_000 + Int64(offset)) }
        #expect(window.allowed == 50, "failures of one round count once")
        for round in 1...10 { window.failed(at: 1_000 + Int64(round) * AdaptiveWindow.roundMilliseconds) }
        #expect(window.allowed == 1, "never below one")
        for _ in 0..<10 { window.succeeded() }
        #expect(window.allowed == 11)
        for _ in 0..<500 { window.succeeded() }
        #expect(window.allowed == 100, "never above the limit")
    }
}
