//! The OCI layer: references, artifacts, registry access.
