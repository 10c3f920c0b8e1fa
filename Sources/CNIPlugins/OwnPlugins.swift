/// Our plugins by executable name, for a runtime that runs them inside its own process
/// instead of starting `cni-plugins/<name>` (each executable is one call to `PluginMain.run`
/// with the plugin listed here under its name).
public enum OwnPlugins {
    public static let names = ["swiftlet-bridge", "swiftlet-host-local", "swiftlet-loopback", "swiftlet-portmap"]

    /// Runs the plugin called `name` as its executable would run, or nil when `name` is not one of ours.
    public static func respond(name: String, environment: [String], stdin: [UInt8], afterlife: Afterlife) -> PluginResponse? {
        switch name {
        case "swiftlet-bridge":
            return PluginMain.respond(BridgePlugin(), name: name, environment: environment, stdin: stdin, afterlife: afterlife)
        case "swiftlet-host-local":
            return PluginMain.respond(HostLocalPlugin(), name: name, environment: environment, stdin: stdin, afterlife: afterlife)
        case "swiftlet-loopback":
            return PluginMain.respond(LoopbackPlugin(), name: name, environment: environment, stdin: stdin, afterlife: afterlife)
        case "swiftlet-portmap":
            return PluginMain.respond(PortmapPlugin(), name: name, environment: environment, stdin: stdin, afterlife: afterlife)
        default:
            return nil
        }
    }
}
