// sluice-bench: drivers for the engine benchmarks.
//   sluice-bench server PORT [LOOPS]          answer 202 to POST /<ns>/<broker> until SIGTERM
//   sluice-bench client URL SECONDS [CONC]     POST through the pooled client; prints req/s
//   sluice-bench queue [ITEMS]                 lock-free queue vs Mutex+Deque, 2 producers 1 consumer
//   sluice-bench match [TRIGGERS]              trigger matching cost per event, and per filter dialect
//   sluice-bench cesql                         CESQL evaluation cost and allocations per evaluation
//   sluice-bench latency URL RATE SECONDS SINKPORT  post RATE events/s to URL, be their subscriber; p50/p99/max
//   sluice-bench syncfloor DIR RATE SECONDS  one 300-byte append + fdatasync RATE times a second; p50/p99/max
//   sluice-bench recovery DIR [EVENTS]         a backlog of EVENTS on disk: memory, reopening, reading it back, a checkpoint
import Glibc

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "server":
    guard arguments.count >= 2, let port = Int(arguments[1]) else { usage() }
    try runServer(port: port, loops: arguments.count > 2 ? Int(arguments[2]) ?? 1 : 1)
case "client":
    guard arguments.count >= 3, let seconds = Double(arguments[2]) else { usage() }
    try runClient(url: arguments[1], seconds: seconds, concurrency: arguments.count > 3 ? Int(arguments[3]) ?? 32 : 32)
case "queue":
    runQueueBenchmark(items: arguments.count > 1 ? Int(arguments[1]) ?? 5_000_000 : 5_000_000)
case "cesql":
    try runCESQLBenchmark()
case "recovery":
    guard arguments.count >= 2 else { usage() }
    try runRecoveryBenchmark(directory: arguments[1], events: arguments.count > 2 ? Int(arguments[2]) ?? 1_000_000 : 1_000_000)
case "latency":
    guard arguments.count >= 5, let rate = Int(arguments[2]), let seconds = Double(arguments[3]), let sinkPort = Int(arguments[4]) else { usage() }
    try runLatency(url: arguments[1], rate: rate, seconds: seconds, sinkPort: sinkPort)
case "syncfloor":
    guard arguments.count >= 4, let rate = Int(arguments[2]), let seconds = Double(arguments[3]) else { usage() }
    try runSyncFloor(directory: arguments[1], rate: rate, seconds: seconds)
case "match":
    try runMatchBenchmark(triggers: arguments.count > 1 ? Int(arguments[1]) ?? 1000 : 1000)
default:
    usage()
}

func usage() -> Never {
    print("usage: sluice-bench server PORT [LOOPS] | client URL SECONDS [CONCURRENCY] | queue [ITEMS] | match [TRIGGERS] | cesql | latency URL RATE SECONDS SINKPORT | syncfloor DIR RATE SECONDS | recovery DIR [EVENTS]")
    exit(2)
}
