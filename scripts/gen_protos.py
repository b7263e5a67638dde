"""Regenerate the Python gRPC code under layers/ from proto/ with grpc_tools.protoc.

Usage: python scripts/gen_protos.py [--out DIR]   (default: the repository root)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
HEADER = "# Generated from proto/ by scripts/gen_protos.py. Do not edit.\n"


def generate(out_dir: Path) -> list[Path]:
    """Write layers/**/*_pb2*.py(i) and __init__.py files under out_dir; return what was written."""
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        tmp_root = Path(tmp)
        for package_dir in [d for d in tmp_root.rglob("*") if d.is_dir()] + [tmp_root / "layers"]:
            (package_dir / "__init__.py").write_text(HEADER)
        written = []
        target = out_dir / "layers"
        if target.exists():
            shutil.rmtree(target)
        for src in sorted(tmp_root.rglob("*")):
            if src.is_file():
                dst = out_dir / src.relative_to(tmp_root)
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(src.read_bytes())
                written.append(dst)
        return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="directory that receives layers/")
    args = parser.parse_args()
    files = generate(args.out)
    print(f"generated {len(files)} files under {args.out / 'layers'}", file=sys.stderr)


if __name__ == "__main__":
    main()
