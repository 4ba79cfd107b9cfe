import ArgumentParser
import Dispatch
import Glibc
import SluiceCloudEvents
import SluiceCloudEventsHTTP
import SluiceHTTP
import SluiceIO

/// `sluice display`: a subscriber that prints every CloudEvent it receives, as Knative's
/// `event_display` service does, on the project's own HTTP server. It can fail a share of
/// requests, to watch retries and dead-letter sinks at work, and answer with a reply event.
struct Display: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every CloudEvent POSTed to this port (an event_display subscriber).",
        discussion: """
            Any path takes events, in binary or structured mode. Runs until SIGINT or SIGTERM. \
            Examples:
              sluice display --port 9999
              sluice display --port 9999 --fail 100%      (every delivery fails: watch the retries)
              sluice display --port 9999 --reply com.example.order.seen
            """
    )

    @Option(name: .long, help: "Port to listen on.")
    var port: Int = 9999

    @Option(name: .long, help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(name: .long, help: "Answer 500 to this share of requests, such as 50% (every other one) or 100%.")
    var fail: String = "0%"

    @Option(name: .long, help: "Answer each event with a reply event of this type (same data), which a broker routes on.")
    var reply: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, not \(port)") }
        guard failPercent != nil else { throw ValidationError("--fail takes a share from 0% to 100%, not \(fail)") }
    }

    /// `--fail` as a whole percentage.
    var failPercent: Int? {
        let digits = fail.hasSuffix("%") ? String(fail.dropLast()) : fail
        guard let value = Int(digits), (0...100).contains(value) else { return nil }
        return value
    }

    func run() throws {
        ProcessPolicy.apply()
        let group = try EventLoopGroup(loopCount: 1)
        let printer = DisplayPrinter(failPercent: failPercent ?? 0, replyType: reply)
        var router = Router()
        router.fallback = { request, responder in printer.handle(request, &responder) }
        var configuration = HTTPServerConfiguration()
        configuration.host = host
        configuration.port = port
        let server = HTTPServer(configuration: configuration, router: router, group: group)
        do {
            try server.start()
        } catch {
            group.shutdown()
            throw ExitError(message: "cannot listen on \(host):\(port): \(error)")
        }
        let bound = server.localAddress.map { "\($0)" } ?? "\(host):\(port)"
        print("Waiting for CloudEvents on http://\(bound) (Ctrl-C to stop)")
        fflush(nil)
        let stop = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        stop.wait()
        server.shutdown(grace: .seconds(1))
        group.shutdown()
        _ = sources
    }
}

/// Prints and answers the requests `sluice display` receives; runs on its one event loop.
final class DisplayPrinter: @unchecked Sendable {  // touched only on the server's single loop
    let failPercent: Int
    let replyType: String?
    private var received = 0
    private var decoder = HTTPEventDecoder()
    private var ids = UUIDGenerator()

    init(failPercent: Int, replyType: String?) {
        self.failPercent = failPercent
        self.replyType = replyType
    }

    func handle(_ request: borrowing HTTPRequest, _ responder: inout HTTPResponder) {
        guard request.method == .post else {
            responder.respond(status: HTTPStatus(code: 405), headers: [("Allow", "POST")], text: "POST CloudEvents here\n")
            return
        }
        let events: [CloudEvent]
        do {
            events = try decoder.decode(request, keepTransportHeader: { _ in false })
        } catch {
            print("✗ \(request.pathString): not a CloudEvent (400): \(error)\n")
            fflush(nil)
            responder.respond(status: HTTPStatus(code: 400), text: "\(error)\n")
            return
        }
        // --fail N% fails requests spread evenly: request k fails when the running count of
        // failures owed, k * N / 100, steps up.
        let failing = (received + 1) * failPercent / 100 > received * failPercent / 100
        received += 1
        for event in events {
            print("POST \(request.pathString)")
            print(EventText.render(event))
            if failing { print("→ answered 500 (--fail \(failPercent)%)") }
            print("")
        }
        fflush(nil)  // at once, also into a pipe
        if failing {
            responder.respond(status: HTTPStatus(code: 500), text: "failing on purpose (sluice display --fail \(failPercent)%)\n")
        } else if let replyType, let event = events.first {
            responder.respond(replyTo(event, type: replyType))
        } else {
            responder.respond(HTTPResponse(status: HTTPStatus(code: 200)))
        }
    }

    /// A binary-mode reply: a new id, `type`, this program as source, the event's data.
    private func replyTo(_ event: CloudEvent, type: String) -> HTTPResponse {
        var headers: [(name: String, value: String)] = [
            ("ce-specversion", "1.0"), ("ce-id", ids.next()), ("ce-source", "/sluice/display"), ("ce-type", type),
        ]
        if let contentType = event.string(AttributeName.datacontenttype) { headers.append(("Content-Type", contentType)) }
        return HTTPResponse(status: HTTPStatus(code: 200), headers: headers, body: event.data ?? [])
    }
}
