import Foundation

/// A timeline's ancestry, from its `TTTTTTTT.history` file: which timeline holds which WAL.
///
/// Each history line is `parentTLI<TAB>switchpoint<TAB>reason`; the file of timeline T lists
/// every ancestor of T, oldest first. Parsing is pure.
public struct TimelineHistory: Sendable, Equatable {
    /// One timeline on the path and the LSN where it was left (nil for the newest).
    public struct Step: Sendable, Equatable {
        /// The timeline.
        public let timeline: UInt32
        /// Where WAL of this timeline begins (the parent's switchpoint; 0 for the first).
        public let begin: LSN
        /// Where the next timeline branched off, nil for the target timeline itself.
        public let end: LSN?
        /// The history file's reason for the switch (`before 2026-… `, `at restore point …`).
        public let reason: String?
    }

    /// Oldest first; the last step is the target timeline.
    public let steps: [Step]

    /// The history of a timeline that has no ancestors (timeline 1, or one without a file).
    public init(timeline: UInt32) {
        steps = [Step(timeline: timeline, begin: LSN(0), end: nil, reason: nil)]
    }

    /// Parses the text of `timeline`'s history file; nil when a line is malformed.
    public init?(timeline: UInt32, text: String) {
        var steps: [Step] = []
        var begin = LSN(0)
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(
                separator: "\t", maxSplits: 2, omittingEmptySubsequences: true)
            guard fields.count >= 2,
                let parent = UInt32(fields[0].trimmingCharacters(in: .whitespaces)),
                let switchpoint = LSN(fields[1].trimmingCharacters(in: .whitespaces)),
                parent < timeline, steps.last.map({ $0.timeline < parent }) ?? true,
                switchpoint >= begin
            else { return nil }
            let reason = fields.count > 2 ? fields[2].trimmingCharacters(in: .whitespaces) : nil
            steps.append(Step(timeline: parent, begin: begin, end: switchpoint, reason: reason))
            begin = switchpoint
        }
        steps.append(Step(timeline: timeline, begin: begin, end: nil, reason: nil))
        self.steps = steps
    }

    /// The target timeline.
    public var timeline: UInt32 { steps.last!.timeline }

    /// The step of a timeline on this path, if it is one.
    public func step(_ timeline: UInt32) -> Step? { steps.first { $0.timeline == timeline } }

    /// The timelines that may hold segment `number`, newest first, as recovery tries them: a
    /// timeline holds the segments from the one containing its begin to the one containing its
    /// end (the switch segment exists on both sides of a promotion).
    public func timelines(forSegment number: UInt64, size: UInt64) -> [UInt32] {
        steps.reversed().filter { step in
            step.begin.value / size <= number
                && (step.end.map { number <= $0.value / size } ?? true)
        }.map(\.timeline)
    }

    /// `TTTTTTTT.history`.
    public static func fileName(_ timeline: UInt32) -> String {
        WALSegment.hex8(UInt64(timeline)) + ".history"
    }
}
