import SluiceHTTP

/// Channel ingress, at the two addresses Knative gives a channel: `POST /channels/<namespace>/<name>`,
/// and its Host-based address (`Host: <name>-kn-channel.<namespace>.svc.<domain>`, path `/`),
/// with the broker ingress's answers.
extension Ingress {
    func handleChannel(_ request: borrowing HTTPRequest, _ responder: inout HTTPResponder) {
        guard isPost(request, &responder) else { return }
        guard let channel = states[responder.loop.index].plane.channel(path: request.path) else {
            return notFound(namespace: request.parameterString(0), name: request.parameterString(1), &responder)
        }
        ingest(request, into: channel, &responder)
    }

    /// Serves a request to "/" whose Host names a channel; false when it names none.
    func handleChannelHost(_ request: borrowing HTTPRequest, _ responder: inout HTTPResponder) -> Bool {
        guard let host = request.headerString("host"), let (namespace, name) = Ingress.channelAddress(host: host) else { return false }
        guard isPost(request, &responder) else { return true }
        if let channel = states[responder.loop.index].plane.channel(namespace: namespace, name: name) {
            ingest(request, into: channel, &responder)
        } else {
            notFound(namespace: namespace, name: name, &responder)
        }
        return true
    }

    private func notFound(namespace: String, name: String, _ responder: inout HTTPResponder) {
        responder.respond(status: .notFound, headers: IngressAnswers.allow, text: "channel \(namespace)/\(name) not found\n")
    }

    /// The namespace and name in `<name>-kn-channel.<namespace>[.svc[.<domain>]][:port]`.
    static func channelAddress(host: String) -> (namespace: String, name: String)? {
        let withoutPort = host.split(separator: ":", maxSplits: 1).first.map(String.init) ?? host
        let labels = withoutPort.lowercased().split(separator: ".", omittingEmptySubsequences: false)
        let suffix = "-kn-channel"
        guard labels.count >= 2, labels[0].hasSuffix(suffix), labels[0].count > suffix.count, !labels[1].isEmpty,
              labels.count == 2 || labels[2] == "svc" else { return nil }
        return (String(labels[1]), String(labels[0].dropLast(suffix.count)))
    }
}
