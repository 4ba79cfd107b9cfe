import Dispatch
import DequeModule
import Synchronization
import SluiceIO

/// An HTTP/1.1 client on the same event loops as the server: keep-alive pools per origin and
/// per loop, so a request issued on a loop is sent, answered and completed on that loop with no
/// thread hop. Requests issued elsewhere hop to a loop once.
public final class HTTPClient: Sendable {
    public let configuration: HTTPClientConfiguration
    let group: EventLoopGroup
    let resolver: Resolver
    let loopStates: [ClientLoopState]

    public init(group: EventLoopGroup, configuration: HTTPClientConfiguration = HTTPClientConfiguration()) {
        self.group = group
        self.configuration = configuration
        resolver = Resolver(ttl: configuration.dnsCacheTTL)
        loopStates = group.loops.map { ClientLoopState(loop: $0) }
    }

    /// Sends `request`; `completion` runs on the loop that sent it (the calling loop when
    /// called on one of the group's loops, otherwise the next loop of the group).
    public func execute(_ request: HTTPClientRequest, on loop: EventLoop? = nil, _ completion: @escaping HTTPClientCompletion) {
        let target = loop ?? EventLoop.currentLoop.flatMap { current in
            group.loops.contains { $0 === current } ? current : nil
        } ?? group.next()
        let state = loopStates[target.index]
        if target.inEventLoop {
            state.execute(request, client: self, completion)
        } else {
            target.execute { state.execute(request, client: self, completion) }
        }
    }

    /// Connections currently open to `origin` across all loops (idle and busy). Asks each loop
    /// and waits for the answers, so it must not be called from one of the group's loops.
    public func openConnectionCount(to origin: Origin) -> Int {
        let total = Locked(0)
        let answered = DispatchGroup()
        for state in loopStates {
            answered.enter()
            state.loop.execute {
                let count = state.pools[origin]?.total ?? 0
                total.withLock { $0 += count }
                answered.leave()
            }
        }
        answered.wait()
        return total.withLock { $0 }
    }

    /// Closes pooled connections and fails requests still waiting. Blocks until every loop
    /// has done so; must not be called from a loop of the group.
    public func shutdown() {
        let done = DispatchGroup()
        for state in loopStates {
            done.enter()
            state.loop.execute {
                state.shutdown()
                done.leave()
            }
        }
        done.wait()
    }
}

/// The client's pools on one loop; touched only on that loop.
final class ClientLoopState: @unchecked Sendable {
    let loop: EventLoop
    var pools: [Origin: ConnectionPool] = [:]
    var isShutdown = false

    init(loop: EventLoop) {
        self.loop = loop
    }

    func execute(_ request: HTTPClientRequest, client: HTTPClient, _ completion: @escaping HTTPClientCompletion) {
        guard !isShutdown else {
            completion(.failure(.shutdown))
            return
        }
        let timeout = (request.timeout ?? client.configuration.requestTimeout).nanoseconds
        let task = ClientTask(request: request, deadline: loop.now &+ timeout, completion: completion)
        let origin = request.url.origin
        let pool: ConnectionPool
        if let existing = pools[origin] {
            pool = existing
        } else {
            pool = ConnectionPool(origin: origin, client: client, state: self)
            pools[origin] = pool
        }
        pool.execute(task)
    }

    func shutdown() {
        isShutdown = true
        // Busy connections keep their pool (they hold it strongly) until they finish.
        for pool in pools.values { pool.shutdown() }
        pools.removeAll()
    }
}

/// One request in flight, with its completion. Completed exactly once.
/// Loop-confined; Sendable only so loop callbacks can name it.
final class ClientTask: @unchecked Sendable {
    let request: HTTPClientRequest
    let deadline: UInt64
    private let completion: HTTPClientCompletion
    var resends = 0
    /// The timer bounding its wait for a connection, while it waits.
    var waitTimer: TimerID?
    private(set) var finished = false

    init(request: HTTPClientRequest, deadline: UInt64, completion: @escaping HTTPClientCompletion) {
        self.request = request
        self.deadline = deadline
        self.completion = completion
    }

    func finish(_ result: Result<HTTPClientResponse, HTTPError>) {
        guard !finished else { return }
        finished = true
        completion(result)
    }
}

/// Keep-alive connections to one origin on one loop: idle connections are reused most-recent
/// first (warm), new ones open up to the limit, and beyond it requests wait in FIFO order.
/// Loop-confined; Sendable only so loop callbacks can name it.
final class ConnectionPool: @unchecked Sendable {
    let origin: Origin
    let client: HTTPClient
    let state: ClientLoopState
    private var idle: [HTTPClientConnection] = []
    private var waiters = Deque<ClientTask>()
    /// Connections open or opening, idle or busy.
    private(set) var total = 0

    init(origin: Origin, client: HTTPClient, state: ClientLoopState) {
        self.origin = origin
        self.client = client
        self.state = state
    }

    var loop: EventLoop { state.loop }

    /// Sends `task` on an idle connection, a new one, or after a wait. `fresh` skips idle
    /// connections (a resend after a stale one: its siblings are likely stale too).
    func execute(_ task: ClientTask, fresh: Bool = false) {
        if !fresh, let connection = idle.popLast() {
            connection.send(task)
        } else if total < client.configuration.maxConnectionsPerOrigin {
            total += 1
            HTTPClientConnection(pool: self).open(with: task)
        } else if waiters.count < client.configuration.maxWaitingPerOrigin {
            waiters.append(task)
            // Bound the wait by the request's own deadline.
            task.waitTimer = loop.schedule(at: task.deadline) { [weak self] in
                guard let self, !task.finished, let index = self.waiters.firstIndex(where: { $0 === task }) else { return }
                self.waiters.remove(at: index)
                task.finish(.failure(.responseTimeout))
            }
        } else {
            task.finish(.failure(.poolExhausted))
        }
    }

    /// The next waiter still worth serving, its wait timer cancelled.
    private func nextWaiter() -> ClientTask? {
        while let next = waiters.popFirst() {
            if let timer = next.waitTimer {
                loop.cancel(timer)
                next.waitTimer = nil
            }
            if !next.finished { return next }
        }
        return nil
    }

    /// A connection finished a response and can take another request.
    func connectionIsFree(_ connection: HTTPClientConnection) {
        if let next = nextWaiter() {
            connection.send(next)
        } else {
            idle.append(connection)
        }
    }

    /// A connection closed (idle or after an error); its slot may serve a waiter. The waiter
    /// starts from the loop, not from this call: a new connection can fail synchronously and
    /// close again, and recursing through every waiter would exhaust the stack.
    func connectionClosed(_ connection: HTTPClientConnection) {
        if let index = idle.firstIndex(where: { $0 === connection }) { idle.remove(at: index) }
        total -= 1
        guard let next = nextWaiter() else { return }
        loop.execute { [self] in self.execute(next) }
    }

    /// Sends `task` again on a new connection: its pooled connection was stale.
    func resend(_ task: ClientTask) {
        task.resends += 1
        execute(task, fresh: true)
    }

    func shutdown() {
        while let waiter = waiters.popFirst() { waiter.finish(.failure(.shutdown)) }
        for connection in idle { connection.close(failing: .shutdown) }
        idle.removeAll()
    }
}
