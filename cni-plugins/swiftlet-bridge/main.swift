// CNI plugin executable: all logic lives in the CNIPlugins library (Foundation-free, so the
// process starts in well under a millisecond of loading).
import CNIPlugins

PluginMain.run(BridgePlugin(), name: "swiftlet-bridge")
