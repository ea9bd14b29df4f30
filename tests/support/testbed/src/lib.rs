//! Kubernetes API emulator and Flux controller simulator.
