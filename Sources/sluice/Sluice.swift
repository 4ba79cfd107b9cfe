import ArgumentParser

@main
struct Sluice: ParsableCommand {
    /// The release this binary is, printed by `sluice --version`.
    static let version = "0.15.0"

    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A Knative Eventing data plane: CloudEvents broker ingress, trigger routing and delivery.",
        discussion: """
            Sluice reads Knative manifests (Broker, Trigger, channels, sources, sinks) and serves \
            their data plane from one process: events POSTed to /<namespace>/<broker> are stored, \
            matched against the broker's triggers and delivered to subscribers with retries and \
            dead-letter sinks.

            Shell completion: `sluice --generate-completion-script bash` (or zsh, fish).
            """,
        version: Sluice.version,
        subcommands: [Serve.self, Validate.self, Send.self, Display.self],
        defaultSubcommand: nil
    )
}
