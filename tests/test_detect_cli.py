"""`posekit detect`: person boxes of unlabeled images as a COCO JSON that the semi-supervised
unlabeled dataset reads as one sample per box (the real RTMDet-nano detector on LSPET images)."""
import json

from posekit.cli import main
from posekit.data.datasets import UnlabeledDataset
from posekit.data.readers import read_coco, read_lspet


def test_detect_writes_boxes_the_unlabeled_dataset_crops(lspet_root, weights_root, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    names = sorted(p.name for p in (lspet_root / "images").iterdir())[:6]
    for name in names:
        (folder / name).symlink_to(lspet_root / "images" / name)
    out = tmp_path / "boxes.json"
    assert main(["detect", str(folder), "--detector", str(weights_root / "rtmdet_nano_person_end2end.onnx"),
                 "--out", str(out), "--max-per-image", "1", "--threads", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["images"] == 6 and 1 <= summary["boxes"] <= 6
    data = read_coco(out, folder, "lsp14")
    assert [r.file_name.split("/")[-1] for r in data.records] == names
    # Each box overlaps the labelled person of its LSPET image (labels used only to check here).
    truth = {r.file_name.split("/")[-1]: r.persons[0] for r in read_lspet(lspet_root).records[:6]}
    for record in data.records:
        assert len(record.persons) <= 1
        for person in record.persons:
            x, y, w, h = person.bbox
            assert 0 <= x and 0 <= y and x + w <= record.width and y + h <= record.height
            kx, ky, kw, kh = truth[record.file_name.split("/")[-1]].bbox
            assert x < kx + kw and kx < x + w and y < ky + kh and ky < y + h
    dataset = UnlabeledDataset(data, (64, 96))
    assert len(dataset) == sum(max(1, len(r.persons)) for r in data.records)
    assert dataset[0]["image_easy"].shape == (3, 96, 64)


def test_detect_names_a_missing_detector(tmp_path, lspet_root, capsys):
    assert main(["detect", str(lspet_root / "images" / "im00001.jpg"), "--detector", str(tmp_path / "nano.onnx"),
                 "--out", str(tmp_path / "b.json")]) == 2
    assert "nano.onnx: person detector ONNX file not found" in capsys.readouterr().err
    assert not (tmp_path / "b.json").exists()
