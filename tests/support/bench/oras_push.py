"""Push a directory with oras-py (the `oras` package on PyPI), for `make bench`.

usage: python oras_push.py HOST REPOSITORY TAG DIR [KEY=VALUE ...]

oras-py packs a directory as one tar+gzip layer (Python's tarfile and gzip,
compression level 9, mtimes reset) written to a temporary file, then uploads
it (HEAD, POST, monolithic PUT), the config and the manifest. The bench gives
it the media types and annotations the plugin writes, so both tools push the
same kind of artifact: one config `{}`, one tar+gzip layer, one manifest.
"""

import os
import sys
import tempfile

import oras.provider

FLUX_CONFIG = "application/vnd.cncf.flux.config.v1+json"
FLUX_LAYER = "application/vnd.cncf.flux.content.v1.tar+gzip"


def main() -> int:
    host, repository, tag, path = sys.argv[1:5]
    annotations = dict(a.split("=", 1) for a in sys.argv[5:])
    client = oras.provider.Registry(hostname=host, insecure=True)
    parent, name = os.path.split(os.path.abspath(path))
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "config.json")
        with open(config, "w", encoding="utf-8") as f:
            f.write("{}")
        os.chdir(parent)
        client.push(
            target=f"{host}/{repository}:{tag}",
            files=[f"{name}:{FLUX_LAYER}"],
            manifest_config=f"{config}:{FLUX_CONFIG}",
            manifest_annotations=annotations,
            disable_path_validation=True,
            quiet=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
