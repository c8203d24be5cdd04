/// `<base>.N` as walmgr names what it keeps (rotated backups `data.master.0`, old data dirs
/// `main.3`): N in digits, no sign, no leading zero. A `.+1` or `.01` that someone else made
/// reads as a number to `Int` too, and rotation, pruning or cleanup would then move or delete it.
enum NumberedName {
    /// N when `name` is `<base>.N` as walmgr writes it, else nil.
    static func number(_ name: String, base: String) -> Int? {
        guard name.hasPrefix(base + ".") else { return nil }
        let suffix = name.dropFirst(base.count + 1)
        guard let n = Int(suffix), n >= 0, String(n) == suffix else { return nil }
        return n
    }
}
