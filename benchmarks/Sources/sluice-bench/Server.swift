import Dispatch
import Glibc
import SluiceHTTP
import SluiceIO

/// The engine endpoint: the HTTP server answering a prepared 202 to every POST /<ns>/<broker>,
/// i.e. everything a broker ingress does except parsing and storing the event.
func runServer(port: Int, loops: Int) throws {
    let group = try EventLoopGroup(loopCount: loops)
    var configuration = HTTPServerConfiguration()
    configuration.host = "127.0.0.1"
    configuration.port = port
    let accepted = PreparedResponse(status: .accepted)
    var router = Router()
    router.post("/:namespace/:broker") { _, responder in responder.respond(accepted) }
    let server = HTTPServer(configuration: configuration, router: router, group: group)
    try server.start()
    print("listening on \(server.localAddress.map(\.description) ?? "?") with \(loops) loop(s)")
    let stop = DispatchSemaphore(value: 0)
    signal(SIGTERM, SIG_IGN)
    signal(SIGINT, SIG_IGN)
    let sources = [SIGTERM, SIGINT].map { number in
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { stop.signal() }
        source.resume()
        return source
    }
    withExtendedLifetime(sources) { stop.wait() }
    server.shutdown(grace: .seconds(1))
    group.shutdown()
}
