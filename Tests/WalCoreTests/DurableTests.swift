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
        #expect(!FileManager.default.fileExists(atPath: Durable.tempPath(for: store.path(name))))
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

    @Test func staleTempFromACrashIsReused() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = WALStore(directory: dir)
        let name = try WALName.validate("000000010000000000000003")
        let tmp = Durable.tempPath(for: store.path(name))
        try Data("garbage left by kill -9".utf8).write(to: URL(fileURLWithPath: tmp))
        let fd = try source("good")
        defer { close(fd) }
        #expect(try store.store(name, from: fd, size: 4) == .stored)
        #expect(try String(contentsOfFile: store.path(name), encoding: .utf8) == "good")
        #expect(!FileManager.default.fileExists(atPath: tmp))
    }

    @Test func replaceWritesAtomically() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/state"
        try Durable.replace(Array("one".utf8), at: path)
        try Durable.replace(Array("two".utf8), at: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "two")
    }

    @Test func permissionErrorNamesOwnerModeAndUser() {
        let advice = FileError("create", "/proc/walmgr-test/x", errno: EACCES).description
        #expect(advice.contains("/proc"))
        #expect(advice.contains("mode 0"))
        #expect(advice.contains("walmgr runs as \(UserAccount.currentName)"))
    }
}
