"""StickBench as a benchmark dataset: Parquet files that hold the suite exactly, the dataset card's configs, eval.yaml."""

import pytest
import yaml

pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (stickeval[publish]) is not installed")

from stickeval.data.publish import data_file, read_benchmark, suite_from_table, write_benchmark  # noqa: E402
from stickeval.data.stickbench import load_suite  # noqa: E402
from stickeval.errors import BenchmarkError  # noqa: E402

LIMIT = 6


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    directory = tmp_path_factory.mktemp("stickbench")
    return directory, write_benchmark(directory, ("quick",), limit=LIMIT)


def test_the_files_are_one_parquet_per_split_a_card_and_eval_yaml(published):
    directory, files = published
    assert files == [data_file("quick", "train"), data_file("quick", "test"), "README.md", "eval.yaml"]
    assert all((directory / f).is_file() for f in files)
    assert not [p for p in directory.rglob(".*")]  # no temporary file left by the atomic writes


@pytest.mark.parametrize("split, limit", [("test", LIMIT), ("train", None)])
def test_the_parquet_rows_are_the_suite_bit_for_bit(published, split, limit):
    directory, _ = published
    table = pq.read_table(directory / data_file("quick", split))
    suite = load_suite("quick", split=split, limit=limit)
    back = suite_from_table(table, name=suite.name, version=suite.version)
    assert back.hash == suite.hash and len(back) == len(suite)
    assert table.schema.metadata[b"stickeval.hash"] == suite.hash.encode()
    assert table.column_names == ["id", "prompt", "label", "motion", "actions", "length"]


def test_the_card_maps_each_split_to_its_file_and_names_the_hashes(published):
    directory, _ = published
    text = (directory / "README.md").read_text()
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["configs"] == [
        {
            "config_name": "quick",
            "default": True,
            "data_files": [{"split": "train", "path": data_file("quick", "train")}, {"split": "test", "path": data_file("quick", "test")}],
        }
    ]
    assert load_suite("quick", limit=LIMIT).hash in text and f"first {LIMIT} samples" in text


def test_eval_yaml_declares_stickeval_one_task_per_suite_and_the_metric_directions(published):
    directory, _ = published
    document = yaml.safe_load((directory / "eval.yaml").read_text())
    assert document["evaluation_framework"] == "stickeval"
    assert document["tasks"] == [{"id": "quick", "config": "quick", "split": "test"}]
    assert {m["id"]: m["higher_is_better"] for m in document["metrics"]}["pose_mse"] is False
    benchmark = read_benchmark((directory / "eval.yaml").read_text(), "org/sb")
    assert benchmark.tasks["stickbench-quick"].hash == load_suite("quick", limit=LIMIT).hash
    assert benchmark.tasks["stickbench-quick"].n == LIMIT


def test_the_datasets_library_reads_the_published_directory(published):
    datasets = pytest.importorskip("datasets", reason="the datasets library is not installed (the dev extra installs it)")
    directory, _ = published
    loaded = datasets.load_dataset(str(directory), "quick")
    assert loaded["test"].num_rows == LIMIT and loaded["test"][0]["id"] == load_suite("quick", limit=LIMIT).ids[0]
    assert len(loaded["test"][0]["motion"]) == 250 and len(loaded["test"][0]["motion"][0]) == 20


def test_an_unknown_size_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(BenchmarkError, match="Unknown StickBench size.*huge.*--size quick or --size standard"):
        write_benchmark(tmp_path / "out", ("quick", "huge"))
    assert not (tmp_path / "out").exists()


def test_a_suites_task_id_is_its_stickbench_size_and_other_suites_have_none():
    from stickeval.data.publish import task_id_of

    assert [task_id_of(name) for name in ("stickbench-quick", "stickbench-standard")] == ["quick", "standard"]
    assert [task_id_of(name) for name in ("real", "stickbench-huge", "my_data.pt")] == [None, None, None]
