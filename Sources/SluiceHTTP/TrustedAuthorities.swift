import SluiceIO

/// The extra certificate authorities destinations name (a Knative destination's `CACerts`),
/// each set of PEM text registered once and known by a small number that origins carry: the
/// client's pools stay keyed by a cheap value, and the TLS layer builds one context per set.
public final class TrustedAuthorities: Sendable {
    public static let shared = TrustedAuthorities()

    private let sets = Locked<(byText: [String: Int], texts: [String])>(([:], [""]))

    /// The number of `pem`, the same for the same text; never 0.
    public func register(_ pem: String) -> Int {
        sets.withLock { sets in
            if let known = sets.byText[pem] { return known }
            sets.texts.append(pem)
            sets.byText[pem] = sets.texts.count - 1
            return sets.texts.count - 1
        }
    }

    /// The PEM text registered as `number`; nil for 0 or an unknown number.
    public func pem(_ number: Int) -> String? {
        sets.withLock { number > 0 && number < $0.texts.count ? $0.texts[number] : nil }
    }
}
