import SluiceCloudEvents
import SluiceCloudEventsHTTP
import SluiceHTTP
import SluiceIO

/// Delivery over HTTP on one event loop, with the pooled client: the event in binary mode
/// (headers written straight into the connection's output) or structured mode, and the reply
/// decoded from a 2xx answer with the loop's own decoder.
public final class HTTPDeliveryTransport: DeliveryTransport, @unchecked Sendable {  // decoder: loop-confined
    public let loop: EventLoop
    private let client: HTTPClient
    private var decoder = HTTPEventDecoder()

    public init(client: HTTPClient, loop: EventLoop) {
        self.client = client
        self.loop = loop
    }

    public func send(_ request: DeliveryRequest, completion: @escaping @Sendable (DeliveryAnswer) -> Void) {
        var outgoing: HTTPClientRequest
        switch request.format {
        case .binary:
            outgoing = HTTPClientRequest(method: .post, url: request.url, body: request.event.data ?? [], timeout: request.timeout)
        case .json:
            var event = request.event
            if let hidden = request.hiddenAttribute { event = event.modified { $0.remove(hidden) } }
            outgoing = HTTPClientRequest(method: .post, url: request.url, body: JSONFormat.encode(event), timeout: request.timeout)
        }
        outgoing.headerWriter = request
        client.execute(outgoing, on: loop) { [self] result in
            switch result {
            case .success(let response):
                // Retry-After counts on 429 and 503 only: no header look-up for other answers.
                let status = response.status
                let retryAfter = status == 429 || status == 503 ? response.header("retry-after").flatMap { RetryAfter.parse($0) } : nil
                completion(.response(status: status, body: response.body, retryAfter: retryAfter,
                                     reply: reply(in: response, expected: request.decodesReply)))
            case .failure(let error):
                completion(.unreachable(reason: "\(error)", permanent: error.isUntrustedPeer))
            }
        }
    }

    private func reply(in response: HTTPClientResponse, expected: Bool) -> DeliveryAnswer.Reply {
        guard expected, (200..<300).contains(response.status) else { return .none }
        do {
            guard let events = try decoder.decodeReply(response, keepTransportHeader: PassThroughHeaders.keeps) else { return .none }
            return .events(events)
        } catch {
            return .invalid(reason: "\(error)")
        }
    }
}

/// The headers of a delivery POST, written straight into the connection's output: in binary
/// mode the event's attributes without the hidden one, in structured mode the content type;
/// then the kept transport headers (traceparent, x-request-id, knative-*, ...), the caller's
/// header lines, and `Prefer: reply` when a reply is expected.
extension DeliveryRequest: HTTPHeaderWriter {
    public func writeHeaders(into buffer: ByteBuffer) {
        switch format {
        case .binary:
            let hidden = hiddenAttribute
            HTTPBinding.writeBinaryHeaders(of: event, into: buffer) { name in
                if let hidden { return bytesEqual(name, hidden) }
                return false
            }
        case .json:
            buffer.append("Content-Type: application/cloudevents+json; charset=utf-8\r\n")
            HTTPBinding.writeTransportHeaders(of: event, into: buffer)
        }
        buffer.append(headerLines)
        if let audience = url.audience, let token = BearerTokens.shared.token(for: audience) {
            buffer.append("Authorization: Bearer ")
            buffer.append(string: token)
            buffer.append("\r\n")
        }
        if preferReply { buffer.append("Prefer: reply\r\n") }
    }
}
