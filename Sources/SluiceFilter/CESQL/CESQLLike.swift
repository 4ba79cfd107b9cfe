import SluiceCloudEvents

/// A LIKE pattern compiled once (spec §3.4.3): `%` matches any run of characters, `_` exactly
/// one, `\%` and `\_` match the wildcard characters themselves, every other character (a
/// backslash before anything else included) matches itself, case-sensitively. The match is
/// anchored at both ends; characters are Unicode scalars.
///
/// The common shapes (`abc`, `abc%`, `%abc`, `%abc%`) are recognised at compile time and
/// answered with one comparison or search; anything else runs the general matcher.
struct CESQLLikePattern: Sendable {
    enum Element: Equatable {
        /// Bytes `pool[start..<start + count]` that must appear as they are.
        case literal(start: Int, count: Int)
        case anyOne
        case anyRun
    }

    enum Shape {
        case exact, prefix, suffix, contains, general
    }

    /// Every literal piece, one after the other.
    private let pool: CESQLBytes
    private let elements: [Element]
    private let shape: Shape

    init(_ pattern: [UInt8]) {
        var elements: [Element] = []
        var pool: [UInt8] = []
        var pieceStart = 0
        func flush() {
            if pool.count > pieceStart {
                elements.append(.literal(start: pieceStart, count: pool.count - pieceStart))
                pieceStart = pool.count
            }
        }
        var index = 0
        while index < pattern.count {
            let byte = pattern[index]
            if byte == 0x5C, index + 1 < pattern.count, pattern[index + 1] == 0x25 || pattern[index + 1] == 0x5F {
                pool.append(pattern[index + 1])
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
                pool.append(byte)
            }
            index += 1
        }
        flush()
        self.pool = CESQLBytes(pool)
        self.elements = elements
        shape = CESQLLikePattern.shape(of: elements)
    }

    private static func shape(of elements: [Element]) -> Shape {
        switch elements.count {
        case 0: return .exact
        case 1:
            if case .literal = elements[0] { return .exact }
            return elements[0] == .anyRun ? .prefix : .general  // "%" is a prefix of nothing
        case 2:
            if case .literal = elements[0], elements[1] == .anyRun { return .prefix }
            if elements[0] == .anyRun, case .literal = elements[1] { return .suffix }
            return .general
        case 3:
            if elements[0] == .anyRun, case .literal = elements[1], elements[2] == .anyRun { return .contains }
            return .general
        default:
            return .general
        }
    }

    /// Whether `text` matches the whole pattern.
    func matches(_ text: UnsafeRawBufferPointer) -> Bool {
        // The pool holds exactly the literal bytes, so for the simple shapes it is the needle.
        let needle = pool.buffer
        switch shape {
        case .exact:
            return bytesEqual(text, needle)
        case .prefix:
            return text.count >= needle.count && bytesEqual(UnsafeRawBufferPointer(rebasing: text[0..<needle.count]), needle)
        case .suffix:
            return text.count >= needle.count
                && bytesEqual(UnsafeRawBufferPointer(rebasing: text[(text.count - needle.count)...]), needle)
        case .contains:
            return contains(text, needle)
        case .general:
            return matchesGenerally(text)
        }
    }

    private func contains(_ text: UnsafeRawBufferPointer, _ needle: UnsafeRawBufferPointer) -> Bool {
        guard needle.count <= text.count else { return false }
        guard let first = needle.first else { return true }
        var position = 0
        while position + needle.count <= text.count {
            if text[position] == first,
               bytesEqual(UnsafeRawBufferPointer(rebasing: text[position..<(position + needle.count)]), needle) {
                return true
            }
            position += 1
        }
        return false
    }

    /// Backtracks only to the most recent `%`, the classic wildcard algorithm: linear in
    /// practice, quadratic at worst, never exponential.
    private func matchesGenerally(_ text: UnsafeRawBufferPointer) -> Bool {
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
                case .literal(let start, let count):
                    if position + count <= text.count,
                       bytesEqual(UnsafeRawBufferPointer(rebasing: text[position..<(position + count)]),
                                  UnsafeRawBufferPointer(rebasing: pool.buffer[start..<(start + count)])) {
                        position += count
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
