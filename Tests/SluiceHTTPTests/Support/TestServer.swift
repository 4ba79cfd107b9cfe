import Dispatch
import SluiceHTTP
import SluiceIO
import Synchronization

/// A real HTTPServer on 127.0.0.1 and an ephemeral port, with a few routes tests rely on.
/// `stop()` shuts the server and its loops down; every test calls it.
final class TestServer: Sendable {
    let group: EventLoopGroup
    let server: HTTPServer
    let counters = Counters()

    var port: Int { server.localAddress?.port ?? 0 }

    init(loops: Int = 2, configure: (inout HTTPServerConfiguration) -> Void = { _ in }, extraRoutes: (inout Router) -> Void = { _ in }) throws {
        raiseDescriptorLimit()
        group = try EventLoopGroup(loopCount: loops)
        var configuration = HTTPServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configure(&configuration)
        var router = Router()
        let counter = counters
        router.get("/hello") { _, responder in
            counter.count()
            responder.respond(status: .ok, text: "hello")
        }
        router.get("/echo/:word") { request, responder in
            counter.count()
            responder.respond(status: .ok, text: request.parameterString(0))
        }
        router.post("/echo") { request, responder in
            counter.count()
            responder.respond(HTTPResponse(status: .ok, body: Array(request.body)))
        }
        router.post("/accept") { _, responder in
            counter.count()
            responder.respond(TestServer.accepted)
        }
        router.get("/headers") { request, responder in
            var lines = ""
            request.forEachHeader { name, value in
                lines += String(decoding: name, as: UTF8.self) + "=" + String(decoding: value, as: UTF8.self) + "\n"
            }
            responder.respond(status: .ok, text: lines)
        }
        // Answers from another thread after the given number of milliseconds.
        router.get("/later/:ms") { request, responder in
            let delay = Int(request.parameterString(0)) ?? 0
            let token = responder.deferResponse()
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delay)) {
                token.complete(HTTPResponse(status: .ok, text: "later \(delay)"))
            }
        }
        // Never answers until the test releases it.
        router.get("/park") { _, responder in
            let token = responder.deferResponse()
            counter.park(token)
        }
        router.get("/big/:bytes") { request, responder in
            let count = Int(request.parameterString(0)) ?? 0
            responder.respond(HTTPResponse(status: .ok, body: (0..<count).map { UInt8(truncatingIfNeeded: $0) }))
        }
        extraRoutes(&router)
        server = HTTPServer(configuration: configuration, router: router, group: group)
        try server.start()
    }

    static let accepted = PreparedResponse(status: .accepted)

    func releaseParked(_ response: HTTPResponse = HTTPResponse(status: .ok, text: "released")) {
        for token in counters.takeParked() { token.complete(response) }
    }

    func stop() {
        server.shutdown(grace: .milliseconds(200))
        group.shutdown()
    }
}

/// What route closures may capture (they must be Sendable).
final class Counters: Sendable {
    let requests = Atomic<Int>(0)
    private let parked = Locked<[DeferredResponse]>([])

    func count() { requests.wrappingAdd(1, ordering: .relaxed) }
    func park(_ token: DeferredResponse) { parked.withLock { $0.append(token) } }
    var parkedCount: Int { parked.withLock { $0.count } }

    func takeParked() -> [DeferredResponse] {
        parked.withLock { list in
            let taken = list
            list.removeAll()
            return taken
        }
    }
}
