"""`stickeval bench`, run through the real entry point on a tiny checkpoint on the CPU."""

import json

from stickeval.throughput import BenchResult
from tests.fixtures.checkpoints import build_tiny_checkpoint


def test_bench_json_prints_and_writes_the_same_document(run_cli, tmp_path):
    tiny_ckpt = build_tiny_checkpoint(tmp_path / "ckpt", metadata={"encoder": "hash"})
    out = tmp_path / "bench.json"
    result = run_cli(
        "bench", tiny_ckpt, "--device", "cpu", "--frames", "8", "--prompts", "4", "--baseline-prompts", "1", "--json", "-o", out
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc == json.loads(out.read_text())
    assert doc["variant"] == str(tiny_ckpt) and doc["frames"] == 8 and doc["n_prompts"] == 4
    assert set(doc) == {"variant", *BenchResult.__dataclass_fields__}
    assert doc["sequences_per_second"] > 0 and doc["peak_tflops"] is None
