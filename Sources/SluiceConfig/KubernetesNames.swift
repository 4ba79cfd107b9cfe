import Glibc

/// Names Knative's control plane derives for objects it creates, which manifests refer to
/// without spelling out: a sender's OIDC ServiceAccount above all.
public enum KubernetesNames {
    /// The longest name Kubernetes takes (a DNS-1123 label).
    static let longest = 63
    /// How much of a parent is kept before the 32 hex digits of its MD5 hash.
    static let head = longest - 32

    /// The OIDC subject of a sender Knative gives an identity to (a Source, Trigger or
    /// Subscription): its ServiceAccount `lower(ChildName(<name>, "-oidc-<group>-<kind>"))`
    /// (`pkg/auth/serviceaccount.go`), as `system:serviceaccount:<namespace>:<account>`.
    public static func oidcSubject(group: String, kind: String, name: String, namespace: String) -> String {
        "system:serviceaccount:\(namespace):\(childName(parent: name, suffix: "-oidc-\(group)-\(kind)").lowercased())"
    }

    /// knative.dev/pkg `kmeta.ChildName`: `parent + suffix`, or, when that is longer than
    /// Kubernetes allows, a truncated parent made unique by an MD5 hash.
    public static func childName(parent: String, suffix: String) -> String {
        let parentBytes = Array(parent.utf8)
        let suffixBytes = Array(suffix.utf8)
        guard parentBytes.count > longest - suffixBytes.count else { return parent + suffix }
        if head - suffixBytes.count <= 0 {
            // The suffix leaves no room for a parent and a hash: hash both, keep what fits.
            var name = Array(parentBytes.prefix(head)) + Array(MD5.hex(parentBytes + suffixBytes).utf8)
            if name.count < longest { name += suffixBytes.prefix(longest - name.count) }
            while let last = name.last, !(last.isASCIIAlphanumeric) { name.removeLast() }
            return String(decoding: name, as: UTF8.self)
        }
        let kept = String(decoding: parentBytes.prefix(head - suffixBytes.count), as: UTF8.self)
        return kept + MD5.hex(parentBytes) + suffix
    }
}

private extension UInt8 {
    var isASCIIAlphanumeric: Bool { (0x30...0x39).contains(self) || (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) }
}

/// MD5 (RFC 1321), for the names above only: Kubernetes names hash with it, and nothing here
/// relies on it for security.
enum MD5 {
    private static let shifts: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                           5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                                           4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                           6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
    /// floor(abs(sin(i + 1)) * 2^32).
    private static let constants: [UInt32] = (0..<64).map { UInt32(truncatingIfNeeded: Int64((abs(sin(Double($0 + 1))) * 4_294_967_296).rounded(.down))) }

    static func hex(_ message: [UInt8]) -> String {
        digest(message).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
        }.joined()
    }

    static func digest(_ message: [UInt8]) -> [UInt8] {
        var bytes = message
        let bitLength = UInt64(message.count) &* 8
        bytes.append(0x80)
        while bytes.count % 64 != 56 { bytes.append(0) }
        for index in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(index)))) }
        var state: (UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476)
        for chunk in stride(from: 0, to: bytes.count, by: 64) {
            let words = (0..<16).map { index in
                (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[chunk + index * 4 + $1]) << (8 * UInt32($1)) }
            }
            var (a, b, c, d) = state
            for round in 0..<64 {
                let (mixed, word): (UInt32, Int) = switch round / 16 {
                case 0: ((b & c) | (~b & d), round)
                case 1: ((d & b) | (~d & c), (5 * round + 1) % 16)
                case 2: (b ^ c ^ d, (3 * round + 5) % 16)
                default: (c ^ (b | ~d), (7 * round) % 16)
                }
                let sum = a &+ mixed &+ constants[round] &+ words[word]
                (a, d, c) = (d, c, b)
                b = b &+ (sum << shifts[round] | sum >> (32 - shifts[round]))
            }
            state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d)
        }
        return [state.0, state.1, state.2, state.3].flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * UInt32($0))) } }
    }
}
