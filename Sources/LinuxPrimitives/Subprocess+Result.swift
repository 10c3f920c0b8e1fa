extension Subprocess.Result {
    /// A result made without a process: an in-process stand-in for a helper program (our own
    /// CNI plugins run inside the agent) answers in the same shape as the program would.
    public init(answering status: Subprocess.ExitStatus, stdout: [UInt8], stderr: [UInt8]) {
        self.init(status: status, stdout: stdout, stderr: stderr)
    }
}
