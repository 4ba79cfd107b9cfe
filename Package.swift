// swift-tools-version:6.1
// Sluice: a Knative Eventing data plane. Modules follow the architecture, bottom up:
//   CSluice     C shims for kernel interfaces Glibc does not import cleanly (epoll, eventfd, ...)
//   SluiceIO    the I/O engine: syscalls, sockets, epoll event loops, timers, the lock-free queue
//   SluiceHTTP  HTTP/1.1 on SluiceIO: in-place parser, server with routes, pooled client
//   SluiceCloudEvents  the event model (one allocation per event), validation, JSON format,
//               the storage codec: no I/O
//   SluiceCloudEventsHTTP  the CloudEvents HTTP protocol binding
//   SluiceCloudEventsKafka  the CloudEvents Kafka protocol binding (records <-> events, no I/O)
//   CRdKafka    librdkafka from Debian (system library) with a shim for its variadic calls
//   SluiceKafka  the thin librdkafka layer: producers and consumers served on the event loops
//   SluiceCloudEventsAMQP  the CloudEvents AMQP binding, and Knative's RabbitMQ convention (no I/O)
//   CRabbitMQ   librabbitmq from Debian (system library) with a shim for its variadic login
//   COpenSSL    OpenSSL from Debian (system library) with shims for the calls it spells as macros
//   SluiceTLS   TLS on OpenSSL behind the HTTP engine's transport seam: contexts, connections
//   SluiceIdentity  OIDC sender identity: JWTs verified offline against a JWKS file (on OpenSSL)
//   SluiceRabbitMQ  the thin librabbitmq layer: one connection per owning thread
//   SluiceYAML    libyaml's events composed into a tree of lines and styles (the thin libyaml layer)
//   SluiceConfig  Knative manifests into a checked model, problems as file:line
//   SluiceFilter  trigger filters compiled once, the trigger index, CESQL
//   SluiceStorage  where a broker's events wait for their triggers (memory; disk)
//   SluiceDelivery  per-trigger dispatchers: retries, backoff, dead letters, replies
//   SluiceObservability  metric names, the Prometheus exporter (swift-metrics handles), JSON logs
//   SluiceBroker  the data plane: ingress, brokers built from manifests, reloads
//   SluiceKafkaBridge  KafkaSource and KafkaSink: Kafka topics into brokers, events out to Kafka
//   SluiceRabbitMQBridge  RabbitmqSource: queues into brokers, acked only after delivery
//   sluice      the executable that wires them (CLI, signals, health endpoints)
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

