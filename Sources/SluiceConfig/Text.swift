extension StringProtocol {
    /// Without leading and trailing spaces and tabs (and a trailing CR), as Java properties
    /// and Knative's comma-separated ConfigMap values are read.
    var trimmingSpaces: String {
        let isSpace = { (character: Character) in character == " " || character == "\t" || character == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
