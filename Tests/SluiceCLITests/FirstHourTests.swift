import Foundation
import SluiceTestSupport
import Testing

/// `sluice send` and `sluice display` with a broker between them, as the README's first hour
/// uses them.
@Suite("send and display", .serialized)
struct FirstHourTests {
    /// Broker demo/default whose trigger `all` goes to `display` (retrying twice, 0.1 s apart)
    /// and whose dead letters go to `deadLetters`.
    private func serve(display: SluiceProcess, deadLetters: SluiceProcess? = nil) throws -> SluiceProcess {
        let delivery = deadLetters.map { """
              delivery:
                retry: 2
                backoffDelay: PT0.1S
                deadLetterSink: {uri: "http://127.0.0.1:\($0.ingressPort)/dead-letters"}
            """ } ?? ""
        let config = try manifestDirectory(["a.yaml": TestManifests.brokerAndTrigger(subscriber: "http://127.0.0.1:\(display.ingressPort)/all",
                                                                                   delivery: delivery)])
        return try SluiceProcess.serve(config: config, memory: true)
    }

    @Test("send → broker → display shows the event's attributes, extensions and indented JSON data")
    func sendThroughBrokerToDisplay() throws {
        let display = try SluiceProcess.display()
        let sluice = try serve(display: display)
        let send = try SluiceProcess(["send", "--broker", "demo/default", "--port", String(sluice.ingressPort), "--type", "com.example.order.created",
                                      "--source", "/orders", "--id", "order-1", "-e", "team=blue", "--data", #"{"id":1,"items":["a"]}"#])
        #expect(send.waitForExit() == 0, "\(send.standardError)")
        #expect(send.standardOutputRemainder().contains("202 Accepted"))
        #expect(eventually { display.standardOutput.contains("id: order-1") }, "\(display.standardOutput)")
        let shown = display.standardOutput
        for line in ["☁️  cloudevents.Event", "POST /all", "  type: com.example.order.created", "  source: /orders", "Extensions,", "  team: blue",
                     "  datacontenttype: application/json", "Data,", "  {\n    \"id\": 1,\n    \"items\": [\n      \"a\"\n    ]\n  }"] {
            #expect(shown.contains(line), "display lacks \(line): \(shown)")
        }
        #expect(shown.contains("knativearrivaltime"), "the broker's extension is shown too")
    }

    @Test("send to a broker that does not exist exits 1 with the 404 and its reason")
    func sendToUnknownBroker() throws {
        let display = try SluiceProcess.display()
        let sluice = try serve(display: display)
        let send = try SluiceProcess(["send", "--broker", "demo/nope", "--port", String(sluice.ingressPort)])
        #expect(send.waitForExit() == 1)
        let output = send.standardOutputRemainder()
        #expect(output.contains("404 Not Found") && output.contains("demo/nope"), "\(output)")
    }

    @Test("display --fail 100% answers 500 to every attempt, and the event reaches the dead-letter sink")
    func failingDisplayDrivesDeadLetters() throws {
        let failing = try SluiceProcess.display(["--fail", "100%"])
        let deadLetters = try SluiceProcess.display()
        let sluice = try serve(display: failing, deadLetters: deadLetters)
        let send = try SluiceProcess(["send", "--url", "http://127.0.0.1:\(sluice.ingressPort)/demo/default", "--id", "doomed", "--data", "{}"])
        #expect(send.waitForExit() == 0)
        #expect(eventually(seconds: 10) { deadLetters.standardOutput.contains("id: doomed") }, "\(deadLetters.standardOutput)")
        #expect(failing.standardOutput.components(separatedBy: "→ answered 500 (--fail 100%)").count - 1 == 3, "the first attempt and two retries")
        let letter = deadLetters.standardOutput
        #expect(letter.contains("POST /dead-letters") && letter.contains("knativeerrorcode: 500"), "\(letter)")
    }

    @Test("display --fail 50% fails every other request; --reply answers with an event")
    func failShareAndReply() throws {
        let halfway = try SluiceProcess.display(["--fail", "50%"])
        let send = try SluiceProcess(["send", "--url", "http://127.0.0.1:\(halfway.ingressPort)/x", "--count", "4"])
        #expect(send.waitForExit() == 1)
        #expect(send.standardOutputRemainder().contains("4 sent, 2 accepted"))

        let replying = try SluiceProcess.display(["--reply", "com.example.seen"])
        let response = try EventSender(port: replying.ingressPort).send("/x", id: "asked", type: "com.example.asked", data: "{}")
        #expect(response.status == 200 && response.header("ce-type") == "com.example.seen" && response.body == "{}")
    }

    @Test("send refuses contradictory flags before sending anything")
    func sendValidation() throws {
        for arguments in [["send"], ["send", "--broker", "demo"], ["send", "--url", "http://x", "--data", "a", "--stdin"],
                          ["send", "--url", "http://x", "-e", "novalue"]] {
            let send = try SluiceProcess(arguments)
            #expect(send.waitForExit() == 64, "\(arguments)")
        }
    }
}
