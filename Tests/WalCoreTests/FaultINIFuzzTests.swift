import Foundation
import Testing

@testable import WalCore

/// Seeded random mutations of examples/*.ini through the pure config loader: no crash, no hang,
/// and every rejection says where (file:line, or the file for section-level problems).
@Suite struct FaultINIFuzzTests {
    static let iterations = 10_000
    static let seed: UInt64 = 0x7761_6C6D_6772  // "walmgr"

    /// The example configs, read from the checkout next to this file.
    static func examples() throws -> [(String, String)] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return try ["wal-master.ini", "wal-slave.ini"].map { name in
            let path = root.appendingPathComponent("examples/\(name)").path
            return (name, try String(contentsOfFile: path, encoding: .utf8))
        }
    }

    @Test func tenThousandMutationsNeverCrashAndRejectionsNameALine() throws {
        let examples = try Self.examples()
        var random = SplitMix64(seed: Self.seed)
        var rejected = 0
        var slowest: Duration = .zero
        for iteration in 0..<Self.iterations {
            let (name, text) = examples[iteration % examples.count]
            let mutated = INIMutator.mutate(text, rounds: 1 + Int(random.next() % 4), &random)
            let fileName = "fuzz-\(iteration)-\(name)"
            let started = ContinuousClock.now
            do {
                _ = try ConfigLoader.load(
                    text: mutated, fileName: fileName, configFile: "/etc/walmgr/\(fileName)",
                    overrides: [], home: "/home/postgres", hostName: "fuzz")
            } catch {
                rejected += 1
                #expect(
                    Self.saysWhere(error, fileName: fileName),
                    "iteration \(iteration): \(error.description)\n--- input ---\n\(mutated)")
            }
            slowest = max(slowest, ContinuousClock.now - started)
        }
        print("INI fuzz: \(Self.iterations) mutations, \(rejected) rejected, slowest \(slowest)")
        #expect(rejected > Self.iterations / 20, "the mutations should hit the error paths")
        #expect(slowest < .seconds(10), "one parse took \(slowest): a hang in the making")
    }

    /// True when the message names the line, or the file for errors that have no line.
    static func saysWhere(_ error: ConfigError, fileName: String) -> Bool {
        let text = error.description
        switch error {
        case .missingSection, .missingKey, .fileNotFound, .fileUnreadable:
            return text.contains(fileName)
        case .badOverride:
            return text.contains("--set")
        default:
            guard let range = text.range(of: "\(fileName):") else { return false }
            return text[range.upperBound...].first?.isNumber == true
        }
    }
}

/// A small, seeded, reproducible PRNG (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Text mutations aimed at an INI parser: structure characters, interpolation, encodings.
enum INIMutator {
    static let tokens = [
        "[", "]", "=", ":", "%", "%(", ")s", "%%", "%(job_name)s", "%(nope)s", "%(walmgr_data)s",
        "\n", "\n ", "\t", "'", "\"", "\\", "#", ";", " ;", "[walmgr]", "[DEFAULT]", "[]",
        "\u{0}", "\u{FEFF}", "é", "\r\n", "yes", "maybe", "-1", "99999999999999999999",
        "password=s3cret", "ssh_options = '", "loop_delay = x", "keep_backups = -3",
        "compress_method = bzip2", "%(a)s\na = %(b)s\nb = %(a)s",
    ]

    static func mutate<R: RandomNumberGenerator>(_ text: String, rounds: Int, _ r: inout R)
        -> String
    {
        var chars = Array(text)
        for _ in 0..<rounds { mutateOnce(&chars, &r) }
        return String(chars)
    }

    static func mutateOnce<R: RandomNumberGenerator>(_ chars: inout [Character], _ r: inout R) {
        let at = chars.isEmpty ? 0 : Int.random(in: 0..<chars.count, using: &r)
        switch Int.random(in: 0..<7, using: &r) {
        case 0: if !chars.isEmpty { chars.remove(at: at) }
        case 1: chars.insert(contentsOf: tokens.randomElement(using: &r)!, at: at)
        case 2:
            let end = min(chars.count, at + Int.random(in: 1...200, using: &r))
            chars.removeSubrange(at..<end)
        case 3:
            let end = min(chars.count, at + Int.random(in: 1...80, using: &r))
            chars.insert(
                contentsOf: chars[at..<end], at: Int.random(in: 0...chars.count, using: &r))
        case 4: chars = Array(chars.prefix(at))
        case 5:
            let scalar = Unicode.Scalar(UInt8.random(in: 0...255, using: &r))
            chars.insert(Character(scalar), at: at)
        default:
            if !chars.isEmpty { chars[at] = ["=", "[", "%", "\n", " "].randomElement(using: &r)! }
        }
    }
}
