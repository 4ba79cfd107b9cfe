import ArgumentParser

@main
struct Sluice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A Knative Eventing data plane: CloudEvents broker ingress, trigger routing and delivery.",
        discussion: """
            Sluice reads Knative manifests (Broker, Trigger, channels, sources, sinks) and serves \
            their data plane from one process: events POSTed to /<namespace>/<broker> are stored, \
            matched against the broker's triggers and delivered to subscribers with retries and \
            dead-letter sinks.
            """,
        subcommands: [Serve.self, Validate.self],
        defaultSubcommand: nil
    )
}
