/// A LIKE pattern compiled once (spec §3.4.3): `%` matches any run of characters, `_` exactly
/// one, `\%` and `\_` match the wildcard characters themselves, every other character (a
/// backslash before anything else included) matches itself, case-sensitively. The match is
/// anchored at both ends; characters are Unicode scalars.
struct CESQLLikePattern: Sendable {
    enum Element: Sendable, Equatable {
        /// Bytes that must appear as they are.
        case literal([UInt8])
        case anyOne
        case anyRun
    }

    let elements: [Element]

    init(_ pattern: [UInt8]) {
        var elements: [Element] = []
        var literal: [UInt8] = []
        func flush() {
            if !literal.isEmpty {
                elements.append(.literal(literal))
                literal.removeAll()
            }
        }
        var index = 0
        while index < pattern.count {
            let byte = pattern[index]
            if byte == 0x5C, index + 1 < pattern.count, pattern[index + 1] == 0x25 || pattern[index + 1] == 0x5F {
                literal.append(pattern[index + 1])
                index += 2
                continue
            }
            switch byte {
            case 0x25:
                flush()
                if elements.last != .anyRun { elements.append(.anyRun) }
            case 0x5F:
                flush()
                elements.append(.anyOne)
            default:
                literal.append(byte)
            }
            index += 1
        }
        flush()
        self.elements = elements
    }

    /// Whether `text` matches the whole pattern. Backtracks only to the most recent `%`, the
    /// classic wildcard algorithm: linear in practice, quadratic at worst, never exponential.
    func matches(_ text: UnsafeRawBufferPointer) -> Bool {
        var element = 0
        var position = 0
        var starElement = -1
        var starPosition = 0
        while true {
            if element < elements.count {
                switch elements[element] {
                case .anyRun:
                    starElement = element
                    starPosition = position
                    element += 1
                    continue
                case .anyOne:
                    if position < text.count {
                        position += scalarLength(text, at: position)
                        element += 1
                        continue
                    }
                case .literal(let bytes):
                    if position + bytes.count <= text.count,
                       bytes.withUnsafeBytes({ SluiceFilterBytes.equal(UnsafeRawBufferPointer(rebasing: text[position..<(position + bytes.count)]), $0) }) {
                        position += bytes.count
                        element += 1
                        continue
                    }
                }
            } else if position == text.count {
                return true
            }
            // Mismatch: let the last `%` swallow one more character, or fail.
            guard starElement >= 0, starPosition < text.count else { return false }
            starPosition += scalarLength(text, at: starPosition)
            position = starPosition
            element = starElement + 1
        }
    }

    /// Bytes of the UTF-8 scalar starting at `index` (1 for a stray byte).
    @inline(__always)
    private func scalarLength(_ text: UnsafeRawBufferPointer, at index: Int) -> Int {
        let byte = text[index]
        let length: Int
        switch byte {
        case 0xF0...0xF7: length = 4
        case 0xE0...0xEF: length = 3
        case 0xC0...0xDF: length = 2
        default: length = 1
        }
        return min(length, text.count - index)
    }
}
