import Foundation
import Testing

@testable import WalCore

@Suite struct DurableTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "walmgr-durable-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func source(_ text: String) throws -> Int32 {
        let path = "\(dir)/src-\(UUID().uuidString)"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return open(path, O_RDONLY)
    }

    @Test func storesThenAcceptsIdenticalThenRefusesDifferent() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = WALStore(directory: dir)
        let name = try WALName.validate("000000010000000000000001")
        let a = try source("segment-a")
        defer { close(a) }
        #expect(try store.store(name, from: a, size: 9) == .stored)
        let again = try source("segment-a")
        defer { close(again) }
        #expect(try store.store(name, from: again, size: 9) == .alreadyPresent)
        let b = try source("segment-b")
        defer { close(b) }
        #expect(throws: DurableConflict.self) { try store.store(name, from: b, size: 9) }
        #expect(try String(contentsOfFile: store.path(name), encoding: .utf8) == "segment-a")
        #expect(try temps().isEmpty)
    }

    func temps() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter {
            $0.hasSuffix(".walmgr-tmp")
        }
    }

    @Test func shortInputLeavesNoFinalFile() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = WALStore(directory: dir)
        let name = try WALName.validate("000000010000000000000002")
        let fd = try source("short")
        defer { close(fd) }
        #expect(throws: ArchiveError.self) { try store.store(name, from: fd, size: 100) }
        #expect(!FileManager.default.fileExists(atPath: store.path(name)))
    }

    /// The sweep runs in purge (xpurgewals, backup), not in the store: a store leaves every
    /// temp, the sweep removes dead writers' and old versions' temps of any name.
    @Test func staleTempsFromACrashAreRemovedByTheSweepAndALiveWritersKept() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = WALStore(directory: dir)
        let name = try WALName.validate("000000010000000000000003")
        let prefix = "\(dir)/.\(name.name)."
        let dead = "\(prefix)\(Int32.max - 1).1a2b.walmgr-tmp"  // no such pid
        let legacy = "\(prefix)walmgr-tmp"  // the fixed name of earlier versions
        let live = "\(prefix)\(getppid()).3c4d.walmgr-tmp"
        let otherDead = "\(dir)/.000000010000000000000004.zst.\(Int32.max - 1).9f.walmgr-tmp"
        let legacyHistory = "\(dir)/.00000002.history.walmgr-tmp"
        let all = [dead, legacy, live, otherDead, legacyHistory]
        for stale in all {
            try Data("garbage left by kill -9".utf8).write(to: URL(fileURLWithPath: stale))
        }
        let fd = try source("good")
        defer { close(fd) }
        #expect(try store.store(name, from: fd, size: 4) == .stored)
        #expect(try String(contentsOfFile: store.path(name), encoding: .utf8) == "good")
        #expect(try Set(temps()) == Set(all.map { ($0 as NSString).lastPathComponent }))
        #expect(Durable.removeStaleTemps(in: dir) == 4)
        #expect(try temps() == [(live as NSString).lastPathComponent])
    }

    @Test func replaceRemovesItsOwnStaleTemps() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/state"
        let dead = "\(dir)/.state.\(Int32.max - 1).1a2b.walmgr-tmp"
        let live = "\(dir)/.state.\(getppid()).3c4d.walmgr-tmp"
        for temp in [dead, live] {
            try Data("left".utf8).write(to: URL(fileURLWithPath: temp))
        }
        try Durable.replace(Array("one".utf8), at: path)
        #expect(try temps() == [(live as NSString).lastPathComponent])
    }

    @Test func replaceWritesAtomically() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/state"
        try Durable.replace(Array("one".utf8), at: path)
        try Durable.replace(Array("two".utf8), at: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "two")
    }

    @Test(arguments: [true, false])
    func copyKeepsEveryByteAcrossWritebackSteps(fromPipe: Bool) throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 3.5 steps, so the copy starts write-out three times and leaves a tail for fsync.
        let bytes = (0..<(7 * Durable.Writeback.step / 2)).map {
            UInt8(truncatingIfNeeded: $0 &* 31)
        }
        let input: Int32
        if fromPipe {  // not sendfile-able: the read/write fallback
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            let writeEnd = ends[1]
            let writer = Thread {
                try? Durable.writeAll(writeEnd, bytes, path: "pipe")
                close(writeEnd)
            }
            writer.start()
            input = ends[0]
        } else {
            let source = "\(dir)/source"
            #expect(FileManager.default.createFile(atPath: source, contents: Data(bytes)))
            input = open(source, O_RDONLY | O_CLOEXEC)
        }
        defer { close(input) }
        let target = "\(dir)/target"
        let output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        defer { close(output) }
        let copied = try Durable.copy(from: input, to: output, sourcePath: "in", path: target)
        #expect(copied == bytes.count)
        #expect(fsync(output) == 0)
        #expect(FileManager.default.contents(atPath: target) == Data(bytes))
    }

    @Test func permissionErrorNamesOwnerModeAndUser() {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let advice = FileError("create", "/proc/walmgr-test/x", errno: EACCES).description
        #expect(advice.contains("/proc"))
        #expect(advice.contains("mode 0"))
        #expect(advice.contains("walmgr runs as \(UserAccount.currentName)"))
    }
}
