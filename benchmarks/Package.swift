// swift-tools-version:6.1
// Benchmark drivers for Sluice, kept out of the main package so its build stays lean.
// `benchmarks/run.sh` builds this in release mode and compares against nginx and wrk.
import PackageDescription

let package = Package(
    name: "sluice-benchmarks",
    dependencies: [
        .package(name: "sluice", path: ".."),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "sluice-bench",
            dependencies: [
                .product(name: "SluiceIO", package: "sluice"),
                .product(name: "SluiceHTTP", package: "sluice"),
                .product(name: "SluiceCloudEvents", package: "sluice"),
                .product(name: "SluiceFilter", package: "sluice"),
                .product(name: "SluiceStorage", package: "sluice"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
