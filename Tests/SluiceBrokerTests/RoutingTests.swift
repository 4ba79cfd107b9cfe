import Foundation
import SluiceTestSupport
import Testing

@Suite("trigger routing, end to end", .serialized)
struct RoutingTests {
    /// Which trigger paths received which event ids.
    private func deliveries(_ subscriber: Subscriber) -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        for request in subscriber.requests { result[request.path, default: []].insert(request.eventID ?? "?") }
        return result
    }

    @Test func filtersSelectTheRightTriggers() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let s = subscriber
        var yaml = Manifest.broker("team-a", "default") + Manifest.broker("team-a", "other") + Manifest.broker("team-b", "default")
        yaml += Manifest.trigger("team-a", "everything", subscriber: s.url("/everything"))
        yaml += Manifest.trigger("team-a", "type-a", subscriber: s.url("/type-a"), filter: ["type": "a"])
        yaml += Manifest.trigger("team-a", "type-a-twin", subscriber: s.url("/type-a-twin"), filter: ["type": "a"])
        yaml += Manifest.trigger("team-a", "type-b", subscriber: s.url("/type-b"), filter: ["type": "b"])
        yaml += Manifest.trigger("team-a", "a-from-x", subscriber: s.url("/a-from-x"), filter: ["type": "a", "source": "/x"])
        yaml += Manifest.trigger("team-a", "has-region", subscriber: s.url("/has-region"), filter: ["region": ""])
        yaml += Manifest.trigger("team-a", "has-subject", subscriber: s.url("/has-subject"), filter: ["subject": ""])
        yaml += Manifest.trigger("team-a", "prefix", subscriber: s.url("/prefix"), filters: "- prefix:\n    type: com.\n")
        yaml += Manifest.trigger("team-a", "suffix", subscriber: s.url("/suffix"), filters: "- suffix:\n    source: /y\n")
        yaml += Manifest.trigger("team-a", "nested", subscriber: s.url("/nested"), filters: """
            - any:
              - exact:
                  type: b
              - all:
                - prefix:
                    source: /x
                - not:
                    exact:
                      region: eu
            """)
        yaml += Manifest.trigger("team-a", "filters-override", subscriber: s.url("/filters-override"),
                                 filter: ["type": "a"], filters: "- exact:\n    type: b\n")
        yaml += Manifest.trigger("team-a", "empty-filters", subscriber: s.url("/empty-filters"), filter: ["type": "b"], filters: "[]\n")
        yaml += Manifest.trigger("team-a", "other-broker", broker: "other", subscriber: s.url("/other-broker"))
        yaml += Manifest.trigger("team-b", "other-namespace", subscriber: s.url("/other-namespace"))
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["all.yaml": yaml]))
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        let events: [(id: String, type: String, source: String, extensions: [String: String], subject: String?)] = [
            ("e1", "a", "/x", [:], nil),
            ("e2", "a", "/y", ["region": "eu"], nil),
            ("e3", "b", "/x", ["region": ""], "s"),
            ("e4", "com.example", "/x/y", ["region": "us"], nil),
        ]
        for event in events {
            var extensions = event.extensions
            if let subject = event.subject { extensions["subject"] = subject }
            #expect(try sender.send("/team-a/default", id: event.id, type: event.type, source: event.source, extensions: extensions).status == 202)
        }
        let expected: [String: Set<String>] = [
            "/everything": ["e1", "e2", "e3", "e4"],
            "/type-a": ["e1", "e2"],
            "/type-a-twin": ["e1", "e2"],
            "/type-b": ["e3"],
            "/a-from-x": ["e1"],
            "/has-region": ["e2", "e4"],  // "" means present with a value; e3's region is empty
            "/has-subject": ["e3"],
            "/prefix": ["e4"],
            "/suffix": ["e2", "e4"],
            "/nested": ["e1", "e3", "e4"],
            "/filters-override": ["e3"],
            "/empty-filters": ["e3"],
        ]
        let total = expected.values.reduce(0) { $0 + $1.count }
        #expect(eventually { subscriber.requests.count >= total })
        usleep(200_000)  // nothing more should arrive
        #expect(deliveries(subscriber) == expected)
        #expect(subscriber.requests.count == total, "each matching trigger gets each event exactly once")
    }

    @Test func manyTriggersOverTypeSourceAndExtension() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let types = ["t1", "t2", "t3"]
        let sources = ["/s1", "/s2", "/s3"]
        let tiers = ["gold", "silver"]
        var yaml = Manifest.broker("grid", "default")
        for type in types {
            for source in sources {
                for tier in tiers {
                    let name = "\(type)-\(source.dropFirst())-\(tier)"
                    yaml += Manifest.trigger("grid", name, subscriber: subscriber.url("/\(name)"),
                                             filter: ["type": type, "source": source, "tier": tier])
                }
            }
        }
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["grid.yaml": yaml]))
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        var expected: [String: Set<String>] = [:]
        for type in types {
            for source in sources {
                for tier in tiers {
                    let id = "\(type)\(source)\(tier)"
                    #expect(try sender.send("/grid/default", id: id, type: type, source: source, extensions: ["tier": tier]).status == 202)
                    expected["/\(type)-\(source.dropFirst())-\(tier)"] = [id]
                }
                // Without the extension, no trigger of this grid matches.
                #expect(try sender.send("/grid/default", id: "none-\(type)\(source)", type: type, source: source).status == 202)
            }
        }
        #expect(eventually { subscriber.requests.count >= 18 })
        usleep(200_000)
        #expect(deliveries(subscriber) == expected)
    }
}
