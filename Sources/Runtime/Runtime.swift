/// Pod sandboxes and containers behind a CRI-shaped API, supervised by one swiftlet-shim per pod.
public enum Runtime {}
