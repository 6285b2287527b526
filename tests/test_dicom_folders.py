"""A head CT folder exactly as a scanner exports it (issue 21, item 1): suffix-less JPEG
lossless files without SeriesDescription, five series (localizers, a 5 mm and a 2.5 mm axial
series, a coronal and a sagittal reformat each holding one image of another orientation).
Before: run, eval and predict --pairs stopped on "mixed slice orientations", source.series
took one UID and was applied after every series had been checked, eval and predict could
not choose, predict translated all 36 files, and no command listed the series."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pydicom")

from tests.dicom_fixtures import scanner_export  # noqa: E402
from tests.test_ct import TINY  # noqa: E402
from tests.test_predict import make_checkpoint  # noqa: E402

RUN_SETS = (*TINY, "data.load_size=32", "data.crop_size=32", "data.val_fraction=0.2", "data.test_fraction=0.2")
LOCALIZERS = "left out 1 localizer series: series 1 (2 images: localizer images, not slices)"
REFORMATS = ("left out 2 derived or reformatted series (used with source.include_derived = true, or when named in "
             "source.series / --series): series 4 (8 images: DERIVED\\SECONDARY\\REFORMATTED, coronal); series 5 "
             "(8 images: DERIVED\\SECONDARY\\REFORMATTED, sagittal)")


@pytest.fixture
def cli(cli):
    """``i2i`` in-process, each call a new process as far as lines printed once are concerned."""
    from i2i.data.source import said

    def invoke(*args):
        said.clear()
        return cli(*args)

    return invoke


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scanner") / "export"
    return folder, scanner_export(folder)


@pytest.fixture(scope="module")
def ct_model(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("model") / "run", cin=1, cout=1, depth=3,
                           sets=('task.name="ct_sparse_view"',))


#: The line ``i2i predict`` with a CT model begins with: what it takes its files to be.
TAKES = "inputs are taken as a parallel-beam FBP"


def lines(output: str, export_folder) -> list[str]:
    """The ``i2i:`` lines of ``output`` without that prefix and ``EXPORT_FOLDER: ``, less the one
    line in which ``predict`` says what it takes its inputs to be (checked where it is said)."""
    return [line.split(": ", 2)[-1].removeprefix(f"{export_folder}: ") for line in output.splitlines()
            if line.startswith("i2i: ") and TAKES not in line]


def test_the_series_command_lists_all_five_and_says_which_are_used(export, cli):
    folder, files = export
    result = cli("series", folder, "--json")
    assert result.exit_code == 0, result.output
    rows = {row["number"]: row for row in json.loads(result.output)}
    assert sorted(rows) == [1, 2, 3, 4, 5]
    assert {n: (row["used"], row["images"], row["left_out"], row["orientation"]) for n, row in rows.items()} == {
        1: (False, 2, 0, "coronal"), 2: (True, 6, 0, "axial"), 3: (True, 11, 0, "axial"),
        4: (False, 8, 1, "coronal"), 5: (False, 8, 1, "sagittal")}
    assert rows[1]["why_not"] == "localizer (localizer images, not slices)"
    assert rows[4]["why_not"] == "derived (DERIVED\\SECONDARY\\REFORMATTED, coronal)"
    assert (rows[2]["slice_spacing_mm"], rows[3]["slice_spacing_mm"]) == (5.0, 2.5)
    assert rows[3]["pixel_mm"] == [0.5, 0.5] and rows[3]["size"] == [32, 32]
    assert rows[3]["transfer_syntax"] == "JPEGLosslessSV1" and rows[3]["description"] == ""
    assert rows[3]["uid"] == __import__("pydicom").dcmread(files[3][0]).SeriesInstanceUID
    text = cli("series", folder, "--series", "4")
    assert text.exit_code == 0, text.output
    table = text.output.splitlines()
    assert table[0] == f"{folder}: 5 series, 1 used" and "number  uid" in table[1] and len(table) == 7
    assert table[5].split()[0] == "4" and table[5].endswith("yes") and "8 (+1 unlike)" in table[5]
    assert table[2].endswith("no: not named by --series")


@pytest.mark.slow
def test_run_eval_and_predict_work_on_the_export_and_skip_one_line_per_kind(export, tmp_path, cli):
    folder, files = export
    run = tmp_path / "run"
    result = cli("run", "recipes/medical_ct.toml", "--out", run, f"--set=data.root={folder}",
                 *(f"--set={s}" for s in RUN_SETS))
    assert result.exit_code == 0, result.output
    said = lines(result.output, folder)
    assert said[:2] == [LOCALIZERS, REFORMATS]
    assert said[2] == ("source.min_body_fraction = 0.05: left out the slices with less than 5% of their pixels above "
                       "-500 HU (air at a scan's ends): 1 of 11 in export series 3")  # item 2, per volume
    assert said[3].startswith("data: one group ('export': one volume or patient) left to split") and len(said) == 4
    assert (run / "eval.json").is_file()

    result = cli("eval", run, "--data", folder, "--out", tmp_path / "all.json", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert lines(result.output, folder)[:2] == [LOCALIZERS, REFORMATS]
    assert json.loads((tmp_path / "all.json").read_text())["images"] == 6 + 10  # both axial series, the air slice out
    result = cli("eval", run, "--data", folder, "--series", "2", "--out", tmp_path / "five.json", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "five.json").read_text())["images"] == 6 and "left out" not in result.output

    result = cli("predict", run, folder, "--out", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert lines(result.output, folder) == [LOCALIZERS, REFORMATS] and result.output.count(TAKES) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{p.name}.dcm" for p in files[2] + files[3])

    result = cli("predict", run, folder, "--pairs", "--out", tmp_path / "pairs", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "pairs").iterdir())) == 16


def test_series_chooses_one_or_several_by_number_uid_or_glob_and_names_what_it_cannot_use(export, tmp_path, cli,
                                                                                        ct_model):
    folder, files = export
    result = cli("predict", ct_model, folder, "--series", "4", "--out", tmp_path / "coronal", "--device", "cpu")
    assert result.exit_code == 0, result.output  # a named reformat is used; its axial reference image is not
    assert [line.split(f" in {folder}: ")[-1] for line in lines(result.output, folder)] == [
        "left out 1 image(s) unlike the rest of the series (I28: axial orientation in a coronal series)"]
    assert len(list((tmp_path / "coronal").iterdir())) == 8

    from i2i.plugins import get_plugins

    uid = __import__("pydicom").dcmread(files[2][0]).SeriesInstanceUID
    both = get_plugins()["sources"].build("ct", {"series": [uid, 3]}, root=str(folder)).dataset("train")
    assert len(both) == 6 + 10
    with pytest.raises(Exception, match=r"source.series = 1 names series 1 \(.*\) in .*export, which cannot be used: "
                                        r"localizer images, not slices"):
        get_plugins()["sources"].build("ct", {"series": 1}, root=str(folder)).dataset("train")
    result = cli("predict", ct_model, folder, "--series", "7", "--out", tmp_path / "none", "--device", "cpu")
    assert result.exit_code == 2 and "--series = '7': " in result.output and "no series has that " \
        "SeriesInstanceUID, SeriesNumber or a SeriesDescription matching it" in result.output
    assert "Traceback" not in result.output


def test_include_derived_uses_the_reformats_without_their_odd_images(export):
    from i2i.plugins import get_plugins

    folder, _ = export
    dataset = get_plugins()["sources"].build("ct", {"include_derived": True}, root=str(folder)).dataset("train")
    assert len(dataset) == 6 + 10 + 8 + 8
    assert not any(path.split("#")[0] in ("I28", "I37") for path in dataset.relative_paths)
    volume = dataset.entries[0].volume  # what the headers say about the scan, for other components to read
    assert (volume.patient, volume.study, volume.body_part, volume.study_description) == (
        "TEST-001", "1.2.3.4", "HEAD", "CT HEAD W/O")
