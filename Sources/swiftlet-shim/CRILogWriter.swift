import Glibc
import LinuxPrimitives

/// Turns a container's stdout/stderr byte streams into CRI log lines
/// (`<RFC3339Nano> <stream> <F|P> <text>\n`) appended to one file. Lines longer than
/// `maxLine` are split into partial (`P`) records, like containerd's 16 KiB default.
final class CRILogWriter {
    private(set) var path: String
    private var fd: Int32
    private var pending: [[UInt8]] = [[], []]
    let maxLine = 16 * 1024

    init(path: String) throws {
        self.path = path
        fd = try syscall("open(log)", path: path) { open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640) }
    }

    /// CRI ReopenContainerLog: the file was rotated away; write to a fresh one at the same path.
    func reopen() throws {
        let newFD = try syscall("open(log)", path: path) { open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640) }
        Glibc.close(fd)
        fd = newFD
    }

    /// Feeds bytes read from stream 0 (stdout) or 1 (stderr).
    func feed(stream: Int, _ bytes: UnsafeRawBufferPointer) {
        var start = 0
        for i in 0..<bytes.count where bytes[i] == 0x0A {
            pending[stream].append(contentsOf: bytes[start..<i])
            emit(stream: stream, full: true)
            start = i + 1
        }
        if start < bytes.count { pending[stream].append(contentsOf: bytes[start..<bytes.count]) }
        while pending[stream].count >= maxLine {
            let rest = Array(pending[stream][maxLine...])
            pending[stream].removeSubrange(maxLine...)
            emit(stream: stream, full: false)
            pending[stream] = rest
        }
    }

    /// End of a stream: an unterminated last line is written as a full line.
    func finish(stream: Int) {
        if !pending[stream].isEmpty { emit(stream: stream, full: true) }
    }

    private func emit(stream: Int, full: Bool) {
        var line = WallClock.rfc3339Nano(WallClock.nanos())
        line.append(contentsOf: stream == 0 ? Array(" stdout ".utf8) : Array(" stderr ".utf8))
        line.append(full ? 70 : 80)
        line.append(32)
        line.append(contentsOf: pending[stream])
        line.append(0x0A)
        pending[stream].removeAll(keepingCapacity: true)
        line.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }

    func close() { Glibc.close(fd) }
}
