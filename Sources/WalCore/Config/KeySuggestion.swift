/// "Did you mean …?" for an unknown config key: the nearest known key by edit distance.
enum KeySuggestion {
    /// The known key closest to `key`, when it is close enough to be a typo: at most 2 edits,
    /// and fewer edits than half the key's length (so `foo` does not suggest `pidfile`).
    /// Ties go to the alphabetically first key, so the answer does not depend on set order.
    static func nearest(to key: String, in known: some Sequence<String>) -> String? {
        let limit = min(2, (key.count - 1) / 2)
        var best: (distance: Int, key: String)?
        for candidate in known {
            let distance = levenshtein(key, candidate)
            guard distance <= limit else { continue }
            if let current = best, (current.distance, current.key) <= (distance, candidate) {
                continue
            }
            best = (distance, candidate)
        }
        return best?.key
    }

    /// The number of single-character insertions, deletions and substitutions that turn `a`
    /// into `b`.
    static func levenshtein(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            previous = current
        }
        return previous[b.count]
    }
}
