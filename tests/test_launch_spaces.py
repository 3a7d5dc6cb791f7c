"""`python -m launch.spaces`: describe / sample / encode / decode, on fixture rows and every space."""

import json
import subprocess
import sys

import pytest

from jaxcodesign import paths
from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.spaces import SPACE_NAMES, get_space
from launch import spaces as cli


def _protran_lines(fixtures_dir, n):
  with open(fixtures_dir / "protran" / "measurements.jsonl") as fh:
    return [next(fh) for _ in range(n)]


def test_encode_and_decode_fixture_rows(fixtures_dir, tmp_path):
  lines = _protran_lines(fixtures_dir, 25)
  rows = [json.loads(x) for x in lines]
  src = tmp_path / "in.jsonl"
  src.write_text("".join(lines))
  enc = cli.run("flexibert2", encode=str(src))
  assert [o["embedding"] for o in enc] == [r["embedding"] for r in rows]
  assert [o["hash"] for o in enc] == [r["hash"] for r in rows]
  assert all(len(o["features"]) == 264 for o in enc)
  dec = cli.run("flexibert2", decode=str(src))
  assert [o["model_dict"] for o in dec] == [r["model_dict"] for r in rows]


def test_describe_and_sample():
  (d,) = cli.run("flexibert2", describe=True)
  assert d["size"] == get_space("flexibert2").size() and d["embedding_dim"] == 37
  assert d["parameters"]["op_types"][0] == "sa_sdp"
  a = cli.run("flexibert2", sample=4, seed=11)
  assert a == cli.run("flexibert2", sample=4, seed=11) and len(a) == 4
  assert a != cli.run("flexibert2", sample=4, seed=12)
  space = get_space("flexibert2")
  assert all(space.validate(o["model_dict"]) == o["model_dict"] for o in a)
  r = cli.run("flexibert2", restrict='{"layers": [2], "hidden": [16, 32], "heads": [2, 4], "custom_values": true}', sample=5, seed=0)
  assert all(o["model_dict"]["l"] == 2 and set(o["model_dict"]["h"]) <= {16, 32} for o in r)
  json.dumps(a + r)  # JSON-able


def test_bad_input(tmp_path):
  src = tmp_path / "bad.jsonl"
  src.write_text('{"model_dict": {"l": 2, "o": [], "h": [], "f": []}}\n')
  with pytest.raises(SpaceError):
    cli.run("flexibert2", encode=str(src))
  src.write_text('{"foo": 1}\n')
  with pytest.raises(ConfigError, match="model_dict"):
    cli.run("flexibert2", encode=str(src))
  with pytest.raises(ConfigError, match="embedding"):
    cli.run("flexibert2", decode=str(src))
  with pytest.raises(ConfigError, match="exactly one"):
    cli.run("flexibert2", describe=True, sample=2)


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_every_registered_space_round_trips(name, tmp_path):
  space = get_space(name)
  key = cli.point_key(space)
  pts = cli.run(name, sample=3, seed=1)
  assert len(pts) == 3 and all(key in o for o in pts)
  src = tmp_path / "pts.jsonl"
  src.write_text("".join(json.dumps(o) + "\n" for o in pts))
  enc = cli.run(name, encode=str(src))
  assert all(len(o["features"]) == space.feature_dim for o in enc)
  if enc[0]["embedding"] is not None:
    src.write_text("".join(json.dumps({"embedding": o["embedding"]}) + "\n" for o in enc))
    dec = cli.run(name, decode=str(src))
    # the embedding round-trips; the point itself may not (e.g. the 12-value accelerator embedding
    # carries no non-linearity), so only encode(decode(e)) == e is asserted for every space
    for o, e in zip(dec, enc):
      assert space.encode(o[key]).tolist() == e["embedding"]
      assert space.is_valid(o[key])


def test_command_line_subprocess(fixtures_dir, tmp_path):
  src = tmp_path / "in.jsonl"
  src.write_text("".join(_protran_lines(fixtures_dir, 3)))
  proc = subprocess.run([sys.executable, "-m", "launch.spaces", "--space=flexibert2", f"--decode={src}"],
                        capture_output=True, text=True, cwd=paths.PROJECT_ROOT, timeout=120, check=False)
  assert proc.returncode == 0, proc.stderr
  out = [json.loads(x) for x in proc.stdout.splitlines()]
  assert [o["model_dict"] for o in out] == [json.loads(x)["model_dict"] for x in src.read_text().splitlines()]
  bad = subprocess.run([sys.executable, "-m", "launch.spaces", "--space=flexibert2", "--sample=1",
                        "--method=bogus"], capture_output=True, text=True, cwd=paths.PROJECT_ROOT,
                       timeout=120, check=False)
  assert bad.returncode == 2 and "method" in bad.stderr


@pytest.mark.parametrize("args,field", [
    (["--space=elector", "--sample=-3"], "'sample'"),
    (["--space=flexibert2", "--restrict={\"layers\": [3]}", "--sample=1"], "'layers'"),
    (["--space=flexibert2", "--restrict={\"layer\": [2]}", "--sample=1"], "'layer'"),
    (["--space=flexibert2", "--restrict={layers", "--sample=1"], "'restrict'"),
    (["--space=flexibert2", "--encode=/nonexistent.jsonl"], "/nonexistent.jsonl"),
    (["--space=nospace", "--describe"], "--space"),
])
def test_errors_are_one_line_and_exit_2(args, field):
  proc = subprocess.run([sys.executable, "-m", "launch.spaces", *args], capture_output=True, text=True,
                        timeout=600)
  assert proc.returncode == 2 and proc.stdout == ""
  lines = [l for l in proc.stderr.splitlines() if l.startswith("launch.spaces: error:")]
  assert len(lines) == 1 and field in lines[0], proc.stderr
  assert "Traceback" not in proc.stderr and "USAGE" not in proc.stderr
