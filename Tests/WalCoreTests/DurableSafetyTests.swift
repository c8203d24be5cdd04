import Foundation
import Testing

@testable import WalCore

/// Reliability cases 14 and 15: "already archived" is durable too, and no symlink is ever
/// followed in walmgr's own dirs (temp files, final names, partial files).
@Suite struct DurableSafetyTests {
    let dir: String
    let name = WALName("000000010000000000000007")!

    init() throws {
        dir = NSTemporaryDirectory() + "walmgr-durable-safety-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func write(_ text: String, _ path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    func source(_ text: String) throws -> Int32 {
        let path = "\(dir)/src-\(UUID().uuidString)"
        try write(text, path)
        return open(path, O_RDONLY | O_CLOEXEC)
    }

    func isSymlink(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK
    }

    func temps() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter {
            $0.hasSuffix(".walmgr-tmp")
        }
    }

    /// Every path fsynced through Durable while `body` runs (see `Durable.fsyncObserver`).
    func fsyncs(_ body: () throws -> Void) rethrows -> [String] {
        let seen = Recorder()
        try Durable.$fsyncObserver.withValue({ seen.add($0) }, operation: body)
        return seen.paths
    }

    // Case 14: a retry that finds its file already archived makes it durable before exit 0.
    @Test func alreadyPresentFsyncsTheFileAndItsDirectory() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = WALStore(directory: dir)
        let first = try source("segment")
        defer { close(first) }
        #expect(try store.store(name, from: first, size: 7) == .stored)
        let retry = try source("segment")
        defer { close(retry) }
        var result: Durable.StoreResult?
        let synced = try fsyncs { result = try store.store(name, from: retry, size: 7) }
        #expect(result == .alreadyPresent)
        #expect(synced.contains(store.path(name)), "fsynced: \(synced)")
        #expect(synced.contains(dir), "fsynced: \(synced)")
        #expect(try temps().isEmpty)
    }

    // Case 14, the copy under another suffix (stored compressed, archived again uncompressed).
    @Test func alreadyPresentUnderAnotherSuffixFsyncsItToo() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = WALStore(directory: dir)
        let first = try source("segment")
        defer { close(first) }
        #expect(try store.store(name, from: first, size: 7, method: .zstd) == .stored)
        let retry = try source("segment")
        defer { close(retry) }
        var result: Durable.StoreResult?
        let synced = try fsyncs { result = try store.store(name, from: retry, size: 7) }
        #expect(result == .alreadyPresent)
        #expect(synced.contains(store.path(name, .zstd)), "fsynced: \(synced)")
        #expect(synced.contains(dir), "fsynced: \(synced)")
        #expect(!FileManager.default.fileExists(atPath: store.path(name)))
    }

    // Case 15: today's fixed temp name as a symlink to someone's file.
    @Test func symlinkAtTheTempNameIsNotWrittenThrough() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = WALStore(directory: dir)
        let victim = "\(dir)/victim"
        try write("precious", victim)
        try FileManager.default.createSymbolicLink(
            atPath: "\(dir)/.\(name.name).walmgr-tmp", withDestinationPath: victim)
        let fd = try source("segment")
        defer { close(fd) }
        #expect(try store.store(name, from: fd, size: 7) == .stored)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious")
        #expect(!isSymlink(store.path(name)), "the archived name must be a file of its own")
        #expect(try String(contentsOfFile: store.path(name), encoding: .utf8) == "segment")
        // The sweep (xpurgewals) removes the planted link itself, not what it points to.
        Durable.removeStaleTemps(in: dir)
        #expect(try temps().isEmpty)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious")
    }

    // Case 15: a symlink under the final name is refused, even to identical content.
    @Test(arguments: [CompressMethod.none, .zstd])
    func symlinkAtTheFinalNameIsRefused(linkedAs: CompressMethod) throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let elsewhere = WALStore(directory: dir + "/elsewhere")
        try FileManager.default.createDirectory(
            atPath: elsewhere.directory, withIntermediateDirectories: true)
        let original = try source("segment")
        defer { close(original) }
        #expect(try elsewhere.store(name, from: original, size: 7, method: linkedAs) == .stored)
        let store = WALStore(directory: dir)
        let link = store.path(name, linkedAs)
        try FileManager.default.createSymbolicLink(
            atPath: link, withDestinationPath: elsewhere.path(name, linkedAs))
        let fd = try source("segment")
        defer { close(fd) }
        let error = #expect(throws: NotARegularFile.self) {
            try store.store(name, from: fd, size: 7)
        }
        #expect(
            error?.description.contains("\(link) is a symbolic link") == true,
            "\(String(describing: error))")
        #expect(isSymlink(link))
        #expect(!FileManager.default.fileExists(atPath: store.path(name)) || linkedAs == .none)
        #expect(try temps().isEmpty)
    }

    // Case 15: xpartialsync's partial file as a symlink is neither extended nor written.
    @Test func symlinkedPartialFileIsRefused() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = "\(dir)/victim"
        try write("precious", victim)
        let partial = "\(dir)/\(name.name)"
        try FileManager.default.createSymbolicLink(atPath: partial, withDestinationPath: victim)
        let error = #expect(throws: NotARegularFile.self) {
            try PartialStore.write(
                name, offset: 0, bytes: Array("records".utf8), segmentSize: 1 << 20,
                directory: dir)
        }
        #expect(error?.description.contains(partial) == true)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious")
    }

    // Case 15: state files (Durable.replace) do not write through a planted temp symlink either.
    @Test func replaceDoesNotWriteThroughATempSymlink() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = "\(dir)/victim"
        try write("precious", victim)
        try FileManager.default.createSymbolicLink(
            atPath: "\(dir)/.state.walmgr-tmp", withDestinationPath: victim)
        try Durable.replace(Array("new".utf8), at: "\(dir)/state")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious")
        #expect(try String(contentsOfFile: "\(dir)/state", encoding: .utf8) == "new")
        #expect(try temps().isEmpty)
    }

    // Case 13 with unique temp names: link() alone keeps same-name stores apart.
    @Test func concurrentStoresOfOneNameAllSucceedWithOneFile() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = WALStore(directory: dir)
        let results = Recorder()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            do {
                let fd = try source("segment")
                defer { close(fd) }
                results.add("\(try store.store(name, from: fd, size: 7))")
            } catch {
                results.add("failed: \(error)")
            }
        }
        #expect(results.paths.filter { $0 == "stored" }.count == 1, "\(results.paths)")
        #expect(results.paths.filter { $0 == "alreadyPresent" }.count == 7, "\(results.paths)")
        #expect(try String(contentsOfFile: store.path(name), encoding: .utf8) == "segment")
        #expect(try temps().isEmpty)
    }
}

/// Collects strings from several threads.
final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []

    func add(_ item: String) { lock.withLock { items.append(item) } }
    var paths: [String] { lock.withLock { items } }
}
