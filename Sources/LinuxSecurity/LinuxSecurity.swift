/// Capabilities (libcap) and seccomp (libseccomp): the agent compiles profiles to BPF here, and
/// the container's init (C, between clone and exec) only loads the result.
public enum LinuxSecurity {}
