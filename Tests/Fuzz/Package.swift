// swift-tools-version:5.4
// libFuzzer targets for Sluice's parsers. Tools version 5.4 on purpose: from 5.5 on, SwiftPM
// renames the executable's entry point to `main`, which would collide with libFuzzer's `main`. Build and run (see Tests/Fuzz/README.md):
//   swift build -c release --package-path Tests/Fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//   Tests/Fuzz/.build/release/http-fuzz -max_total_time=60 Tests/Fuzz/corpus/http
//   Tests/Fuzz/.build/release/cesql-fuzz -max_total_time=60 Tests/Fuzz/corpus/cesql
//   Tests/Fuzz/.build/release/message-fuzz -max_total_time=60 Tests/Fuzz/corpus/message
//   Tests/Fuzz/.build/release/log-fuzz -max_total_time=60 Tests/Fuzz/corpus/log
//   Tests/Fuzz/.build/release/token-fuzz -max_total_time=60 Tests/Fuzz/corpus/token
//   Tests/Fuzz/.build/release/manifest-fuzz -max_total_time=60 Tests/Fuzz/corpus/manifest
import PackageDescription

let package = Package(
    name: "sluice-fuzz",
    dependencies: [.package(name: "sluice", path: "../..")],
    targets: [
        .executableTarget(
            name: "http-fuzz",
            dependencies: [.product(name: "SluiceHTTP", package: "sluice")]
        ),
        .executableTarget(
            name: "cesql-fuzz",
            dependencies: [
                .product(name: "SluiceFilter", package: "sluice"),
                .product(name: "SluiceCloudEvents", package: "sluice"),
            ]
        ),
        .executableTarget(
            name: "message-fuzz",
            dependencies: [
                .product(name: "SluiceCloudEvents", package: "sluice"),
                .product(name: "SluiceCloudEventsKafka", package: "sluice"),
                .product(name: "SluiceCloudEventsAMQP", package: "sluice"),
            ]
        ),
        .executableTarget(
            name: "token-fuzz",
            dependencies: [.product(name: "SluiceIdentity", package: "sluice")]
        ),
        .executableTarget(
            name: "manifest-fuzz",
            dependencies: [.product(name: "SluiceConfig", package: "sluice")]
        ),
        .executableTarget(
            name: "log-fuzz",
            dependencies: [
                .product(name: "SluiceIO", package: "sluice"),
                .product(name: "SluiceStorage", package: "sluice"),
            ]
        ),
    ]
)