// Release builds skip the run-time exclusivity checks on class properties: the hot path
// touches connection state a dozen times per request and each check cost ~80 instructions
// (a quarter of a request's cost under callgrind). The compile-time checks still apply, and
// debug builds and tests keep the run-time ones.
let fast: [SwiftSetting] = strict + [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

// One self-contained binary: no Swift runtime needed on the host or in the image, and about
// 3 MB less resident memory than loading the runtime's shared libraries. Sanitizer builds
// set SLUICE_DYNAMIC_STDLIB=1: ThreadSanitizer's allocator aborts when the statically linked
// Foundation frees start-up memory it did not hand out.
let executableLinking: [LinkerSetting] = Context.environment["SLUICE_DYNAMIC_STDLIB"] != nil ? [] : [
    .unsafeFlags(["-static-stdlib"]),
    .linkedLibrary("_FoundationCShims"), .linkedLibrary("_FoundationCollections"),
    .linkedLibrary("CoreFoundation"), .linkedLibrary("_FoundationICU"),
]

let package = Package(
    name: "sluice",
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .library(name: "SluiceIO", targets: ["SluiceIO"]),
        .library(name: "SluiceHTTP", targets: ["SluiceHTTP"]),
        .library(name: "SluiceCloudEvents", targets: ["SluiceCloudEvents"]),
        .library(name: "SluiceCloudEventsHTTP", targets: ["SluiceCloudEventsHTTP"]),
        .library(name: "SluiceCloudEventsKafka", targets: ["SluiceCloudEventsKafka"]),
        .library(name: "SluiceCloudEventsAMQP", targets: ["SluiceCloudEventsAMQP"]),
        .library(name: "SluiceFilter", targets: ["SluiceFilter"]),
        .library(name: "SluiceStorage", targets: ["SluiceStorage"]),
        .library(name: "SluiceConfig", targets: ["SluiceConfig"]),
        .library(name: "SluiceIdentity", targets: ["SluiceIdentity"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // JWT and JWKS verification (RS256, ES256) for OIDC sender identity; it needs only
        // swift-crypto, swift-certificates, swift-log and base64 (no NIO).
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
    ],
    targets: [
        .target(name: "CSluice"),
        .target(
            name: "SluiceIO",
            dependencies: ["CSluice", .product(name: "Logging", package: "swift-log")],
            swiftSettings: fast
        ),
        .target(
            name: "SluiceHTTP",
            dependencies: [
                "SluiceIO",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: fast
        ),
        .target(name: "SluiceCloudEvents", swiftSettings: fast),
        .target(
            name: "SluiceCloudEventsHTTP",
            dependencies: ["SluiceCloudEvents", "SluiceIO", "SluiceHTTP"],
            swiftSettings: fast
        ),
        .target(name: "SluiceCloudEventsKafka", dependencies: ["SluiceCloudEvents"], swiftSettings: fast),
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .target(
            name: "SluiceKafka",
            dependencies: ["CRdKafka", "SluiceIO", .product(name: "Logging", package: "swift-log")],
            swiftSettings: fast
        ),
        .target(name: "SluiceCloudEventsAMQP", dependencies: ["SluiceCloudEvents"], swiftSettings: fast),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .target(name: "SluiceYAML", dependencies: ["CYAML"], swiftSettings: strict),
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "SluiceTLS", dependencies: ["COpenSSL", "SluiceIO"], swiftSettings: fast),
        .target(
            name: "SluiceIdentity",
            dependencies: ["SluiceIO", "SluiceTLS", "SluiceCloudEvents", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(name: "SluiceRabbitMQ", dependencies: ["CRabbitMQ"], swiftSettings: fast),
        .target(
            name: "SluiceConfig",
            dependencies: ["SluiceYAML", "SluiceCloudEvents"],
            swiftSettings: strict
        ),
        .target(
            name: "SluiceFilter",
            dependencies: ["SluiceCloudEvents", "SluiceConfig"],
            swiftSettings: fast
        ),
        .target(
            name: "SluiceStorage",
            dependencies: [
                "SluiceIO",
                "SluiceCloudEvents",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: fast
        ),
        .target(
            name: "SluiceObservability",
            dependencies: [
                "SluiceIO",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "SluiceDelivery",
            dependencies: [
                "SluiceIO", "SluiceHTTP", "SluiceCloudEvents", "SluiceCloudEventsHTTP", "SluiceStorage", "SluiceConfig",
                "SluiceObservability", .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fast
        ),
        .target(
            name: "SluiceBroker",
            dependencies: [
                "SluiceIO", "SluiceHTTP", "SluiceCloudEvents", "SluiceCloudEventsHTTP", "SluiceConfig", "SluiceFilter",
                "SluiceStorage", "SluiceDelivery", "SluiceObservability",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fast
        ),
        .target(
            name: "SluiceKafkaBridge",
            dependencies: [
                "SluiceIO", "SluiceHTTP", "SluiceCloudEvents", "SluiceCloudEventsHTTP", "SluiceCloudEventsKafka", "SluiceKafka",
                "SluiceConfig", "SluiceDelivery", "SluiceBroker", "SluiceObservability", "SluiceStorage",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fast
        ),
        // Sources that need no bridge library: PingSource.
        .target(
            name: "SluiceSources",
            dependencies: [
                "SluiceIO", "SluiceHTTP", "SluiceCloudEvents", "SluiceConfig", "SluiceDelivery", "SluiceBroker", "SluiceStorage",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "SluiceRabbitMQBridge",
            dependencies: [
                "SluiceIO", "SluiceHTTP", "SluiceCloudEvents", "SluiceCloudEventsAMQP", "SluiceRabbitMQ", "SluiceConfig", "SluiceDelivery",
                "SluiceBroker", "SluiceObservability", "SluiceStorage",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fast
        ),
        .executableTarget(
            name: "sluice",
            dependencies: [
                "SluiceIO", "SluiceHTTP", "SluiceConfig", "SluiceStorage", "SluiceBroker", "SluiceObservability", "SluiceKafka",
                "SluiceKafkaBridge", "SluiceRabbitMQBridge", "SluiceSources", "SluiceTLS", "SluiceIdentity", "SluiceDelivery",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            linkerSettings: executableLinking
        ),
        .testTarget(name: "SluiceIOTests", dependencies: ["SluiceIO"], swiftSettings: strict),
        .testTarget(name: "SluiceHTTPTests", dependencies: ["SluiceHTTP", "SluiceIO"], swiftSettings: strict),
        .testTarget(
            name: "SluiceFilterTests",
            dependencies: ["SluiceFilter", "SluiceCloudEvents", "SluiceConfig", .product(name: "Yams", package: "Yams")],
            exclude: ["CESQLTCK"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceBrokerTests",
            dependencies: [
                "SluiceTestSupport", "SluiceBroker", "SluiceHTTP", "SluiceIO", "SluiceCloudEvents", "SluiceConfig", "SluiceFilter",
                "SluiceStorage", "SluiceDelivery", .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceDeliveryTests",
            dependencies: [
                "SluiceDelivery", "SluiceCloudEvents", "SluiceConfig", "SluiceHTTP", "SluiceIO", "SluiceStorage", "SluiceObservability",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "SluiceStorageTests", dependencies: ["SluiceStorage", "SluiceCloudEvents", "SluiceIO"], swiftSettings: strict),
        .testTarget(
            name: "SluiceObservabilityTests",
            dependencies: ["SluiceObservability", .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(name: "SluiceConfigTests", dependencies: ["SluiceConfig"], swiftSettings: strict),
        .testTarget(name: "SluiceYAMLTests", dependencies: ["SluiceYAML"], swiftSettings: strict),
        .testTarget(name: "SluiceCloudEventsTests", dependencies: ["SluiceCloudEvents"], swiftSettings: strict),
        .testTarget(name: "SluiceCloudEventsKafkaTests", dependencies: ["SluiceCloudEventsKafka", "SluiceCloudEvents"], swiftSettings: strict),
        // A librdkafka mock cluster in its own process (real Kafka protocol on 127.0.0.1) for the
        // Kafka tests and benchmarks; `swift build --build-tests` builds it beside `sluice`. Its
        // Python TLS front lets tests reach the cluster over TLS.
        .executableTarget(name: "sluice-kafka-mock", dependencies: ["CRdKafka"], path: "Tests/KafkaMockCluster",
                         exclude: ["kafka_tls_front.py"]),
        // A plain AMQP client (publish, declare, a consumer that only acks) for the RabbitMQ
        // tests and benchmarks, on librabbitmq directly rather than on the code under test.
        .executableTarget(name: "sluice-amqp-peer", dependencies: ["CRabbitMQ"], path: "Tests/AMQPPeer"),
        .testTarget(name: "SluiceCloudEventsHTTPTests", dependencies: ["SluiceCloudEventsHTTP", "SluiceCloudEvents", "SluiceHTTP"],
                    swiftSettings: strict),
        // What the end-to-end tests share: the `sluice` process harness, a recording subscriber.
        .target(name: "SluiceTestSupport", dependencies: ["SluiceHTTP", "SluiceIO", .product(name: "JWTKit", package: "jwt-kit")], path: "Tests/SluiceTestSupport",
                swiftSettings: strict),
        // Runs the built `sluice` binary (serve, probes, signals, exit codes).
        // (no dependency on the executable target: linking it into a test bundle would drag its
        // static-stdlib link flags along; `swift build --build-tests` builds it beside the tests)
        // (Yams reads the Kubernetes manifests of deploy/ to check them.)
        .testTarget(name: "SluiceCLITests", dependencies: ["SluiceTestSupport", .product(name: "Yams", package: "Yams")],
                    swiftSettings: strict),
        .testTarget(name: "SluiceIdentityTests",
                    dependencies: ["SluiceIdentity", "SluiceTestSupport", .product(name: "JWTKit", package: "jwt-kit")], swiftSettings: strict),
        .testTarget(name: "SluiceKafkaBridgeTests", dependencies: ["SluiceKafkaBridge"], swiftSettings: strict),
        .testTarget(name: "SluiceCloudEventsAMQPTests", dependencies: ["SluiceCloudEventsAMQP", "SluiceCloudEvents"], swiftSettings: strict),
        .testTarget(name: "SluiceRabbitMQBridgeTests", dependencies: ["SluiceRabbitMQBridge"], swiftSettings: strict),
        .testTarget(name: "SluiceSourcesTests", dependencies: ["SluiceSources", "SluiceBroker", "SluiceConfig", "SluiceIO", "SluiceHTTP"],
                    swiftSettings: strict),
        // KafkaSource and KafkaSink end to end: `sluice` and the mock cluster as processes, kcat.
        .testTarget(name: "SluiceKafkaTests", dependencies: ["SluiceTestSupport"], swiftSettings: strict),
        // RabbitmqSource end to end: `sluice` and a real rabbitmq-server as processes.
        .testTarget(name: "SluiceRabbitMQTests", dependencies: ["SluiceTestSupport"], swiftSettings: strict),
    ]
)
