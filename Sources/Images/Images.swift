/// OCI content store, image import (oci-layout, docker-archive), registry pull, safe layer
/// unpack, and the overlay lower-dir stack a container's rootfs is made of.
///
/// Entry point: `ImageStore(rootDir:)`. The runtime uses `resolve` (or `pin` when it creates
/// a container, `unpin` when it removes one) to get an image's parsed config and its layer
/// directories for `lowerdir=`; CRI's image service maps onto `list`, `record`, `pull`,
/// `remove`; `swiftlet image` onto `importArchive`, `pull`, `list`, `remove`.
public enum Images {}
