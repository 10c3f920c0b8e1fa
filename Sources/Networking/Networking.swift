/// CNI (spec 1.1): the runtime side that runs plugins for a sandbox, and the plugin library
/// the executables in cni-plugins/ are built from.
public enum Networking {}
