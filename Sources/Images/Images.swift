/// OCI content store, image import (oci-layout, docker-archive), registry pull, safe layer
/// unpack, and the overlay lower-dir stack a container's rootfs is made of.
public enum Images {}
