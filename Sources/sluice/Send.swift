import ArgumentParser
import Dispatch
import Glibc
import SluiceCloudEvents
import SluiceCloudEventsHTTP
import SluiceHTTP
import SluiceIO

/// `sluice send`: posts CloudEvents to a broker, channel or any URL, as Knative's
/// `kn event send` does, through the project's own HTTP client.
struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send CloudEvents to a broker on a local Sluice, or to any URL.",
        discussion: """
            Prints the answer to each event (status, and the reason on an error); exits 0 only \
            when every event was answered 2xx. Examples:
              sluice send --broker demo/default --type com.example.order.created --data '{"id":1}'
              sluice send --url http://127.0.0.1:8080/demo/default --count 100
              tail -f orders.jsonl | sluice send --broker demo/default --stdin
            """
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case binary, structured
    }

    @Option(name: .long, help: "Where to POST the events (http or https).")
    var url: String?

    @Option(name: .long, help: "A broker of the local Sluice, as <namespace>/<name>: http://127.0.0.1:<port>/<namespace>/<name>.")
    var broker: String?

    @Option(name: .long, help: "Ingress port of the local Sluice, with --broker.")
    var port: Int = 8080

    @Option(name: .long, help: "The event's type.")
    var type: String = "dev.sluice.event"

    @Option(name: .long, help: "The event's source.")
    var source: String = "/sluice/send"

    @Option(name: .long, help: "The event's id (default: a new UUID per event).")
    var id: String?

    @Option(name: .long, help: "The event's subject.")
    var subject: String?

    @Option(name: .long, help: "The event's data.")
    var data: String?

    @Option(name: .long, help: "A file whose bytes are the event's data.")
    var dataFile: String?

    @Flag(name: .long, help: "Send one event per line of standard input, the line as its data.")
    var stdin = false

    @Option(name: .long, help: "The data's media type (default: application/json when there is data).")
    var contentType: String?

    @Option(name: [.customShort("e"), .customLong("extension")], help: "An extension attribute, key=value (repeatable).")
    var extensions: [String] = []

    @Option(name: .long, help: "HTTP binding mode: binary (ce-* headers) or structured (application/cloudevents+json).")
    var mode: Mode = .binary

    @Option(name: .long, help: "How many events to send (each with its own id unless --id is given).")
    var count: Int = 1

    @Option(name: .long, help: "Seconds to wait for each answer.")
    var timeout: Int = 10

    func validate() throws {
        if (url == nil) == (broker == nil) { throw ValidationError("give either --url or --broker <namespace>/<name>") }
        if let broker, broker.split(separator: "/").count != 2 { throw ValidationError("--broker must be <namespace>/<name>, not \(broker)") }
        if [data != nil, dataFile != nil, stdin].filter({ $0 }).count > 1 { throw ValidationError("give at most one of --data, --data-file and --stdin") }
        if count < 1 { throw ValidationError("--count must be positive") }
        if !(1...3600).contains(timeout) { throw ValidationError("--timeout must be between 1 and 3600 seconds") }
        for entry in extensions where !entry.contains("=") { throw ValidationError("-e takes key=value, not \(entry)") }
    }

    func run() throws {
        ProcessPolicy.apply()
        let target = url ?? "http://127.0.0.1:\(port)/\(broker ?? "")"
        guard let address = HTTPURL(target) else { throw ExitError(message: "not an http(s) URL: \(target)") }
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }
        let client = HTTPClient(group: group, configuration: try ClientTransportSecurity.configuration(trustDirectory: nil))
        defer { client.shutdown() }

        var ids = UUIDGenerator()
        var failures = 0
        var sent = 0
        var accepted: [Int: Int] = [:]
        func post(_ payload: [UInt8]?) throws {
            let event = try makeEvent(id: id ?? ids.next(), data: payload)
            let answer = exchange(client, request: request(for: event, to: address))
            sent += 1
            switch answer {
            case .success(let response) where (200..<300).contains(response.status):
                accepted[response.status, default: 0] += 1
                if count == 1 && !stdin { print(HTTPStatus(code: response.status)) }
            case .success(let response):
                failures += 1
                let reason = String(decoding: response.body.prefix(512), as: UTF8.self).trimmingWhitespace
                print("\(HTTPStatus(code: response.status))\(reason.isEmpty ? "" : ": \(reason)")")
            case .failure(let error):
                failures += 1
                print("not sent: \(error)")
            }
        }
        if stdin {
            while let line = readLine(strippingNewline: true) { try post(Array(line.utf8)) }
        } else {
            let payload = try dataFile.map(readFile) ?? data.map { Array($0.utf8) }
            for _ in 0..<count { try post(payload) }
        }
        if sent > 1 || stdin {
            let answers = accepted.sorted { $0.key < $1.key }.map { "\($0.value)× \($0.key)" }
            print("\(sent) sent, \(sent - failures) accepted\(answers.isEmpty ? "" : " (\(answers.joined(separator: ", ")))")")
        }
        if failures > 0 { throw ExitCode(1) }
    }

    private func makeEvent(id: String, data: [UInt8]?) throws -> CloudEvent {
        var builder = CloudEventBuilder()
        do {
            try builder.add(name: "id", value: id)
            try builder.add(name: "source", value: source, kind: .uriReference)
            try builder.add(name: "type", value: type)
            if let subject { try builder.add(name: "subject", value: subject) }
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            try builder.add(name: "time", value: Generated.rfc3339(milliseconds: Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec / 1_000_000)),
                            kind: .timestamp)
            if let kind = contentType ?? (data == nil ? nil : "application/json") { try builder.add(name: "datacontenttype", value: kind) }
            for entry in extensions {
                let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                try builder.add(name: String(parts[0]), value: String(parts[1]))
            }
            try builder.validateRequired()
        } catch {
            throw ExitError(message: "not a valid CloudEvent: \(error)")
        }
        return builder.build(data: data)
    }

    private func request(for event: CloudEvent, to address: HTTPURL) -> HTTPClientRequest {
        var request = HTTPClientRequest(method: .post, url: address, timeout: .seconds(timeout))
        switch mode {
        case .binary:
            request.headerWriter = BinaryHeaders(event: event)
            request.body = event.data ?? []
        case .structured:
            request.headers = [("Content-Type", "application/cloudevents+json")]
            request.body = JSONFormat.encode(event)
        }
        return request
    }

    /// Sends one request and waits for its answer (the client runs on its own loop).
    private func exchange(_ client: HTTPClient, request: HTTPClientRequest) -> Result<HTTPClientResponse, HTTPError> {
        let answer = Locked<Result<HTTPClientResponse, HTTPError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        client.execute(request) { result in
            answer.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return answer.withLock { $0 } ?? .failure(.shutdown)
    }

    private func readFile(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else { throw ExitError(message: "--data-file \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let read = fread(&chunk, 1, chunk.count, file)
            if read <= 0 { break }
            bytes.append(contentsOf: chunk[0..<read])
        }
        return bytes
    }
}

/// A binary-mode event's `ce-*` and Content-Type header lines, written by the HTTP binding.
private struct BinaryHeaders: HTTPHeaderWriter {
    let event: CloudEvent

    func writeHeaders(into buffer: ByteBuffer) {
        HTTPBinding.writeBinaryHeaders(of: event, into: buffer, skip: { _ in false })
    }
}

extension String {
    var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
